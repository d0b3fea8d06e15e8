"""Multi-generator networks: K generators in one batched model, shared-trunk heads.

Every multi-generator here is ONE functional `keras.Model` with two inputs,
`z` of shape (latent_dim,) and `generator` of shape (K,) (a one-hot row
saying which of the K generators makes each example), and one output, the
sample. One call runs all K generators in one batched pass:

* MGAN (Hoang et al. 2018): the K generators differ only in their first
  layer. `MultiDense` holds the K first layers as one kernel of shape
  (K, d, units); each example goes through its own generator's slice in a
  single matrix product, and every later layer is one shared layer
  (batch norm with `center=False`, the paper's fix for dying ReLUs).
* MAD-GAN (Ghosh et al. 2018): the K generators share their early layers
  and differ in the last. The last layer is one layer with K times the
  output channels; `SelectGenerator` keeps each example's own slice.
* Independent generators (`unshared="all"`, MLPs only): every layer is a
  `MultiDense`; to train K independent image generators pass a list of K
  models to the game instead.

Discriminators:

* `mgan_discriminator` / `mgan_mlp_discriminator`: the discriminator D and
  the classifier C share every layer but their output heads; the model
  returns `[d_logit (1,), c_logits]`, with K classifier logits (general and
  one-vs-all JSD) or K(K-1)/2 (pairwise JSD). The classifier head is the
  layer named "classifier".
* `madgan_discriminator` / `madgan_mlp_discriminator`: one network with K+1
  logits (softmax classes 0..K-1: "made by G_k"; class K: real).

MEGAN's experts and gating network are in `kmgan.nets.megan`.

The custom layers (`MultiDense`, `SelectGenerator`, and the samplers'
`UniformChoice` / `GumbelChoice`) are in `kmgan.layers`, registered with
`keras.saving` (package "kmgan"), so every model here saves to `.keras` and
reloads with `safe_mode=True` on TensorFlow and JAX once `kmgan` is
imported; they are importable from here as before.
"""

from functools import partial

import keras
from keras import layers

from kmgan.checks import check_positive_int
from kmgan.checks import check_units
from kmgan.layers.choice import GumbelChoice
from kmgan.layers.choice import SelectGenerator
from kmgan.layers.choice import UniformChoice
from kmgan.layers.dense_slices import GroupedDense
from kmgan.layers.dense_slices import MultiDense
from kmgan.layers.slices import stacked_initializer
from kmgan.nets.blocks import BN_EPSILON
from kmgan.nets.blocks import BN_MOMENTUM
from kmgan.nets.blocks import SeedStream
from kmgan.nets.blocks import dcgan_kernel_init
from kmgan.nets.dcgan import discriminator_blocks
from kmgan.nets.dcgan import discriminator_depth
from kmgan.nets.dcgan import generator_blocks
from kmgan.nets.dcgan import generator_layout
from kmgan.nets.dcgan import generator_projection
from kmgan.nets.dcgan import up_conv
from kmgan.nets.mlp import mlp_trunk
from kmgan.nets.shapes import check_image_shape

MGAN_VARIANTS = ("general", "one_vs_all", "pairwise")
UNSHARED = ("first", "last", "all")

__all__ = [
    # MGAN (Hoang et al. 2018)
    "MGAN_VARIANTS",
    "mgan_generator",
    "mgan_discriminator",
    "mgan_mlp_generator",
    "mgan_mlp_discriminator",
    "classifier_outputs",
    # MAD-GAN (Ghosh et al. 2018)
    "madgan_generator",
    "madgan_discriminator",
    "madgan_mlp_generator",
    "madgan_mlp_discriminator",
    # K generators in one model
    "UNSHARED",
    "multi_dcgan_generator",
    "multi_mlp_generator",
    # kmgan.layers, importable from here as before
    "GroupedDense",
    "GumbelChoice",
    "MultiDense",
    "SelectGenerator",
    "UniformChoice",
    "stacked_initializer",
]


# --------------------------------------------------------------------------
# Generators


def _check_unshared(unshared, allowed=UNSHARED):
    if unshared not in allowed:
        raise ValueError(f"unshared must be one of {allowed}, got {unshared!r}.")
    return unshared


