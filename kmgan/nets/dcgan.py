"""DCGAN generator and discriminator (Radford, Metz & Chintala 2015).

The architecture guidelines of the paper, as implemented here:

* strided convolutions instead of pooling (stride-2 `Conv2D` in the
  discriminator, stride-2 `Conv2DTranspose` in the generator);
* BatchNormalization in the generator (all blocks but the output) and in the
  discriminator (all blocks but the first, which sees the image);
* ReLU in the generator with a tanh output, LeakyReLU(0.2) in the
  discriminator;
* no fully connected hidden layers: the generator's first layer is a
  projection of z reshaped to a small feature map, the discriminator's last
  layer flattens the final feature map into a single output;
* weights drawn from N(0, 0.02) (BatchNormalization gamma from N(1, 0.02)).

Feature-map layouts (bf = `base_filters`, C = image channels):

    28x28xC  G: 7x7x2bf -> 14x14xbf -> 28x28xC
             D: 28 -> 14x14xbf -> 7x7x2bf -> Dense(1)
    32x32xC  G: 4x4x4bf -> 8x8x2bf -> 16x16xbf -> 32x32xC
             D: 32 -> 16 (bf) -> 8 (2bf) -> 4 (4bf) -> Dense(1)
    64x64xC  G: 4x4x8bf -> 8x8x4bf -> 16x16x2bf -> 32x32xbf -> 64x64xC
             D: 64 -> 32 (bf) -> 16 (2bf) -> 8 (4bf) -> 4 (8bf) -> Dense(1)

The discriminator returns raw logits of shape (batch, 1); the games' losses
apply the sigmoid.
"""

import math

import keras
from keras import layers

from kmgan.checks import check_dropout
from kmgan.checks import check_positive_int
from kmgan.nets.blocks import SeedStream
from kmgan.nets.blocks import dcgan_kernel_init
from kmgan.nets.blocks import leaky_block
from kmgan.nets.blocks import relu_block
from kmgan.nets.shapes import SUPPORTED_SPATIAL
from kmgan.nets.shapes import check_image_shape

#: Default number of stride-2 blocks of the discriminator, by image size
#: (the mirror image of the generator's upsampling path).
DEFAULT_D_DEPTH = {28: 2, 32: 3, 64: 4}

#: The widest discriminator block has at most this many times `base_filters`
#: channels (the 8x of Radford et al.'s 64x64 discriminator).
MAX_FILTER_MULTIPLIER = 8


