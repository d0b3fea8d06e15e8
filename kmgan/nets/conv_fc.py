"""The GMAN report's "regular GAN": convolutions, then fully connected output.

Xu et al. (UCSD GMAN report, sections 3 and 4.2) compare DCGAN-style networks
with a control "GAN" whose networks "contain several convolutional layers,
but they have only fully connected layers near the output", with "3
convolutional layers and 1 fully connected layer", LeakyReLU with slope 0.2
and batch normalization, "for both discriminator and generator models". Their
experiments use these nets at 32x32 (MNIST resized, CIFAR-10); 28x28 is also
supported here.

Choices made where the report is silent (it gives no layer sizes):

* Generator: z -> Dense(s*s*4bf) -> BN -> LeakyReLU -> Reshape(s, s, 4bf)
  with s = H/4, then 3 stride-1 `Conv2D` layers (4bf, 2bf, bf channels, each
  with BN and LeakyReLU), Flatten, and `Dense(H*W*C, tanh)` reshaped to the
  image. The convolutions stay at quarter resolution and the output Dense
  layer does the spatial expansion: that is what makes it "fully connected
  near the output", and it keeps the output layer's size reasonable
  (s*s*bf x H*W*C weights, 2.5M for 28x28x1 and 12.6M for 32x32x3 with
  bf=64). Upsampling inside the convolutional trunk instead would put a
  full-resolution feature map in front of the Dense layer (39M weights for
  28x28x1 at bf=64).
* Discriminator: 3 stride-2 `Conv2D` layers (bf, 2bf, 4bf; LeakyReLU 0.2;
  BN on the second and third, not on the layer that sees the image, as in
  DCGAN), Flatten, one fully connected hidden layer of 16*bf units (1024 at
  bf=64; BN, LeakyReLU 0.2), then `Dense(1)` logits. This is the familiar
  conv-then-FC discriminator (InfoGAN, Chen et al. 2016) and counts as the
  report's "3 convolutional layers and 1 fully connected layer" with the
  logit as the output unit. Without the hidden layer (`hidden_units=()`) the
  network would coincide with `dcgan_discriminator(depth=3)` at 32x32 (a
  DCGAN discriminator also ends in Flatten + one output unit), so the
  report's GAN/DCGAN comparison would compare identical discriminators; the
  hidden layer is what puts fully connected layers "near the output".
* Weights N(0, 0.02) as in the DCGAN nets, so the two families differ only
  in architecture.

The discriminator returns raw logits of shape (batch, 1).
"""

import keras
from keras import layers

from kmgan.checks import check_dropout
from kmgan.checks import check_positive_int
from kmgan.checks import check_units
from kmgan.nets.blocks import SeedStream
from kmgan.nets.blocks import dcgan_kernel_init
from kmgan.nets.blocks import leaky_block
from kmgan.nets.dcgan import discriminator_blocks
from kmgan.nets.shapes import check_image_shape

#: Image sizes the conv+FC nets support (the report's 32x32, plus MNIST's 28).
CONV_FC_SIZES = (28, 32)

#: Number of convolutional layers (GMAN report, section 4.2).
N_CONV = 3


def _bn_dense(units, seeds, name):
    """A Dense layer without bias (a batch norm follows), N(0, 0.02) weights."""
    return layers.Dense(
        units, use_bias=False, kernel_initializer=dcgan_kernel_init(seeds), name=name
    )