def multi_dcgan_generator(
    num_generators,
    latent_dim=100,
    image_shape=(32, 32, 3),
    base_filters=64,
    kernel_size=4,
    unshared="first",
    batch_norm_center=True,
    name="multi_generator",
    seed=None,
    unshared_layers=1,
):
    """K DCGAN generators in one model, sharing all but the first or last layers.

    The layout is `kmgan.nets.dcgan_generator`'s (projection of z to a small
    feature map, stride-2 transposed convolutions with batch norm and ReLU,
    tanh output); weights from N(0, 0.02).

    Args:
        num_generators: K.
        latent_dim: size of z.
        image_shape: (28, 28, C), (32, 32, C) or (64, 64, C), C in {1, 3}.
        base_filters: channels of the last hidden block.
        kernel_size: transposed-convolution kernel size.
        unshared: "first" (MGAN: K first layers, i.e. the projection of z,
            everything after shared) or "last" (MAD-GAN: shared up to the
            last transposed convolution, K output layers).
        batch_norm_center: the batch norms' offset (MGAN fixes it at zero:
            False).
        name: model name.
        seed: optional int seeding every initializer.
        unshared_layers: with unshared="last", how many of the last layers
            each generator has of its own (1: only the output layer; up to
            the number of transposed convolutions, the projection of z
            always shared). With more than 1, every example runs through
            all K branches (their own transposed convolutions and batch
            norms) and keeps its generator's image, so the branches cost K
            times their single-generator compute.

    Returns:
        `keras.Model` with inputs `[z (latent_dim,), generator (K,) one-hot]`
        and output images (batch, *image_shape) in [-1, 1].
    """
    k = check_positive_int(num_generators, "num_generators")
    image_shape = check_image_shape(image_shape)
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    base_filters = check_positive_int(base_filters, "base_filters")
    _check_unshared(unshared, ("first", "last"))
    seeds = SeedStream(seed)
    size, _, channels = image_shape
    start, n_up, filters = generator_layout(image_shape, base_filters)
    unshared_layers = check_positive_int(unshared_layers, "unshared_layers")
    if unshared_layers > 1 and unshared != "last":
        raise ValueError("unshared_layers > 1 needs unshared='last'.")
    if unshared_layers > n_up:
        raise ValueError(
            f"unshared_layers must be between 1 and {n_up} (the transposed "
            f"convolutions of a {size}x{size} generator); got {unshared_layers}."
        )

    z = keras.Input((latent_dim,), name="z")
    gen = keras.Input((k,), name="generator")
    # MGAN: the projection of z is K-fold, each example through its own.
    inputs, dense = ([z, gen], partial(MultiDense, k)) if unshared == "first" else (z, None)
    x = generator_projection(inputs, start, filters, seeds, center=batch_norm_center, dense=dense)
    first = n_up - unshared_layers + 1  # the first block each generator has of its own
    x, filters = generator_blocks(
        x, filters, kernel_size, seeds, range(1, first), center=batch_norm_center
    )
    if unshared_layers > 1:
        x = _branched_heads(
            x, gen, k, range(first, n_up), filters, channels, kernel_size, batch_norm_center, seeds
        )
        return keras.Model([z, gen], x, name=name)
    out_channels = channels if unshared == "first" else k * channels
    x = up_conv(out_channels, kernel_size, seeds, "image_logits")(x)
    if unshared == "last":
        x = layers.Reshape((size, size, k, channels), name="heads")(x)
        x = SelectGenerator(axis=-2, name="select")([x, gen])
    image = layers.Activation("tanh", name="image")(x)
    return keras.Model([z, gen], image, name=name)


def _branched_heads(x, gen, k, blocks, filters, channels, kernel_size, center, seeds):
    """K branches of the blocks `blocks` and the output layer on the shared
    map `x`; each example keeps its own generator's image."""
    images = []
    for g in range(k):
        h, _ = generator_blocks(
            x, filters, kernel_size, seeds, blocks, prefix=f"g{g}_", center=center
        )
        h = up_conv(channels, kernel_size, seeds, f"g{g}_image_logits")(h)
        images.append(layers.Reshape((1,) + tuple(h.shape[1:]), name=f"g{g}_expand")(h))
    stacked = layers.Concatenate(axis=1, name="heads")(images)
    x = SelectGenerator(axis=1, name="select")([stacked, gen])
    return layers.Activation("tanh", name="image")(x)


def mgan_generator(
    num_generators=10,
    latent_dim=100,
    image_shape=(32, 32, 3),
    base_filters=64,
    kernel_size=4,
    name="mgan_generator",
    seed=None,
):
    """MGAN's K DCGAN generators: K first layers, the rest shared, BN offset 0.

    See `multi_dcgan_generator` (unshared="first", batch_norm_center=False).
    """
    return multi_dcgan_generator(
        num_generators,
        latent_dim,
        image_shape,
        base_filters,
        kernel_size,
        unshared="first",
        batch_norm_center=False,
        name=name,
        seed=seed,
    )


