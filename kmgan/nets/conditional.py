"""Conditional DCGAN players: G(z, y) and D(x, y) with label embeddings.

The conditional GAN of Mirza & Osindero (2014) feeds the class label y to
both players. Here, in the DCGAN layouts of `kmgan.nets.dcgan`:

* the generator embeds y (`Embedding(num_classes, embedding_dim)`),
  concatenates it with z and continues as the DCGAN generator
  (project -> BN -> ReLU -> stride-2 transposed convolutions -> tanh).
  The label codes start at about unit norm, the norm of the one-hot y of
  Mirza & Osindero: codes of norm sqrt(embedding_dim) (N(0, 1) entries)
  make G map each class to one image and ignore z (see
  `conditional_generator`);
* the discriminator embeds y into one extra image-sized channel
  (`Embedding(num_classes, H*W)` reshaped to (H, W, 1)), concatenates it
  with the image and continues as the DCGAN discriminator (stride-2
  convolutions, LeakyReLU(0.2), BN on all blocks but the first, Dense(1)
  logit).

Both are built from stock Keras layers only, so a saved conditional generator
reloads with `keras.saving.load_model(path, safe_mode=True)` without any
registration. Inputs are named "z" / "image" and "labels"; labels are int32
of shape (batch,).
"""

import keras
from keras import layers

from kmgan.checks import check_dropout
from kmgan.checks import check_positive_int
from kmgan.nets.blocks import SeedStream
from kmgan.nets.blocks import dcgan_kernel_init
from kmgan.nets.dcgan import discriminator_blocks
from kmgan.nets.dcgan import discriminator_depth
from kmgan.nets.dcgan import generator_layers
from kmgan.nets.shapes import check_image_shape


def conditional_generator(
    num_classes,
    latent_dim=100,
    image_shape=(28, 28, 1),
    embedding_dim=50,
    base_filters=64,
    kernel_size=4,
    name="conditional_generator",
    seed=None,
):
    """A conditional DCGAN generator G(z, y).

    Args:
        num_classes: number of classes y can take.
        latent_dim: size of z.
        image_shape: (28, 28, C), (32, 32, C) or (64, 64, C) with C in {1, 3}.
        embedding_dim: size of the label embedding concatenated with z.
        base_filters: channels of the last hidden block (as `dcgan_generator`).
        kernel_size: transposed-convolution kernel size.
        name: model name.
        seed: optional int seeding every initializer.

    Returns:
        A functional `keras.Model` with inputs `[z (batch, latent_dim),
        labels (batch,) int32]` and images in [-1, 1] as output.
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
    base_filters = check_positive_int(base_filters, "base_filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    image_shape = check_image_shape(image_shape)
    seeds = SeedStream(seed)

    z = keras.Input((latent_dim,), name="z")
    y = keras.Input((), dtype="int32", name="labels")
    # Label codes of about unit norm, the scale of a one-hot y. With N(0, 1)
    # codes (norm ~7 at 50 dims) the class part of the projection outgrew
    # the z part within a few hundred steps and G drew one image per class
    # (MNIST: z moved the image 9x less than y; per-class MS-SSIM 0.97-0.99).
    e = layers.Embedding(
        num_classes,
        embedding_dim,
        embeddings_initializer=keras.initializers.RandomNormal(
            stddev=embedding_dim**-0.5, seed=seeds()
        ),
        name="label_embedding",
    )(y)
    x = layers.Concatenate(name="z_and_label")([z, e])
    image = generator_layers(x, image_shape, base_filters, kernel_size, seeds)
    return keras.Model([z, y], image, name=name)


def conditional_discriminator(
    num_classes,
    image_shape=(28, 28, 1),
    base_filters=64,
    dropout=0.0,
    kernel_size=4,
    depth=None,
    name="conditional_discriminator",
    seed=None,
):
    """A conditional DCGAN discriminator D(x, y) returning one logit.

    Args:
        num_classes: number of classes y can take.
        image_shape: (28, 28, C), (32, 32, C) or (64, 64, C) with C in {1, 3}.
        base_filters: channels of the first block.
        dropout: dropout rate after each block, in [0, 1).
        kernel_size: convolution kernel size.
        depth: number of stride-2 blocks (default: mirror of the generator;
            at most `kmgan.nets.max_discriminator_depth(image_shape)`).
        name: model name.
        seed: optional int seeding every initializer.

    Returns:
        A functional `keras.Model` with inputs `[image, labels (batch,)
        int32]` and logits (batch, 1) as output.
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    base_filters = check_positive_int(base_filters, "base_filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    dropout = check_dropout(dropout)
    image_shape = check_image_shape(image_shape)
    depth = discriminator_depth(image_shape, depth)
    seeds = SeedStream(seed)
    h, w, _ = image_shape

    image = keras.Input(image_shape, name="image")
    y = keras.Input((), dtype="int32", name="labels")
    e = layers.Embedding(
        num_classes,
        h * w,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=seeds()),
        name="label_embedding",
    )(y)
    e = layers.Reshape((h, w, 1), name="label_map")(e)
    x = layers.Concatenate(axis=-1, name="image_and_label")([image, e])
    x = discriminator_blocks(x, depth, base_filters, kernel_size, dropout, seeds, seed_dropout=True)
    x = layers.Flatten(name="flatten")(x)
    logit = layers.Dense(1, kernel_initializer=dcgan_kernel_init(seeds), name="logit")(x)
    return keras.Model([image, y], logit, name=name)