def conv_fc_generator(
    latent_dim=100,
    image_shape=(28, 28, 1),
    base_filters=64,
    kernel_size=3,
    name="conv_fc_generator",
    seed=None,
):
    """Build the GMAN report's "regular GAN" generator (conv, then FC output).

    z -> Dense -> BN -> LeakyReLU(0.2) -> Reshape to (H/4, W/4, 4bf) -> three
    stride-1 `Conv2D` layers (4bf, 2bf, bf channels) with BN and
    LeakyReLU(0.2) -> Flatten -> `Dense(H*W*C, tanh)` -> Reshape to the image.
    See the module docstring for why the convolutions stay at quarter
    resolution.

    Args:
        latent_dim: Size of the latent vector z.
        image_shape: (28, 28, C) or (32, 32, C) with C in {1, 3}.
        base_filters: bf, the channels of the last convolutional layer.
        kernel_size: Kernel size of the convolutions.
        name: Model name.
        seed: Optional int seeding every initializer; None draws from the
            global RNG.

    Returns:
        A functional `keras.Model` mapping z of shape (batch, latent_dim) to
        images of shape (batch, *image_shape) in [-1, 1].

    Raises:
        ValueError: If `image_shape` is unsupported or a size argument is
            not a positive integer.
    """
    image_shape = check_image_shape(image_shape, CONV_FC_SIZES)
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    base_filters = check_positive_int(base_filters, "base_filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    seeds = SeedStream(seed)

    height, width, channels = image_shape
    side = height // 4
    z = keras.Input(shape=(latent_dim,), name="z")
    x = leaky_block(z, _bn_dense(side * side * 4 * base_filters, seeds, "project"), seeds)
    x = layers.Reshape((side, side, 4 * base_filters), name="reshape")(x)
    for i, mult in enumerate((4, 2, 1)[:N_CONV]):
        conv = layers.Conv2D(
            mult * base_filters,
            kernel_size,
            padding="same",
            use_bias=False,
            kernel_initializer=dcgan_kernel_init(seeds),
            name=f"conv{i + 1}",
        )
        x = leaky_block(x, conv, seeds)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(
        height * width * channels,
        activation="tanh",
        kernel_initializer=dcgan_kernel_init(seeds),
        name="fc_out",
    )(x)
    image = layers.Reshape(image_shape, name="image")(x)
    return keras.Model(z, image, name=name)


def conv_fc_discriminator(
    image_shape=(28, 28, 1),
    base_filters=64,
    hidden_units=None,
    dropout=0.0,
    kernel_size=4,
    name="conv_fc_discriminator",
    seed=None,
):
    """Build the GMAN report's "regular GAN" discriminator (conv, then FC).

    Three stride-2 `Conv2D` layers (bf, 2bf, 4bf channels) with
    LeakyReLU(0.2), BN on the second and third, optional Dropout, then
    Flatten, fully connected hidden layers `Dense(u)` + BN + LeakyReLU(0.2)
    (by default one of 16 * base_filters units), and a `Dense(1)` producing
    raw logits. See the module docstring for why the hidden layer is there.

    Args:
        image_shape: (28, 28, C) or (32, 32, C) with C in {1, 3}.
        base_filters: bf, the channels of the first convolution.
        hidden_units: Int or sequence of ints: widths of the fully connected
            hidden layers before the logit; None (default) for one layer of
            `16 * base_filters` units; `()` for none.
        dropout: Dropout rate after each convolutional and hidden layer, in
            [0, 1); 0 adds no Dropout layer.
        kernel_size: Convolution kernel size.
        name: Model name.
        seed: Optional int seeding every initializer; None draws from the
            global RNG.

    Returns:
        A functional `keras.Model` mapping images of shape
        (batch, *image_shape) to logits of shape (batch, 1).

    Raises:
        ValueError: If `image_shape` is unsupported or another argument is
            invalid.
    """
    image_shape = check_image_shape(image_shape, CONV_FC_SIZES)
    base_filters = check_positive_int(base_filters, "base_filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    if hidden_units is None:
        hidden_units = (16 * base_filters,)
    hidden_units = check_units(hidden_units)
    dropout = check_dropout(dropout)
    seeds = SeedStream(seed)

    image = keras.Input(shape=image_shape, name="image")
    x = discriminator_blocks(image, N_CONV, base_filters, kernel_size, dropout, seeds)
    x = layers.Flatten(name="flatten")(x)
    for j, units in enumerate(hidden_units):
        x = leaky_block(x, _bn_dense(units, seeds, f"fc{j + 1}"), seeds, dropout=dropout)
    logits = layers.Dense(1, kernel_initializer=dcgan_kernel_init(seeds), name="logits")(x)
    return keras.Model(image, logits, name=name)