def madgan_generator(
    num_generators=3,
    latent_dim=100,
    image_shape=(28, 28, 1),
    base_filters=64,
    kernel_size=4,
    name="madgan_generator",
    seed=None,
    unshared_layers=1,
):
    """MAD-GAN's K DCGAN generators: shared early layers, K heads.

    See `multi_dcgan_generator` (unshared="last"); `unshared_layers` is how
    many of the last layers each generator owns (1: the output layer).
    """
    return multi_dcgan_generator(
        num_generators,
        latent_dim,
        image_shape,
        base_filters,
        kernel_size,
        unshared="last",
        batch_norm_center=True,
        name=name,
        seed=seed,
        unshared_layers=unshared_layers,
    )


def multi_mlp_generator(
    num_generators,
    latent_dim=2,
    output_dim=2,
    hidden_units=(128, 128),
    unshared="first",
    activation="relu",
    batch_norm=False,
    batch_norm_center=True,
    name="multi_mlp_generator",
    seed=None,
):
    """K MLP generators for toy data in one batched model.

    z -> hidden layers -> linear output of size `output_dim`. `unshared`
    picks which layers are K-fold (`MultiDense`) and which are shared:
    "first" (MGAN: the input-to-first-hidden layer), "last" (MAD-GAN: the
    output layer) or "all" (K independent generators, every layer K-fold).

    Args:
        num_generators: K.
        latent_dim: size of z.
        output_dim: dimension of a sample.
        hidden_units: hidden widths (at least one).
        unshared: "first", "last" or "all".
        activation: hidden activation.
        batch_norm: batch norm after each hidden layer (shared across
            generators, as MGAN's).
        batch_norm_center: the batch norms' offset.
        name: model name.
        seed: optional int seeding every initializer.

    Returns:
        `keras.Model` with inputs `[z, generator (K,) one-hot]` and output
        (batch, output_dim).
    """
    k = check_positive_int(num_generators, "num_generators")
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    output_dim = check_positive_int(output_dim, "output_dim")
    hidden_units = check_units(hidden_units)
    if not hidden_units:
        raise ValueError("multi_mlp_generator needs at least one hidden layer.")
    _check_unshared(unshared)
    seeds = SeedStream(seed)
    n_layers = len(hidden_units) + 1

    def dense(i, units, act, name):
        init = keras.initializers.GlorotUniform(seed=seeds())
        multi = (
            unshared == "all"
            or (unshared == "first" and i == 0)
            or (unshared == "last" and i == n_layers - 1)
        )
        if multi:
            return lambda x: MultiDense(
                k, units, activation=act, kernel_initializer=init, name=name
            )([x, gen])
        return layers.Dense(units, activation=act, kernel_initializer=init, name=name)

    z = keras.Input((latent_dim,), name="z")
    gen = keras.Input((k,), name="generator")
    x = z
    for i, units in enumerate(hidden_units):
        x = dense(i, units, None if batch_norm else activation, f"dense{i + 1}")(x)
        if batch_norm:
            x = layers.BatchNormalization(
                momentum=BN_MOMENTUM,
                epsilon=BN_EPSILON,
                center=batch_norm_center,
                name=f"dense{i + 1}_bn",
            )(x)
            x = layers.Activation(activation, name=f"dense{i + 1}_act")(x)
    out = dense(n_layers - 1, output_dim, None, "sample")(x)
    return keras.Model([z, gen], out, name=name)


def mgan_mlp_generator(
    num_generators=4,
    latent_dim=128,
    output_dim=2,
    hidden_units=(128, 128),
    name="mgan_mlp_generator",
    seed=None,
):
    """MGAN's toy generators (section 5.1): two hidden layers of 128 ReLU
    units, z of 128 dims, separate input-to-first-hidden weights, the rest
    shared."""
    return multi_mlp_generator(
        num_generators, latent_dim, output_dim, hidden_units, unshared="first", name=name, seed=seed
    )


def madgan_mlp_generator(
    num_generators=4,
    latent_dim=128,
    output_dim=2,
    hidden_units=(128, 128),
    name="madgan_mlp_generator",
    seed=None,
):
    """MAD-GAN toy generators: shared hidden layers, K output layers."""
    return multi_mlp_generator(
        num_generators, latent_dim, output_dim, hidden_units, unshared="last", name=name, seed=seed
    )


# --------------------------------------------------------------------------
# Discriminators


