"""SNGAN-style ResNet players for 32x32 images (ControlGAN / ScoreGAN, Table 1).

The networks of Lee & Seok's ScoreGAN (Table 1; the same as their ControlGAN
baseline), which follow the ResNet GANs of Gulrajani et al. (2017) and Miyato
et al. (2018):

    Generator                 Discriminator               Classifier
    z in R^128, label y       x in R^{32x32x3}            x in R^{32x32x3}
    Dense(4x4x256)            ResBlock down (256)         [ResBlock (32) x3,
    ResBlock up (256)  x3     ResBlock down (256)          ResBlock down (32)]
    cBN; ReLU;                ResBlock (256) x2           [... (64)], [... (128)],
    Conv(3); tanh             ReLU; GlobalPool; Dense(1)  ResBlock (128) x3
                                                          LN; ReLU; GlobalPool;
                                                          Dense(classes)

* The generator's blocks are pre-activation ResBlocks
  (cBN -> ReLU -> upsample -> conv3x3 -> cBN -> ReLU -> conv3x3, shortcut
  upsample -> conv1x1) with **conditional batch normalization** (Dumoulin et
  al. 2017; de Vries et al. 2017): per-class gamma and beta.
* Every convolution and dense layer of the discriminator is **spectrally
  normalized** (Miyato et al. 2018). Its first block is the "optimized" one
  (conv -> ReLU -> conv -> avg-pool; shortcut avg-pool -> conv1x1), the
  others ReLU -> conv -> ReLU -> conv [-> avg-pool]. The discriminator is
  unconditional and returns one raw logit.
* The classifier uses **layer normalization** with one gamma/beta per channel
  (a stock `GroupNormalization(groups=1)`, i.e. the reference
  implementations' layer norm over (H, W, C)) and returns raw logits.

The custom layers, `SpectralConv2D`, `SpectralDense` (spectral
normalization, Miyato et al. 2018) and `ConditionalBatchNormalization`, are
in `kmgan.layers` (registered under the package "kmgan", so a saved network
reloads with `keras.saving.load_model(path, safe_mode=True)` once `kmgan` is
imported); they are importable from here as before.
"""

import keras
from keras import layers

from kmgan.checks import check_positive_int
from kmgan.layers.conditional_batch_norm import CBN_EPSILON
from kmgan.layers.conditional_batch_norm import CBN_MOMENTUM
from kmgan.layers.conditional_batch_norm import ConditionalBatchNormalization
from kmgan.layers.spectral_norm import SpectralConv2D
from kmgan.layers.spectral_norm import SpectralDense
from kmgan.nets.blocks import SeedStream

__all__ = [
    "CBN_EPSILON",
    "CBN_MOMENTUM",
    "ConditionalBatchNormalization",
    "SpectralConv2D",
    "SpectralDense",
    "sngan_classifier",
    "sngan_discriminator",
    "sngan_generator",
]


def _check_square(image_shape, min_size=8):
    try:
        shape = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or shape[0] != shape[1] or shape[0] < min_size or shape[2] < 1:
        raise ValueError(
            f"image_shape must be (size, size, channels) with size >= {min_size}; "
            f"got {image_shape!r}."
        )
    return shape


def _glorot(seeds):
    return keras.initializers.GlorotUniform(seed=seeds())


def _conv(filters, kernel, seeds, name, spectral=False):
    cls = SpectralConv2D if spectral else layers.Conv2D
    kwargs = {"sn_seed": seeds()} if spectral else {}
    return cls(
        filters, kernel, padding="same", kernel_initializer=_glorot(seeds), name=name, **kwargs
    )