def _n_upsamplings(size):
    return int(round(math.log2(size // SUPPORTED_SPATIAL[size])))


def max_discriminator_depth(image_shape):
    """Largest `depth` `dcgan_discriminator` accepts for an image shape.

    The stride-2 blocks use "same" padding, so each one maps a side of n
    pixels to ceil(n / 2); the deepest allowed stack still ends on a feature
    map of at least 2x2 (28 -> 14 -> 7 -> 4 -> 2 gives 4 for 28x28; 4 for
    32x32; 5 for 64x64).

    Args:
        image_shape: A supported `(height, width, channels)`.

    Returns:
        The maximum depth, an int.
    """
    size = check_image_shape(image_shape)[0]
    depth = 0
    while math.ceil(size / 2) >= 2:
        size = math.ceil(size / 2)
        depth += 1
    return depth


def dcgan_generator(
    latent_dim=100,
    image_shape=(28, 28, 1),
    base_filters=64,
    kernel_size=4,
    name="dcgan_generator",
    seed=None,
):
    """Build the DCGAN generator of Radford et al. (2015).

    z -> Dense (no bias) -> BatchNorm -> ReLU -> Reshape to a small feature
    map, then stride-2 `Conv2DTranspose` blocks (BatchNorm + ReLU) halving
    the channels while doubling the side, and a final stride-2
    `Conv2DTranspose` to `image_shape[-1]` channels with tanh. Layouts:
    (28, 28, C): 7 -> 14 -> 28; (32, 32, C): 4 -> 8 -> 16 -> 32;
    (64, 64, C): 4 -> 8 -> 16 -> 32 -> 64. The last hidden block has
    `base_filters` channels and each earlier one twice the next (so
    `base_filters=128` with 64x64 images gives the paper's 1024-512-256-128).

    Args:
        latent_dim: Size of the latent vector z (the model's input shape is
            `(latent_dim,)`).
        image_shape: Output image shape; one of (28, 28, C), (32, 32, C),
            (64, 64, C) with C in {1, 3}.
        base_filters: Channels of the last hidden block.
        kernel_size: Kernel size of the transposed convolutions (4 as in the
            common DCGAN implementations; the paper's code used 5).
        name: Model name.
        seed: Optional int seeding every initializer (reproducible weights
            independent of Keras' global RNG); None draws from the global RNG.

    Returns:
        A functional `keras.Model` mapping z of shape (batch, latent_dim) to
        images of shape (batch, *image_shape) in [-1, 1].

    Raises:
        ValueError: If `image_shape` is unsupported or a size argument is
            not a positive integer.
    """
    image_shape = check_image_shape(image_shape)
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    base_filters = check_positive_int(base_filters, "base_filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    seeds = SeedStream(seed)

    z = keras.Input(shape=(latent_dim,), name="z")
    image = generator_layers(z, image_shape, base_filters, kernel_size, seeds)
    return keras.Model(z, image, name=name)


def generator_layout(image_shape, base_filters):
    """The sizes of the DCGAN generator for a checked image shape.

    Args:
        image_shape: A checked `(height, width, channels)`.
        base_filters: Channels of the last hidden block.

    Returns:
        `(start, n_up, filters)`: the side of the projection's feature map,
        the number of stride-2 transposed convolutions (the output layer
        included) and the channels of the projection's feature map.
    """
    size = image_shape[0]
    n_up = _n_upsamplings(size)
    return SUPPORTED_SPATIAL[size], n_up, base_filters * 2 ** (n_up - 1)


def up_conv(filters, kernel_size, seeds, name, conv=None, **kwargs):
    """A stride-2 "same" transposed convolution with N(0, 0.02) weights.

    Args:
        filters: Output channels.
        kernel_size: Kernel size.
        seeds: A `SeedStream` (one seed, the kernel initializer's).
        name: Layer name.
        conv: Optional `conv(filters, kernel_size, **kwargs)` building the
            layer (default `keras.layers.Conv2DTranspose`).
        **kwargs: More layer arguments (`use_bias`, `activation`, ...).

    Returns:
        The layer.
    """
    conv = layers.Conv2DTranspose if conv is None else conv
    return conv(
        filters,
        kernel_size,
        strides=2,
        padding="same",
        kernel_initializer=dcgan_kernel_init(seeds),
        name=name,
        **kwargs,
    )


def generator_projection(inputs, start, filters, seeds, prefix="", center=True, dense=None):
    """The DCGAN generator's stem: Dense (no bias) -> BN -> ReLU -> Reshape.

    Layers "<prefix>project", "<prefix>project_bn", "<prefix>project_relu"
    and "<prefix>reshape" map `inputs` to a (start, start, filters) map.

    Args:
        inputs: What the projection layer is called on (z, or z with a
            label code, or `[z, generator]` for a `MultiDense`).
        start, filters: The feature map's side and channels.
        seeds: A `SeedStream`.
        prefix: Prefix of the layer names.
        center: The batch norm's offset (see `dcgan_batch_norm`).
        dense: Optional `dense(units, **kwargs)` building the projection
            (default `keras.layers.Dense`).

    Returns:
        The feature map tensor.
    """
    dense = layers.Dense if dense is None else dense
    project = dense(
        start * start * filters,
        use_bias=False,
        kernel_initializer=dcgan_kernel_init(seeds),
        name=f"{prefix}project",
    )
    x = relu_block(inputs, project, seeds, center=center)
    return layers.Reshape((start, start, filters), name=f"{prefix}reshape")(x)


def generator_blocks(x, filters, kernel_size, seeds, blocks, prefix="", center=True, conv=None):
    """The DCGAN generator's hidden blocks "<prefix>up{i}" for i in `blocks`.

    Each block is a stride-2 transposed convolution (no bias) to half the
    channels of its input, batch norm and ReLU (`relu_block`).

    Args:
        x: Input feature map with `filters` channels.
        filters: Its channels.
        kernel_size: Transposed-convolution kernel size.
        seeds: A `SeedStream`.
        blocks: The block numbers, e.g. `range(1, n_up)`.
        prefix: Prefix of the layer names.
        center: The batch norms' offset (see `dcgan_batch_norm`).
        conv: Optional layer builder, as `up_conv`'s.

    Returns:
        `(x, filters)`: the last block's output and its channels.
    """
    for i in blocks:
        filters //= 2
        layer = up_conv(filters, kernel_size, seeds, f"{prefix}up{i}", conv, use_bias=False)
        x = relu_block(x, layer, seeds, center=center)
    return x, filters


def generator_layers(x, image_shape, base_filters, kernel_size, seeds):
    """The layers of `dcgan_generator` after its input, on `x`.

    Args:
        x: What the projection reads (z, or z with a label code).
        image_shape: A checked output image shape.
        base_filters, kernel_size: Checked sizes, as `dcgan_generator`'s.
        seeds: A `SeedStream`.

    Returns:
        The image tensor, in [-1, 1].
    """
    start, n_up, filters = generator_layout(image_shape, base_filters)
    x = generator_projection(x, start, filters, seeds)
    x, _ = generator_blocks(x, filters, kernel_size, seeds, range(1, n_up))
    return up_conv(image_shape[-1], kernel_size, seeds, "image", activation="tanh")(x)


def discriminator_depth(image_shape, depth=None):
    """The checked number of stride-2 blocks of a DCGAN discriminator.

    Args:
        image_shape: a checked image shape.
        depth: None (the generator's mirror) or an int in [1, max depth].

    Returns:
        The depth, an int.
    """
    max_depth = max_discriminator_depth(image_shape)
    depth = check_positive_int(DEFAULT_D_DEPTH[image_shape[0]] if depth is None else depth, "depth")
    if depth > max_depth:
        raise ValueError(
            f"`depth` must be between 1 and {max_depth} for image_shape {image_shape}, got {depth}."
        )
    return depth


def discriminator_blocks(
    x, depth, base_filters, kernel_size, dropout, seeds, conv=None, seed_dropout=False
):
    """The DCGAN discriminator's `depth` stride-2 conv blocks on `x`.

    Block i: conv with `base_filters * min(2**i, 8)` filters (bias on block 0
    only), batch norm from block 1 on, LeakyReLU(0.2), optional dropout.
    Layer names and the order seeds are drawn in are the same for every
    caller, so plain, stacked and shared-trunk discriminators initialise
    alike.

    Args:
        x: input tensor.
        depth, base_filters, kernel_size, dropout: checked sizes.
        seeds: a `SeedStream`.
        conv: optional `conv(i, filters, kernel_size, **kwargs)` building
            block i's convolution (default `keras.layers.Conv2D`).
        seed_dropout: draw the dropout layers' seeds from `seeds` (the
            conditional discriminator's; the others' dropout is unseeded).

    Returns:
        The output of the last block.
    """
    for i in range(depth):
        filters = base_filters * min(2**i, MAX_FILTER_MULTIPLIER)
        kwargs = dict(
            strides=2,
            padding="same",
            use_bias=(i == 0),
            kernel_initializer=dcgan_kernel_init(seeds),
            name=f"conv{i + 1}",
        )
        if conv is None:
            layer = layers.Conv2D(filters, kernel_size, **kwargs)
        else:
            layer = conv(i, filters, kernel_size, **kwargs)
        x = leaky_block(x, layer, seeds, i > 0, dropout, seed_dropout)
    return x


def dcgan_discriminator(
    image_shape=(28, 28, 1),
    base_filters=64,
    dropout=0.0,
    kernel_size=4,
    depth=None,
    name="dcgan_discriminator",
    seed=None,
):
    """Build the DCGAN discriminator of Radford et al. (2015).

    `depth` stride-2 `Conv2D` blocks with LeakyReLU(0.2), BatchNorm on every
    block but the first, optional Dropout after each block, then Flatten and
    a `Dense(1)` producing raw logits (no sigmoid). Block i (from 0) has
    `base_filters * min(2**i, 8)` channels.

    Args:
        image_shape: Input image shape; one of (28, 28, C), (32, 32, C),
            (64, 64, C) with C in {1, 3}.
        base_filters: Channels of the first block.
        dropout: Dropout rate after each block, in [0, 1); 0 adds no Dropout
            layer.
        kernel_size: Convolution kernel size (4 or 5 are usual).
        depth: Number of stride-2 blocks; None uses the mirror of the
            generator (2 for 28x28, 3 for 32x32, 4 for 64x64). At most
            `max_discriminator_depth(image_shape)`.
        name: Model name.
        seed: Optional int seeding every initializer; None draws from the
            global RNG.

    Returns:
        A functional `keras.Model` mapping images of shape
        (batch, *image_shape) to logits of shape (batch, 1).

    Raises:
        ValueError: If `image_shape` is unsupported, `depth` is out of range,
            or another argument is invalid.
    """
    image_shape = check_image_shape(image_shape)
    base_filters = check_positive_int(base_filters, "base_filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    dropout = check_dropout(dropout)
    depth = discriminator_depth(image_shape, depth)
    seeds = SeedStream(seed)

    image = keras.Input(shape=image_shape, name="image")
    x = discriminator_blocks(image, depth, base_filters, kernel_size, dropout, seeds)
    x = layers.Flatten(name="flatten")(x)
    logits = layers.Dense(1, kernel_initializer=dcgan_kernel_init(seeds), name="logits")(x)
    return keras.Model(image, logits, name=name)