def classifier_outputs(num_generators, variant="general"):
    """Number of classifier logits of an MGAN variant.

    general: K (softmax); one_vs_all: K (K binary classifiers); pairwise:
    K(K-1)/2 (one binary classifier per pair i < j).
    """
    k = check_positive_int(num_generators, "num_generators")
    if variant not in MGAN_VARIANTS:
        raise ValueError(f"variant must be one of {MGAN_VARIANTS}, got {variant!r}.")
    if variant != "general" and k < 2:
        raise ValueError(f"The {variant} variant needs K >= 2 generators.")
    return k * (k - 1) // 2 if variant == "pairwise" else k


def _dcgan_trunk(image_shape, base_filters, kernel_size, depth, seeds):
    """The image input and the flattened output of a DCGAN discriminator's
    blocks (no dropout): the layers D and C share."""
    image_shape = check_image_shape(image_shape)
    depth = discriminator_depth(image_shape, depth)
    base_filters = check_positive_int(base_filters, "base_filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    image = keras.Input(image_shape, name="image")
    x = discriminator_blocks(image, depth, base_filters, kernel_size, 0.0, seeds)
    return image, layers.Flatten(name="flatten")(x)


def _mlp_trunk(input_dim, hidden_units, seeds):
    """The input and hidden layers of an MLP discriminator (no dropout)."""
    inp = keras.Input((check_positive_int(input_dim, "input_dim"),), name="x")
    return inp, mlp_trunk(inp, check_units(hidden_units), seeds)


def mgan_discriminator(
    num_generators=10,
    image_shape=(32, 32, 3),
    base_filters=64,
    kernel_size=4,
    depth=None,
    variant="general",
    name="mgan_discriminator",
    seed=None,
):
    """MGAN's D and C: one DCGAN trunk, a D head (1 logit) and a C head.

    Returns:
        `keras.Model` image -> `[d_logit (batch, 1), c_logits (batch, M)]`
        with M = `classifier_outputs(K, variant)`; the C head is the layer
        named "classifier", the D head "discriminator".
    """
    m = classifier_outputs(num_generators, variant)
    seeds = SeedStream(seed)
    image, h = _dcgan_trunk(image_shape, base_filters, kernel_size, depth, seeds)
    d = layers.Dense(1, kernel_initializer=dcgan_kernel_init(seeds), name="discriminator")(h)
    c = layers.Dense(m, kernel_initializer=dcgan_kernel_init(seeds), name="classifier")(h)
    return keras.Model(image, [d, c], name=name)


def mgan_mlp_discriminator(
    num_generators=4,
    input_dim=2,
    hidden_units=(128,),
    variant="general",
    name="mgan_mlp_discriminator",
    seed=None,
):
    """MGAN's toy D and C (section 5.1: one hidden layer of 128 units),
    sharing the trunk; outputs `[d_logit, c_logits]`."""
    m = classifier_outputs(num_generators, variant)
    seeds = SeedStream(seed)
    inp, h = _mlp_trunk(input_dim, hidden_units, seeds)
    glorot = keras.initializers.GlorotUniform
    d = layers.Dense(1, kernel_initializer=glorot(seed=seeds()), name="discriminator")(h)
    c = layers.Dense(m, kernel_initializer=glorot(seed=seeds()), name="classifier")(h)
    return keras.Model(inp, [d, c], name=name)


def madgan_discriminator(
    num_generators=3,
    image_shape=(28, 28, 1),
    base_filters=64,
    kernel_size=4,
    depth=None,
    name="madgan_discriminator",
    seed=None,
):
    """MAD-GAN's D: a DCGAN trunk with K+1 logits (class K is "real")."""
    k = check_positive_int(num_generators, "num_generators")
    seeds = SeedStream(seed)
    image, h = _dcgan_trunk(image_shape, base_filters, kernel_size, depth, seeds)
    logits = layers.Dense(k + 1, kernel_initializer=dcgan_kernel_init(seeds), name="logits")(h)
    return keras.Model(image, logits, name=name)


def madgan_mlp_discriminator(
    num_generators=4,
    input_dim=2,
    hidden_units=(128, 128),
    name="madgan_mlp_discriminator",
    seed=None,
):
    """MAD-GAN's D for toy data: an MLP with K+1 logits (class K is "real")."""
    k = check_positive_int(num_generators, "num_generators")
    seeds = SeedStream(seed)
    inp, h = _mlp_trunk(input_dim, hidden_units, seeds)
    logits = layers.Dense(
        k + 1, kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()), name="logits"
    )(h)
    return keras.Model(inp, logits, name=name)
