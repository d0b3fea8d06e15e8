"""A plain PyTorch (eager) DCGAN / GMAN step: the peer `recipes/benchmark.py` times.

It stands for the papers' own code (DCGAN-style PyTorch training loops): the
same networks as `kmgan.nets.dcgan_generator` / `dcgan_discriminator`, the
same initialisation, Adam(2e-4, betas (0.5, 0.999)) for G and for each D,
and the same round as `kmgan.games.GAN` / `kmgan.games.GMAN` with the
non-saturating loss and the mean aggregator:

    fake = G(z_d)                          (no gradient; fresh z)
    each D_i descends  mean softplus(-D_i(x)) + mean softplus(D_i(fake))
                       (one backward pass of the sum over i, one Adam step each)
    G descends         mean_i mean softplus(-D_i(G(z_g)))     (fresh z)

Two forward passes of each D in the D step (real, then fake), as kmgan does:
batch-norm statistics are per batch. In the G step the discriminators'
parameters are frozen (`requires_grad_(False)`), so PyTorch computes no
gradients for D's weights there: kmgan (a `GradientTape` / `jax.grad` over
G's variables only) does not compute them either, and the two sides then do
the same work.

Layer-for-layer match with kmgan (so that the weights copy over, see
`copy_keras_generator` / `copy_keras_discriminator`):

* G: Linear(z -> s*s*F, no bias) -> BatchNorm1d(s*s*F) -> ReLU -> a
  (F, s, s) map -> [ConvTranspose2d(k=4, stride 2, "same") (no bias) ->
  BatchNorm2d -> ReLU] ... -> ConvTranspose2d(-> C, bias) -> tanh. kmgan's
  Keras Dense + BatchNormalization normalise each of the s*s*F units on its
  own (BatchNorm1d), not per channel; Keras reshapes the units to (s, s, F)
  in NHWC order, PyTorch views them as (F, s, s): the copy permutes the
  units.
* D: [Conv2d(k=4, stride 2, "same") (bias only on the first) ->
  (BatchNorm2d from the second block) -> LeakyReLU(0.2)] ... -> flatten ->
  Linear(1). Keras flattens (H, W, C), PyTorch (C, H, W): the copy permutes
  the Linear's inputs.
* Batch norm: eps 1e-5; Keras momentum 0.9 is PyTorch momentum 0.1. In
  training mode both normalise with the batch mean and the biased batch
  variance (PyTorch's running variance uses the unbiased one, which changes
  no training-mode loss).
* Kernels: Keras Conv2D (kh, kw, in, out) -> PyTorch (out, in, kh, kw);
  Keras Conv2DTranspose (kh, kw, out, in) -> PyTorch (in, out, kh, kw);
  both are `permute(3, 2, 0, 1)`, with no spatial flip. Keras "same"
  padding is PyTorch's symmetric `padding=(k - 2) // 2` for even kernels
  and stride 2; where TensorFlow would pad asymmetrically (odd sizes) the
  discriminator pads explicitly.

This module imports only torch and numpy (PyTorch is the optional `bench`
extra; kmgan itself never imports it).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: As kmgan.nets.layers: side of the generator's first feature map by image
#: size, batch-norm settings, LeakyReLU slope, widest D block multiplier.
SUPPORTED_SPATIAL = {28: 7, 32: 4, 64: 4}
DEFAULT_D_DEPTH = {28: 2, 32: 3, 64: 4}
MAX_FILTER_MULTIPLIER = 8
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.1  # PyTorch convention: Keras momentum 0.9
LEAKY_SLOPE = 0.2


def _transpose_padding(kernel_size, stride=2):
    total = kernel_size - stride
    if total < 0 or total % 2:
        raise ValueError(
            f"kernel_size {kernel_size} with stride {stride}: TensorFlow's 'same' "
            "transposed convolution pads asymmetrically there; the reference "
            "supports even kernel sizes (4, the kmgan default)."
        )
    return total // 2


def _same_padding(size, kernel_size, stride=2):
    """TensorFlow's 'same' padding of a strided convolution: (before, after)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel_size - size, 0)
    return total // 2, total - total // 2, out