def sngan_generator(
    num_classes,
    latent_dim=128,
    image_shape=(32, 32, 3),
    width=256,
    num_blocks=None,
    name="sngan_generator",
    seed=None,
):
    """The conditional ResNet generator G(z, y) of Table 1.

    Args:
        num_classes: number of classes of the conditional batch norm.
        latent_dim: size of z (128 in the paper).
        image_shape: (size, size, channels); size must be divisible by
            2**num_blocks (32x32x3 in the paper).
        width: channels of every block (256 in the paper).
        num_blocks: number of upsampling ResBlocks; None picks 3 when the
            size is divisible by 8 (32 -> 4x4 start) else 2 (28 -> 7x7).
        name: model name.
        seed: optional int seeding every initializer.

    Returns:
        A functional `keras.Model` with inputs `[z (batch, latent_dim),
        labels (batch,) int32]` and output images in [-1, 1].
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    width = check_positive_int(width, "width")
    size, _, channels = _check_square(image_shape)
    if num_blocks is None:
        num_blocks = 3 if size % 8 == 0 else 2
    num_blocks = check_positive_int(num_blocks, "num_blocks")
    if size % 2**num_blocks:
        raise ValueError(f"Image size {size} is not divisible by 2**num_blocks = {2**num_blocks}.")
    start = size // 2**num_blocks
    seeds = SeedStream(seed)

    z = keras.Input((latent_dim,), name="z")
    y = keras.Input((), dtype="int32", name="labels")

    def cbn(block_name):
        return ConditionalBatchNormalization(num_classes, name=block_name)

    x = layers.Dense(start * start * width, kernel_initializer=_glorot(seeds), name="project")(z)
    x = layers.Reshape((start, start, width), name="reshape")(x)
    for i in range(1, num_blocks + 1):
        p = f"block{i}"
        shortcut = layers.UpSampling2D(2, name=f"{p}_shortcut_up")(x)
        shortcut = _conv(width, 1, seeds, f"{p}_shortcut_conv")(shortcut)
        h = cbn(f"{p}_cbn1")([x, y])
        h = layers.ReLU(name=f"{p}_relu1")(h)
        h = layers.UpSampling2D(2, name=f"{p}_up")(h)
        h = _conv(width, 3, seeds, f"{p}_conv1")(h)
        h = cbn(f"{p}_cbn2")([h, y])
        h = layers.ReLU(name=f"{p}_relu2")(h)
        h = _conv(width, 3, seeds, f"{p}_conv2")(h)
        x = layers.Add(name=f"{p}_add")([shortcut, h])
    x = cbn("out_cbn")([x, y])
    x = layers.ReLU(name="out_relu")(x)
    x = layers.Conv2D(
        channels,
        3,
        padding="same",
        activation="tanh",
        kernel_initializer=_glorot(seeds),
        name="image",
    )(x)
    return keras.Model([z, y], x, name=name)


def sngan_discriminator(
    image_shape=(32, 32, 3),
    width=256,
    name="sngan_discriminator",
    seed=None,
):
    """The unconditional spectral-norm ResNet discriminator of Table 1.

    Blocks: optimized ResBlock down, ResBlock down, ResBlock, ResBlock (all
    `width` channels), then ReLU, global average pooling and a spectral-norm
    Dense(1). Returns raw logits (the hinge loss takes them as they are).

    Args:
        image_shape: (size, size, channels), size divisible by 4.
        width: channels (256 in the paper).
        name: model name.
        seed: optional int seeding every initializer.

    Returns:
        A functional `keras.Model` mapping images to logits (batch, 1).
    """
    width = check_positive_int(width, "width")
    size, _, _ = _check_square(image_shape)
    if size % 4:
        raise ValueError(f"Image size {size} must be divisible by 4.")
    seeds = SeedStream(seed)
    image = keras.Input(tuple(image_shape), name="image")

    # Optimized first block: conv -> ReLU -> conv -> pool; pool -> conv1x1.
    shortcut = layers.AveragePooling2D(2, name="block1_shortcut_pool")(image)
    shortcut = _conv(width, 1, seeds, "block1_shortcut_conv", spectral=True)(shortcut)
    h = _conv(width, 3, seeds, "block1_conv1", spectral=True)(image)
    h = layers.ReLU(name="block1_relu")(h)
    h = _conv(width, 3, seeds, "block1_conv2", spectral=True)(h)
    h = layers.AveragePooling2D(2, name="block1_pool")(h)
    x = layers.Add(name="block1_add")([shortcut, h])

    for i, down in ((2, True), (3, False), (4, False)):
        p = f"block{i}"
        h = layers.ReLU(name=f"{p}_relu1")(x)
        h = _conv(width, 3, seeds, f"{p}_conv1", spectral=True)(h)
        h = layers.ReLU(name=f"{p}_relu2")(h)
        h = _conv(width, 3, seeds, f"{p}_conv2", spectral=True)(h)
        if down:
            h = layers.AveragePooling2D(2, name=f"{p}_pool")(h)
            shortcut = _conv(width, 1, seeds, f"{p}_shortcut_conv", spectral=True)(x)
            shortcut = layers.AveragePooling2D(2, name=f"{p}_shortcut_pool")(shortcut)
        else:
            shortcut = x
        x = layers.Add(name=f"{p}_add")([shortcut, h])
    x = layers.ReLU(name="out_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    logit = SpectralDense(1, kernel_initializer=_glorot(seeds), sn_seed=seeds(), name="logit")(x)
    return keras.Model(image, logit, name=name)


def sngan_classifier(
    num_classes,
    image_shape=(32, 32, 3),
    widths=(32, 64, 128, 128),
    blocks_per_stage=3,
    name="sngan_classifier",
    seed=None,
):
    """The layer-norm ResNet classifier of Table 1 (ControlGAN's C).

    `len(widths)` stages of `blocks_per_stage` ResBlocks; every stage but the
    last ends with a downsampling ResBlock. Table 1 (CIFAR-10) is
    `widths=(32, 64, 128, 128)`; Table 4 (CIFAR-100) `(32, 64, 128, 256)`.
    Pre-activation blocks LN -> ReLU -> conv3x3 -> LN -> ReLU -> conv3x3,
    with a conv1x1 shortcut where the width or size changes; the very first
    block sees the image directly (conv -> ReLU -> conv). Returns logits.

    Args:
        num_classes: number of classes.
        image_shape: (size, size, channels), size divisible by
            2**(len(widths) - 1).
        widths: channels of each stage.
        blocks_per_stage: ResBlocks per stage before its downsampling block.
        name: model name.
        seed: optional int seeding every initializer.

    Returns:
        A functional `keras.Model` mapping images to logits
        (batch, num_classes).
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    widths = tuple(check_positive_int(w, "widths") for w in widths)
    if not widths:
        raise ValueError("widths must name at least one stage.")
    blocks_per_stage = check_positive_int(blocks_per_stage, "blocks_per_stage")
    size, _, _ = _check_square(image_shape, min_size=2 ** (len(widths) - 1))
    if size % 2 ** (len(widths) - 1):
        raise ValueError(f"Image size {size} is not divisible by {2 ** (len(widths) - 1)}.")
    seeds = SeedStream(seed)

    def layer_norm(block_name):
        return layers.GroupNormalization(groups=1, epsilon=1e-5, name=block_name)

    image = keras.Input(tuple(image_shape), name="image")
    # First block (the reference "optimized" classifier block).
    w0 = widths[0]
    shortcut = _conv(w0, 1, seeds, "block0_shortcut_conv")(image)
    h = _conv(w0, 3, seeds, "block0_conv1")(image)
    h = layers.ReLU(name="block0_relu")(h)
    h = _conv(w0, 3, seeds, "block0_conv2")(h)
    x = layers.Add(name="block0_add")([shortcut, h])
    channels = w0

    def res_block(x, channels, out, down, p):
        h = layer_norm(f"{p}_ln1")(x)
        h = layers.ReLU(name=f"{p}_relu1")(h)
        h = _conv(out, 3, seeds, f"{p}_conv1")(h)
        h = layer_norm(f"{p}_ln2")(h)
        h = layers.ReLU(name=f"{p}_relu2")(h)
        h = _conv(out, 3, seeds, f"{p}_conv2")(h)
        shortcut = x
        if down or out != channels:
            shortcut = _conv(out, 1, seeds, f"{p}_shortcut_conv")(x)
        if down:
            h = layers.AveragePooling2D(2, name=f"{p}_pool")(h)
            shortcut = layers.AveragePooling2D(2, name=f"{p}_shortcut_pool")(shortcut)
        return layers.Add(name=f"{p}_add")([shortcut, h])

    for s, width in enumerate(widths):
        # Stage 0's first block is the optimized block above.
        for b in range(1 if s == 0 else 0, blocks_per_stage):
            x = res_block(x, channels, width, False, f"stage{s}_block{b}")
            channels = width
        if s < len(widths) - 1:
            x = res_block(x, channels, width, True, f"stage{s}_down")
    x = layer_norm("out_ln")(x)
    x = layers.ReLU(name="out_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    logits = layers.Dense(num_classes, kernel_initializer=_glorot(seeds), name="logits")(x)
    return keras.Model(image, logits, name=name)
