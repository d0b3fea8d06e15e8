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

The custom layers are registered with `keras.saving` (package "kmgan"), so
every model here saves to `.keras` and reloads with `safe_mode=True` on
TensorFlow and JAX once `kmgan` is imported.
"""

import keras
from keras import layers
from keras import ops

from kmgan.nets.dcgan import DEFAULT_D_DEPTH
from kmgan.nets.dcgan import _n_upsamplings
from kmgan.nets.dcgan import discriminator_blocks
from kmgan.nets.layers import BN_EPSILON
from kmgan.nets.layers import BN_MOMENTUM
from kmgan.nets.layers import SUPPORTED_SPATIAL
from kmgan.nets.layers import SeedStream
from kmgan.nets.layers import check_image_shape
from kmgan.nets.layers import check_positive_int
from kmgan.nets.layers import check_units
from kmgan.nets.layers import dcgan_kernel_init
from kmgan.nets.layers import leaky_relu

MGAN_VARIANTS = ("general", "one_vs_all", "pairwise")
UNSHARED = ("first", "last", "all")


# --------------------------------------------------------------------------
# Layers


def stacked_initializer(initializer):
    """Initializer of a (K, d, units) stack of K distinct (d, units) kernels.

    Each slice is drawn as a (d, units) Dense kernel (so fan-based
    initializers such as Glorot see a Dense layer's fans), with its own
    seed: a Keras initializer with a fixed seed returns the same values at
    every call, and K identical generators would start as one.
    """
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()

    def init(shape, dtype=None):
        k, d, units = shape
        if "seed" not in config:
            return ops.stack([initializer((d, units), dtype=dtype) for _ in range(k)])
        base = config["seed"]
        slices = []
        for i in range(k):
            c = dict(config)
            if isinstance(base, int):
                c["seed"] = base + 104729 * i
            slices.append(type(initializer).from_config(c)((d, units), dtype=dtype))
        return ops.stack(slices)

    return init


@keras.saving.register_keras_serializable(package="kmgan")
class MultiDense(layers.Layer):
    """K dense layers in one: each example goes through its own generator's.

    Called on `[x, generator]` with x of shape (batch, d) and `generator` a
    (batch, K) one-hot (or any weights: the output is then the weighted sum
    of the K layers' outputs). The kernel has shape (K, d, units) and the
    bias (K, units). The product is one matmul of the (batch, K*d) outer
    product of `generator` and x with the (K*d, units) kernel, so all K
    layers run in one batched pass.

    Args:
        num_generators: K.
        units: output width.
        activation: Keras activation name, applied after the selection.
        use_bias: whether each of the K layers has a bias.
        kernel_initializer, bias_initializer: initializers (of one layer's
            (d, units) kernel slice; each of the K slices is drawn apart).
    """

    def __init__(
        self,
        num_generators,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_generators = check_positive_int(num_generators, "num_generators")
        self.units = check_positive_int(units, "units")
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        d = int(input_shape[0][-1])
        self.kernel = self.add_weight(
            shape=(self.num_generators, d, self.units),
            initializer=stacked_initializer(self.kernel_initializer),
            name="kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.num_generators, self.units),
                initializer=self.bias_initializer,
                name="bias",
            )

    def call(self, inputs):
        x, gen = inputs
        gen = ops.cast(gen, x.dtype)
        k, d = self.num_generators, ops.shape(self.kernel)[1]
        outer = ops.reshape(ops.expand_dims(gen, -1) * ops.expand_dims(x, 1), (-1, k * d))
        y = ops.matmul(outer, ops.reshape(self.kernel, (k * d, self.units)))
        if self.use_bias:
            y = y + ops.matmul(gen, self.bias)
        return self.activation(y) if self.activation is not None else y

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_generators=self.num_generators,
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="kmgan")
class GroupedDense(layers.Layer):
    """K independent dense layers applied to K groups, in one einsum.

    Input (batch, K, d) -> output (batch, K, units), group k through its own
    (d, units) kernel; an input (batch, d) is shared by all K groups. Used by
    MEGAN's batched MLP experts and by the gating network's per-generator
    feature encoders.

    Args:
        num_groups: K.
        units: output width per group.
        activation: Keras activation name.
        use_bias: whether each group's layer has a bias.
        kernel_initializer, bias_initializer: initializers of one group's
            (d, units) kernel.
    """

    def __init__(
        self,
        num_groups,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_groups = check_positive_int(num_groups, "num_groups")
        self.units = check_positive_int(units, "units")
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        d = int(input_shape[-1])
        self.kernel = self.add_weight(
            shape=(self.num_groups, d, self.units),
            initializer=stacked_initializer(self.kernel_initializer),
            name="kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.num_groups, self.units),
                initializer=self.bias_initializer,
                name="bias",
            )

    def call(self, x):
        if len(x.shape) == 2:
            y = ops.einsum("bd,kdu->bku", x, self.kernel)
        else:
            y = ops.einsum("bkd,kdu->bku", x, self.kernel)
        if self.use_bias:
            y = y + self.bias
        return self.activation(y) if self.activation is not None else y

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_groups, self.units)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_groups=self.num_groups,
            units=self.units,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="kmgan")
class SelectGenerator(layers.Layer):
    """Keeps each example's own generator's slice of a stacked output.

    Called on `[stacked, generator]`: `stacked` has the K generators' outputs
    along `axis` (e.g. (batch, K, ...) with axis=1, or (batch, ..., K, C)
    with axis=-2), `generator` is a (batch, K) one-hot. Returns the sum over
    `axis` of the outputs weighted by `generator` (exactly the chosen slice
    for a one-hot; gradients reach the chosen slice and the weights).

    Args:
        axis: the generator axis of `stacked` (not the batch axis).
    """

    def __init__(self, axis=1, **kwargs):
        super().__init__(**kwargs)
        if axis == 0:
            raise ValueError("The generator axis cannot be the batch axis.")
        self.axis = int(axis)

    def call(self, inputs):
        stacked, gen = inputs
        rank = len(stacked.shape)
        axis = self.axis % rank
        gen = ops.cast(gen, stacked.dtype)
        shape = [1] * rank
        shape[0] = -1
        shape[axis] = ops.shape(gen)[-1]
        return ops.sum(stacked * ops.reshape(gen, shape), axis=axis)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape[0])
        del shape[self.axis % len(shape)]
        return tuple(shape)

    def get_config(self):
        config = super().get_config()
        config.update(axis=self.axis)
        return config


@keras.saving.register_keras_serializable(package="kmgan")
class UniformChoice(layers.Layer):
    """One-hot generator choice: the given index, or uniform at random.

    Called as `layer(z, index)` with z any (batch, ...) tensor (only its
    batch size is used) and `index` None or int (batch,): entries in
    [0, K) pick that generator; negative entries, or `index=None`, draw a
    generator uniformly at random (the mixture of MGAN and MAD-GAN).

    Args:
        num_generators: K.
        seed: seed of the layer's own noise (the random choice).
    """

    def __init__(self, num_generators, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_generators = check_positive_int(num_generators, "num_generators")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="choice_noise")

    def call(self, z, index=None):
        batch = ops.shape(z)[:1]
        random = keras.random.randint(
            batch, 0, self.num_generators, seed=self.seed_generator, dtype="int32"
        )
        return _one_hot_choice(index, random, self.num_generators)

    def compute_output_shape(self, z_shape, index_shape=None):
        return (z_shape[0], self.num_generators)

    def get_config(self):
        config = super().get_config()
        config.update(num_generators=self.num_generators, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="kmgan")
class GumbelChoice(layers.Layer):
    """One-hot generator choice: the given index, or Gumbel-max on logits.

    Called as `layer(logits, index)` with logits (batch, K). Entries of
    `index` in [0, K) pick that generator; negative entries, or
    `index=None`, pick argmax(logits + Gumbel noise): a sample from
    softmax(logits), which is what MEGAN's straight-through Gumbel-softmax
    selects in its forward pass at any temperature.

    Args:
        num_generators: K.
        seed: seed of the layer's own noise.
    """

    def __init__(self, num_generators, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_generators = check_positive_int(num_generators, "num_generators")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="choice_noise")

    def call(self, logits, index=None):
        u = keras.random.uniform(
            ops.shape(logits), minval=1e-7, maxval=1.0, seed=self.seed_generator
        )
        gumbel = -ops.log(-ops.log(u))
        random = ops.cast(ops.argmax(logits + gumbel, axis=-1), "int32")
        return _one_hot_choice(index, random, self.num_generators)

    def compute_output_shape(self, logits_shape, index_shape=None):
        return (logits_shape[0], self.num_generators)

    def get_config(self):
        config = super().get_config()
        config.update(num_generators=self.num_generators, seed=self.seed)
        return config


def _one_hot_choice(index, random, k):
    if index is None:
        chosen = random
    else:
        index = ops.cast(ops.reshape(index, (-1,)), "int32")
        chosen = ops.where(index >= 0, index, random)
    return ops.one_hot(chosen, k, dtype="float32")


# --------------------------------------------------------------------------
# Generators


def _check_unshared(unshared, allowed=UNSHARED):
    if unshared not in allowed:
        raise ValueError(f"unshared must be one of {allowed}, got {unshared!r}.")
    return unshared


def _batch_norm(seeds, center, name):
    return layers.BatchNormalization(
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        center=center,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02, seed=seeds()),
        name=name,
    )


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
):
    """K DCGAN generators in one model, sharing all but the first or last layer.

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
    start = SUPPORTED_SPATIAL[size]
    n_up = _n_upsamplings(size)
    filters = base_filters * 2 ** (n_up - 1)

    z = keras.Input((latent_dim,), name="z")
    gen = keras.Input((k,), name="generator")
    if unshared == "first":
        x = MultiDense(
            k, start * start * filters, use_bias=False,
            kernel_initializer=dcgan_kernel_init(seeds), name="project",
        )([z, gen])
    else:
        x = layers.Dense(
            start * start * filters, use_bias=False,
            kernel_initializer=dcgan_kernel_init(seeds), name="project",
        )(z)
    x = _batch_norm(seeds, batch_norm_center, "project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    x = layers.Reshape((start, start, filters), name="reshape")(x)
    for i in range(1, n_up):
        filters //= 2
        x = layers.Conv2DTranspose(
            filters, kernel_size, strides=2, padding="same", use_bias=False,
            kernel_initializer=dcgan_kernel_init(seeds), name=f"up{i}",
        )(x)
        x = _batch_norm(seeds, batch_norm_center, f"up{i}_bn")(x)
        x = layers.ReLU(name=f"up{i}_relu")(x)
    out_channels = channels if unshared == "first" else k * channels
    x = layers.Conv2DTranspose(
        out_channels, kernel_size, strides=2, padding="same",
        kernel_initializer=dcgan_kernel_init(seeds), name="image_logits",
    )(x)
    if unshared == "last":
        x = layers.Reshape((size, size, k, channels), name="heads")(x)
        x = SelectGenerator(axis=-2, name="select")([x, gen])
    image = layers.Activation("tanh", name="image")(x)
    return keras.Model([z, gen], image, name=name)


def mgan_generator(num_generators=10, latent_dim=100, image_shape=(32, 32, 3),
                   base_filters=64, kernel_size=4, name="mgan_generator", seed=None):
    """MGAN's K DCGAN generators: K first layers, the rest shared, BN offset 0.

    See `multi_dcgan_generator` (unshared="first", batch_norm_center=False).
    """
    return multi_dcgan_generator(
        num_generators, latent_dim, image_shape, base_filters, kernel_size,
        unshared="first", batch_norm_center=False, name=name, seed=seed,
    )


def madgan_generator(num_generators=3, latent_dim=100, image_shape=(28, 28, 1),
                     base_filters=64, kernel_size=4, name="madgan_generator", seed=None):
    """MAD-GAN's K DCGAN generators: shared early layers, K output layers.

    See `multi_dcgan_generator` (unshared="last").
    """
    return multi_dcgan_generator(
        num_generators, latent_dim, image_shape, base_filters, kernel_size,
        unshared="last", batch_norm_center=True, name=name, seed=seed,
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
        multi = unshared == "all" or (unshared == "first" and i == 0) or (
            unshared == "last" and i == n_layers - 1
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
                momentum=BN_MOMENTUM, epsilon=BN_EPSILON, center=batch_norm_center,
                name=f"dense{i + 1}_bn",
            )(x)
            x = layers.Activation(activation, name=f"dense{i + 1}_act")(x)
    out = dense(n_layers - 1, output_dim, None, "sample")(x)
    return keras.Model([z, gen], out, name=name)


def mgan_mlp_generator(num_generators=4, latent_dim=128, output_dim=2,
                       hidden_units=(128, 128), name="mgan_mlp_generator", seed=None):
    """MGAN's toy generators (section 5.1): two hidden layers of 128 ReLU
    units, z of 128 dims, separate input-to-first-hidden weights, the rest
    shared."""
    return multi_mlp_generator(num_generators, latent_dim, output_dim, hidden_units,
                               unshared="first", name=name, seed=seed)


def madgan_mlp_generator(num_generators=4, latent_dim=128, output_dim=2,
                         hidden_units=(128, 128), name="madgan_mlp_generator", seed=None):
    """MAD-GAN toy generators: shared hidden layers, K output layers."""
    return multi_mlp_generator(num_generators, latent_dim, output_dim, hidden_units,
                               unshared="last", name=name, seed=seed)


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


def _dcgan_trunk(image, base_filters, kernel_size, depth, seeds):
    x = discriminator_blocks(image, depth, base_filters, kernel_size, 0.0, seeds)
    return layers.Flatten(name="flatten")(x)


def _mlp_trunk(x, hidden_units, seeds):
    for i, units in enumerate(hidden_units):
        x = layers.Dense(
            units, kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()),
            name=f"dense{i + 1}",
        )(x)
        x = leaky_relu(name=f"dense{i + 1}_lrelu")(x)
    return x


def mgan_discriminator(num_generators=10, image_shape=(32, 32, 3), base_filters=64,
                       kernel_size=4, depth=None, variant="general",
                       name="mgan_discriminator", seed=None):
    """MGAN's D and C: one DCGAN trunk, a D head (1 logit) and a C head.

    Returns:
        `keras.Model` image -> `[d_logit (batch, 1), c_logits (batch, M)]`
        with M = `classifier_outputs(K, variant)`; the C head is the layer
        named "classifier", the D head "discriminator".
    """
    image_shape = check_image_shape(image_shape)
    m = classifier_outputs(num_generators, variant)
    depth = DEFAULT_D_DEPTH[image_shape[0]] if depth is None else check_positive_int(depth, "depth")
    seeds = SeedStream(seed)
    image = keras.Input(image_shape, name="image")
    h = _dcgan_trunk(image, check_positive_int(base_filters, "base_filters"),
                     check_positive_int(kernel_size, "kernel_size"), depth, seeds)
    d = layers.Dense(1, kernel_initializer=dcgan_kernel_init(seeds), name="discriminator")(h)
    c = layers.Dense(m, kernel_initializer=dcgan_kernel_init(seeds), name="classifier")(h)
    return keras.Model(image, [d, c], name=name)


def mgan_mlp_discriminator(num_generators=4, input_dim=2, hidden_units=(128,),
                           variant="general", name="mgan_mlp_discriminator", seed=None):
    """MGAN's toy D and C (section 5.1: one hidden layer of 128 units),
    sharing the trunk; outputs `[d_logit, c_logits]`."""
    m = classifier_outputs(num_generators, variant)
    seeds = SeedStream(seed)
    inp = keras.Input((check_positive_int(input_dim, "input_dim"),), name="x")
    h = _mlp_trunk(inp, check_units(hidden_units), seeds)
    glorot = keras.initializers.GlorotUniform
    d = layers.Dense(1, kernel_initializer=glorot(seed=seeds()), name="discriminator")(h)
    c = layers.Dense(m, kernel_initializer=glorot(seed=seeds()), name="classifier")(h)
    return keras.Model(inp, [d, c], name=name)


def madgan_discriminator(num_generators=3, image_shape=(28, 28, 1), base_filters=64,
                         kernel_size=4, depth=None, name="madgan_discriminator", seed=None):
    """MAD-GAN's D: a DCGAN trunk with K+1 logits (class K is "real")."""
    image_shape = check_image_shape(image_shape)
    k = check_positive_int(num_generators, "num_generators")
    depth = DEFAULT_D_DEPTH[image_shape[0]] if depth is None else check_positive_int(depth, "depth")
    seeds = SeedStream(seed)
    image = keras.Input(image_shape, name="image")
    h = _dcgan_trunk(image, check_positive_int(base_filters, "base_filters"),
                     check_positive_int(kernel_size, "kernel_size"), depth, seeds)
    logits = layers.Dense(k + 1, kernel_initializer=dcgan_kernel_init(seeds), name="logits")(h)
    return keras.Model(image, logits, name=name)


def madgan_mlp_discriminator(num_generators=4, input_dim=2, hidden_units=(128, 128),
                             name="madgan_mlp_discriminator", seed=None):
    """MAD-GAN's D for toy data: an MLP with K+1 logits (class K is "real")."""
    k = check_positive_int(num_generators, "num_generators")
    seeds = SeedStream(seed)
    inp = keras.Input((check_positive_int(input_dim, "input_dim"),), name="x")
    h = _mlp_trunk(inp, check_units(hidden_units), seeds)
    logits = layers.Dense(
        k + 1, kernel_initializer=keras.initializers.GlorotUniform(seed=seeds()), name="logits"
    )(h)
    return keras.Model(inp, logits, name=name)