class DCGANGenerator(nn.Module):
    """`kmgan.nets.dcgan_generator` in PyTorch (NCHW).

    Args:
        latent_dim: size of z.
        image_shape: (H, W, C) as in kmgan (28, 32 or 64 pixels).
        base_filters: channels of the last hidden block.
        kernel_size: transposed-convolution kernel size (even).
    """

    def __init__(self, latent_dim=100, image_shape=(32, 32, 3), base_filters=64, kernel_size=4):
        super().__init__()
        size, _, channels = (int(d) for d in image_shape)
        start = SUPPORTED_SPATIAL[size]
        n_up = int(round(math.log2(size // start)))
        filters = base_filters * 2 ** (n_up - 1)
        pad = _transpose_padding(kernel_size)
        self.latent_dim = latent_dim
        self.start, self.first_filters = start, filters
        self.project = nn.Linear(latent_dim, start * start * filters, bias=False)
        self.project_bn = nn.BatchNorm1d(
            start * start * filters, eps=BN_EPSILON, momentum=BN_MOMENTUM
        )
        blocks = []
        for _ in range(1, n_up):
            blocks += [
                nn.ConvTranspose2d(filters, filters // 2, kernel_size, 2, padding=pad, bias=False),
                nn.BatchNorm2d(filters // 2, eps=BN_EPSILON, momentum=BN_MOMENTUM),
                nn.ReLU(inplace=True),
            ]
            filters //= 2
        self.blocks = nn.Sequential(*blocks)
        self.image = nn.ConvTranspose2d(filters, channels, kernel_size, 2, padding=pad)

    def forward(self, z):
        x = F.relu(self.project_bn(self.project(z)))
        x = x.view(-1, self.first_filters, self.start, self.start)
        return torch.tanh(self.image(self.blocks(x)))


class DCGANDiscriminator(nn.Module):
    """`kmgan.nets.dcgan_discriminator` (no dropout) in PyTorch (NCHW).

    Args:
        image_shape: (H, W, C) as in kmgan.
        base_filters: channels of the first block.
        kernel_size: convolution kernel size.
        depth: stride-2 blocks (None: 2 for 28 px, 3 for 32, 4 for 64).
    """

    def __init__(self, image_shape=(32, 32, 3), base_filters=64, kernel_size=4, depth=None):
        super().__init__()
        size, _, channels = (int(d) for d in image_shape)
        depth = DEFAULT_D_DEPTH[size] if depth is None else int(depth)
        layers = []
        in_channels = channels
        for i in range(depth):
            filters = base_filters * min(2**i, MAX_FILTER_MULTIPLIER)
            before, after, size = _same_padding(size, kernel_size)
            if before == after:
                conv = nn.Conv2d(
                    in_channels, filters, kernel_size, 2, padding=before, bias=(i == 0)
                )
            else:
                layers.append(nn.ZeroPad2d((before, after, before, after)))
                conv = nn.Conv2d(in_channels, filters, kernel_size, 2, padding=0, bias=(i == 0))
            layers.append(conv)
            if i > 0:
                layers.append(nn.BatchNorm2d(filters, eps=BN_EPSILON, momentum=BN_MOMENTUM))
            layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
            in_channels = filters
        self.features = nn.Sequential(*layers)
        self.final_shape = (size, size, in_channels)  # (H, W, C) of the last map
        self.logits = nn.Linear(size * size * in_channels, 1)

    def forward(self, x):
        return self.logits(torch.flatten(self.features(x), 1))


def dcgan_init(module):
    """DCGAN initialisation, as kmgan's: weights N(0, 0.02), biases 0,
    batch-norm gamma N(1, 0.02) and beta 0. Returns `module`."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return module


# --------------------------------------------------------------------------
# Weight copy from kmgan's Keras models (NHWC) to these modules (NCHW).


def _nhwc_to_nchw_order(h, w, c):
    """perm[t] = index in a Keras (H, W, C) flattening of PyTorch's (C, H, W) index t."""
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).reshape(-1)


def _set(param, value):
    with torch.no_grad():
        param.copy_(torch.as_tensor(np.ascontiguousarray(value), dtype=param.dtype))


def _copy_bn(bn, weights, perm=None):
    gamma, beta, mean, var = weights  # Keras order: gamma, beta, moving mean, moving var
    if perm is not None:
        gamma, beta, mean, var = (a[perm] for a in (gamma, beta, mean, var))
    _set(bn.weight, gamma)
    _set(bn.bias, beta)
    _set(bn.running_mean, mean)
    _set(bn.running_var, var)


def _conv_kernel(kernel):
    return np.transpose(kernel, (3, 2, 0, 1))


def copy_keras_generator(keras_generator, torch_generator):
    """Copies a `kmgan.nets.dcgan_generator`'s weights into `DCGANGenerator`.

    `keras_generator` is any object with `get_layer(name).get_weights()`
    (the Keras model); layers are found by kmgan's names (project,
    project_bn, up1.., image).
    """
    s, f = torch_generator.start, torch_generator.first_filters
    perm = _nhwc_to_nchw_order(s, s, f)
    (kernel,) = keras_generator.get_layer("project").get_weights()
    _set(torch_generator.project.weight, kernel[:, perm].T)
    _copy_bn(
        torch_generator.project_bn, keras_generator.get_layer("project_bn").get_weights(), perm
    )
    convs = [m for m in torch_generator.blocks if isinstance(m, nn.ConvTranspose2d)]
    bns = [m for m in torch_generator.blocks if isinstance(m, nn.BatchNorm2d)]
    for i, (conv, bn) in enumerate(zip(convs, bns), start=1):
        (kernel,) = keras_generator.get_layer(f"up{i}").get_weights()
        _set(conv.weight, _conv_kernel(kernel))
        _copy_bn(bn, keras_generator.get_layer(f"up{i}_bn").get_weights())
    kernel, bias = keras_generator.get_layer("image").get_weights()
    _set(torch_generator.image.weight, _conv_kernel(kernel))
    _set(torch_generator.image.bias, bias)
    return torch_generator


def copy_keras_discriminator(keras_discriminator, torch_discriminator):
    """Copies a `kmgan.nets.dcgan_discriminator`'s weights (no dropout) into
    `DCGANDiscriminator` (layers conv1.., conv2_bn.., logits)."""
    convs = [m for m in torch_discriminator.features if isinstance(m, nn.Conv2d)]
    bns = [m for m in torch_discriminator.features if isinstance(m, nn.BatchNorm2d)]
    for i, conv in enumerate(convs, start=1):
        weights = keras_discriminator.get_layer(f"conv{i}").get_weights()
        _set(conv.weight, _conv_kernel(weights[0]))
        if conv.bias is not None:
            _set(conv.bias, weights[1])
    for i, bn in enumerate(bns, start=2):
        _copy_bn(bn, keras_discriminator.get_layer(f"conv{i}_bn").get_weights())
    perm = _nhwc_to_nchw_order(*torch_discriminator.final_shape)
    kernel, bias = keras_discriminator.get_layer("logits").get_weights()
    _set(torch_discriminator.logits.weight, kernel[perm, :].T)
    _set(torch_discriminator.logits.bias, bias)
    return torch_discriminator


# --------------------------------------------------------------------------
# The game step.


def discriminator_loss(real_logits, fake_logits):
    """Non-saturating D loss: mean softplus(-r) + mean softplus(f) (as kmgan.losses)."""
    return F.softplus(-real_logits.float()).mean() + F.softplus(fake_logits.float()).mean()


def generator_loss(fake_logits):
    """Non-saturating G loss: mean softplus(-f) = -log sigmoid(f)."""
    return F.softplus(-fake_logits.float()).mean()


class TorchGame:
    """One generator against N >= 1 discriminators (N = 1: GAN; N > 1: GMAN, mean).

    Args:
        generator: a `DCGANGenerator` (any module z -> image).
        discriminators: list of N modules image -> one logit.
        learning_rate, betas, eps: Adam settings, one Adam per player.
        device: torch device of the modules and batches.
        amp_dtype: None (float32) or a dtype for `torch.autocast` (e.g.
            torch.bfloat16, the peer of Keras' "mixed_bfloat16").
        freeze_discriminators_in_g_step: skip D's weight gradients in the
            G step (what kmgan computes; see the module docstring).
    """

    def __init__(
        self,
        generator,
        discriminators,
        learning_rate=2e-4,
        betas=(0.5, 0.999),
        eps=1e-8,
        device="cpu",
        amp_dtype=None,
        freeze_discriminators_in_g_step=True,
    ):
        self.device = torch.device(device)
        self.generator = generator.to(self.device).train()
        self.discriminators = [d.to(self.device).train() for d in discriminators]
        self.latent_dim = generator.latent_dim
        self.g_optimizer = torch.optim.Adam(
            generator.parameters(), lr=learning_rate, betas=betas, eps=eps
        )
        self.d_optimizers = [
            torch.optim.Adam(d.parameters(), lr=learning_rate, betas=betas, eps=eps)
            for d in self.discriminators
        ]
        self.amp_dtype = amp_dtype
        self.freeze = freeze_discriminators_in_g_step

    def _autocast(self):
        if self.amp_dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def sample_z(self, batch_size):
        return torch.randn(batch_size, self.latent_dim, device=self.device)

    def step(self, real, z_d=None, z_g=None):
        """One round on a real batch (NCHW tensor on `device`).

        Args:
            real: (B, C, H, W) real images in [-1, 1].
            z_d, z_g: noise of the D step and of the G step (fresh N(0, I)
                when None).

        Returns:
            `(d_loss, g_loss, d_losses)` as tensors (no host sync): the mean
            of the N discriminator losses, G's loss, and the N losses.
        """
        batch = real.shape[0]
        z_d = self.sample_z(batch) if z_d is None else z_d
        with torch.no_grad(), self._autocast():
            fake = self.generator(z_d)
        for opt in self.d_optimizers:
            opt.zero_grad(set_to_none=True)
        with self._autocast():
            d_losses = torch.stack(
                [discriminator_loss(d(real), d(fake)) for d in self.discriminators]
            )
        d_losses.sum().backward()
        for opt in self.d_optimizers:
            opt.step()

        z_g = self.sample_z(batch) if z_g is None else z_g
        if self.freeze:
            for d in self.discriminators:
                d.requires_grad_(False)
        self.g_optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            fake = self.generator(z_g)
            values = torch.stack([generator_loss(d(fake)) for d in self.discriminators])
        g_loss = values.mean()
        g_loss.backward()
        self.g_optimizer.step()
        if self.freeze:
            for d in self.discriminators:
                d.requires_grad_(True)
        return d_losses.detach().mean(), g_loss.detach(), d_losses.detach()


def build_game(
    num_discriminators=1,
    latent_dim=100,
    image_shape=(32, 32, 3),
    base_filters=64,
    kernel_size=4,
    device="cpu",
    amp_dtype=None,
    seed=0,
):
    """A `TorchGame` with freshly initialised DCGAN G and N Ds."""
    torch.manual_seed(seed)
    generator = dcgan_init(DCGANGenerator(latent_dim, image_shape, base_filters, kernel_size))
    discriminators = [
        dcgan_init(DCGANDiscriminator(image_shape, base_filters, kernel_size))
        for _ in range(num_discriminators)
    ]
    return TorchGame(generator, discriminators, device=device, amp_dtype=amp_dtype)


def nhwc_to_nchw(images):
    """A NumPy (B, H, W, C) batch as a PyTorch (B, C, H, W) float tensor."""
    return torch.from_numpy(
        np.ascontiguousarray(np.transpose(images, (0, 3, 1, 2)), dtype=np.float32)
    )
