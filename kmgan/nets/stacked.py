"""Stacked discriminators: N independent discriminators of one architecture in one model.

GMAN trains N discriminators. Given as a list of N models, its training
step holds N copies of the discriminator graph (and N optimizers' worth of
update ops), so tracing and XLA compilation grow linearly with N. A stacked
discriminator is ONE functional `keras.Model` whose output is the
(batch, N) matrix of the N discriminators' logits, where every layer runs
all N at once:

* the N discriminators' feature maps lie side by side on the channel axis,
  discriminator i owning channels [i*c, (i+1)*c) of every conv layer
  (c its own width);
* the first convolution sees the shared image: N convolutions of one input
  are one ordinary `Conv2D` with N*filters outputs (no need to tile the
  image N times); every later convolution is a grouped convolution with N
  groups (`StackedConv2D`, kernel (kh, kw, c_in, N*filters), the layout of
  `Conv2D(N*filters, groups=N)`);
* batch norm over the N*c channels is exactly N independent batch norms
  (per-channel statistics and parameters); LeakyReLU and Dropout are
  element-wise;
* `StackedFlatten` flattens each discriminator's own feature map,
  (batch, h, w, N*c) -> (batch, N, h*w*c), in the order `Flatten` uses;
* `StackedDense` holds N dense layers in one kernel (N, d, units), one
  einsum for all N (an input (batch, d) is shared by the N);
* the last `StackedDense(1)` gives (batch, N, 1), reshaped to (batch, N).

`stacked_dcgan_discriminator` and `stacked_mlp_discriminator` mirror
`dcgan_discriminator` and `mlp_discriminator` (same layers, same
initializers, same layer names; each of the N slices of every kernel drawn
independently). `unstack_discriminator(model, i)` returns discriminator i
as a plain model (the one the plain builder makes, with slice i's
weights); `stack_discriminators(models)` goes the other way, from N
identical-architecture plain discriminators to one stacked model.

Grouped convolutions and speed. XLA's CPU backend has no fast grouped
convolution: the gradient with respect to a grouped kernel runs as a
generic convolution far slower than N small ones (measured on a 2-core
x86 CPU, JAX 0.10: 190 ms against 7 ms for N = 5, 16 -> 32 channels at
16x16, batch 32), and TensorFlow's CPU kernels have none at all (Keras
sends grouped convolutions through XLA there). `StackedConv2D` therefore
has three implementations of the same layer (same weights, same result):

* "grouped": one grouped convolution (`ops.conv` with N groups); GPUs
  run these natively (cuDNN), CPUs slowly (a whole GMAN-5 step ~8x slower
  than with N models, measured);
* "im2col": the kh*kw strided slices of the input make every
  discriminator's patches at once, and one batched matrix product (batch
  axis: the N discriminators) applies the N kernels. Its graph does not
  grow with N; per layer it is up to ~1.5x slower than N separate
  convolutions on a CPU, and a whole GMAN step with it runs within about
  +-15% of a GMAN step with N models (the stacked batch norms,
  activations, dense head and optimizer update make up the difference);
* "split": N convolutions on channel slices, concatenated: the fastest
  convolutions on a CPU, but the graph holds N of them per layer, so it
  compiles no faster than N models.

"auto", the default, picks "im2col" on a CPU and "grouped" on an
accelerator, when the layer is called (so a saved model follows the
machine it is loaded on). The GPU choice is not measured in this project
yet (no GPU here); pass `implementation=` to override it.

Every layer here is registered with `keras.saving` (package "kmgan"): a
stacked discriminator saves to `.keras` and reloads with `safe_mode=True`.
"""

import math

import keras
import numpy as np
from keras import layers
from keras import ops

from kmgan.nets.dcgan import discriminator_blocks
from kmgan.nets.dcgan import discriminator_depth
from kmgan.nets.layers import SeedStream
from kmgan.nets.layers import check_dropout
from kmgan.nets.layers import check_image_shape
from kmgan.nets.layers import check_positive_int
from kmgan.nets.layers import check_units
from kmgan.nets.layers import dcgan_kernel_init
from kmgan.nets.layers import leaky_relu
from kmgan.nets.multi import GroupedDense

CONV_IMPLEMENTATIONS = ("auto", "grouped", "split", "im2col")

#: Seed offset between the N slices of a seeded kernel initializer (the one
#: `kmgan.nets.multi.stacked_initializer` uses for dense kernels).
_SLICE_SEED_STRIDE = 104729

#: Weightless element-wise layers a stacked model may hold as they are.
_ELEMENTWISE = (
    layers.LeakyReLU, layers.ReLU, layers.ELU, layers.Activation, layers.Dropout,
    layers.GaussianNoise, layers.GaussianDropout, layers.Identity,
)


def _accelerator_present():
    from kmgan.engine.backend_step import accelerator_present

    return accelerator_present()


def _conv_slices_initializer(initializer, n):
    """Initializer of a (kh, kw, c_in, N*filters) kernel, slice by slice.

    Each discriminator's (kh, kw, c_in, filters) slice is drawn as a plain
    `Conv2D` kernel (so fan-based initializers see one discriminator's fans)
    with its own seed, as `stacked_initializer` draws dense slices.
    """
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()

    def init(shape, dtype=None):
        *rest, total = shape
        slice_shape = tuple(rest) + (total // n,)
        if "seed" not in config:
            return ops.concatenate([initializer(slice_shape, dtype=dtype) for _ in range(n)], axis=-1)
        base = config["seed"]
        slices = []
        for i in range(n):
            c = dict(config)
            if isinstance(base, int):
                c["seed"] = base + _SLICE_SEED_STRIDE * i
            slices.append(type(initializer).from_config(c)(slice_shape, dtype=dtype))
        return ops.concatenate(slices, axis=-1)

    return init


# --------------------------------------------------------------------------
# Layers


@keras.saving.register_keras_serializable(package="kmgan")
class StackedConv2D(layers.Layer):
    """N independent 2-D convolutions, the N inputs and outputs side by side on channels.

    Discriminator i reads input channels [i*c_in, (i+1)*c_in) and writes
    output channels [i*filters, (i+1)*filters) with its own kernel
    `kernel[..., i*filters:(i+1)*filters]` (the kernel layout of
    `keras.layers.Conv2D(N*filters, groups=N)`). With `shared_input=True`
    all N read the same input (the image): that is one ordinary convolution
    with N*filters outputs.

    Args:
        num_discriminators: N.
        filters: output channels of one discriminator.
        kernel_size, strides, padding: as `keras.layers.Conv2D`.
        use_bias: whether each convolution has a bias.
        activation: Keras activation name.
        shared_input: the N convolutions read one shared input.
        implementation: "grouped" (one grouped convolution), "im2col"
            (patches and one batched matrix product), "split" (N
            convolutions on channel slices) or "auto" ("im2col" on a CPU,
            "grouped" on an accelerator); see the module docstring.
        kernel_initializer, bias_initializer: initializers of ONE
            discriminator's kernel (kh, kw, c_in, filters) and bias; the N
            kernel slices are drawn independently.
    """

    def __init__(
        self,
        num_discriminators,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        use_bias=True,
        activation=None,
        shared_input=False,
        implementation="auto",
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_discriminators = check_positive_int(num_discriminators, "num_discriminators")
        self.filters = check_positive_int(filters, "filters")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = str(padding).lower()
        if self.padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}.")
        self.use_bias = bool(use_bias)
        self.activation = keras.activations.get(activation)
        self.shared_input = bool(shared_input)
        if implementation not in CONV_IMPLEMENTATIONS:
            raise ValueError(
                f"implementation must be one of {CONV_IMPLEMENTATIONS}, got {implementation!r}."
            )
        self.implementation = implementation
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        n = self.num_discriminators
        if self.shared_input:
            c_in = channels
        else:
            if channels % n:
                raise ValueError(
                    f"{self.name}: a stacked input has N * c channels; got {channels} "
                    f"channels for N = {n}."
                )
            c_in = channels // n
        self.kernel = self.add_weight(
            shape=self.kernel_size + (c_in, n * self.filters),
            initializer=_conv_slices_initializer(self.kernel_initializer, n),
            name="kernel",
        )
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(n * self.filters,), initializer=self.bias_initializer, name="bias"
            )

    def resolved_implementation(self):
        """The implementation a call uses now ("grouped", "im2col" or "split")."""
        if self.implementation != "auto":
            return self.implementation
        return "grouped" if _accelerator_present() else "im2col"

    def call(self, x):
        n = self.num_discriminators

        def conv(inputs, kernel):
            return ops.conv(inputs, kernel, strides=self.strides, padding=self.padding)

        implementation = self.resolved_implementation()
        if self.shared_input or n == 1 or implementation == "grouped":
            y = conv(x, self.kernel)  # ops.conv infers N groups from the kernel
        elif implementation == "im2col":
            y = self._im2col_conv(x)
        else:
            c_in, f = self.kernel.shape[-2], self.filters
            y = ops.concatenate(
                [
                    conv(x[..., i * c_in:(i + 1) * c_in], self.kernel[..., i * f:(i + 1) * f])
                    for i in range(n)
                ],
                axis=-1,
            )
        if self.use_bias:
            y = y + self.bias
        return self.activation(y) if self.activation is not None else y

    def _im2col_conv(self, x):
        """The grouped convolution as patches times kernels: kh*kw strided
        slices of the (padded) input make the patches of all N at once, and
        one batched matrix product (batch axis: the N discriminators)
        applies each discriminator's kernel to its own patches."""
        n, f = self.num_discriminators, self.filters
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        _, h, w, channels = x.shape
        c = channels // n
        if self.padding == "same":
            ho, wo = -(-h // sh), -(-w // sw)
            ph, pw = max((ho - 1) * sh + kh - h, 0), max((wo - 1) * sw + kw - w, 0)
            x = ops.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
        else:
            ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
        cols = [
            ops.reshape(
                x[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw, :], (-1, n, 1, c)
            )
            for i in range(kh)
            for j in range(kw)
        ]
        # (N, pixels, kh*kw*c): the discriminators' axis leading, as the
        # batched matrix product wants it (measured faster than an einsum
        # with the batch axis in the middle, on XLA's CPU backend)
        patches = ops.transpose(
            ops.reshape(ops.concatenate(cols, axis=2), (-1, n, kh * kw * c)), (1, 0, 2)
        )
        # kernel (kh, kw, c, N*f) -> (N, kh*kw*c, f), rows in the patches' (i, j, c) order
        kernel = ops.transpose(ops.reshape(self.kernel, (kh * kw * c, n, f)), (1, 0, 2))
        y = ops.transpose(ops.matmul(patches, kernel), (1, 0, 2))  # (pixels, N, f)
        return ops.reshape(y, (-1, ho, wo, n * f))

    def compute_output_shape(self, input_shape):
        spatial = []
        for size, k, s in zip(input_shape[1:3], self.kernel_size, self.strides):
            if size is None:
                spatial.append(None)
            elif self.padding == "same":
                spatial.append(math.ceil(size / s))
            else:
                spatial.append((size - k) // s + 1)
        return (input_shape[0], *spatial, self.num_discriminators * self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_discriminators=self.num_discriminators,
            filters=self.filters,
            kernel_size=self.kernel_size,
            strides=self.strides,
            padding=self.padding,
            use_bias=self.use_bias,
            activation=keras.activations.serialize(self.activation),
            shared_input=self.shared_input,
            implementation=self.implementation,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="kmgan")
class StackedDense(GroupedDense):
    """N independent dense layers, one per discriminator, in one einsum.

    Input (batch, N, d) -> output (batch, N, units): row i of the input goes
    through discriminator i's own (d, units) kernel `kernel[i]` and bias
    `bias[i]`. An input (batch, d) is shared by the N (the first layer of a
    stacked MLP). The kernel has shape (N, d, units), the bias (N, units);
    each of the N kernel slices is drawn independently by
    `kmgan.nets.multi.stacked_initializer` (this is `GroupedDense` with the
    discriminators as the groups).

    Args:
        num_discriminators: N.
        units: output width of one discriminator's layer.
        activation, use_bias, kernel_initializer, bias_initializer: as
            `keras.layers.Dense`, for one discriminator's layer.
    """

    def __init__(
        self,
        num_discriminators,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(
            num_discriminators, units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, bias_initializer=bias_initializer, **kwargs,
        )

    @property
    def num_discriminators(self):
        return self.num_groups

    def build(self, input_shape):
        if len(input_shape) == 3 and input_shape[1] not in (None, self.num_groups):
            raise ValueError(
                f"{self.name}: expected inputs (batch, {self.num_groups}, d) or "
                f"(batch, d), got {tuple(input_shape)}."
            )
        if len(input_shape) not in (2, 3):
            raise ValueError(
                f"{self.name}: expected inputs (batch, N, d) or (batch, d), got "
                f"{tuple(input_shape)}."
            )
        super().build(input_shape)

    def get_config(self):
        config = super().get_config()
        config["num_discriminators"] = config.pop("num_groups")
        return config


@keras.saving.register_keras_serializable(package="kmgan")
class StackedFlatten(layers.Layer):
    """Flattens each discriminator's own feature map.

    (batch, h, w, N*c) -> (batch, N, h*w*c): row i is discriminator i's
    channels [i*c, (i+1)*c), flattened in the order `keras.layers.Flatten`
    flattens a (batch, h, w, c) map.

    Args:
        num_discriminators: N.
    """

    def __init__(self, num_discriminators, **kwargs):
        super().__init__(**kwargs)
        self.num_discriminators = check_positive_int(num_discriminators, "num_discriminators")

    def call(self, x):
        n = self.num_discriminators
        spatial = int(np.prod(x.shape[1:-1]))
        c = int(x.shape[-1]) // n
        x = ops.reshape(x, (-1, spatial, n, c))
        x = ops.transpose(x, (0, 2, 1, 3))
        return ops.reshape(x, (-1, n, spatial * c))

    def compute_output_shape(self, input_shape):
        n = self.num_discriminators
        size = int(np.prod(input_shape[1:-1])) * (int(input_shape[-1]) // n)
        return (input_shape[0], n, size)

    def get_config(self):
        config = super().get_config()
        config.update(num_discriminators=self.num_discriminators)
        return config


def _pair(value, what):
    if isinstance(value, int):
        value = (value, value)
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) < 1:
        raise ValueError(f"`{what}` must be a positive int or a pair of them, got {value!r}.")
    return value


def _logits_matrix(x, n):
    return layers.Reshape((n,), name="stacked_logits")(x)


# --------------------------------------------------------------------------
# Builders


def stacked_dcgan_discriminator(
    num_discriminators,
    image_shape=(28, 28, 1),
    base_filters=64,
    dropout=0.0,
    kernel_size=4,
    depth=None,
    implementation="auto",
    name="stacked_dcgan_discriminator",
    seed=None,
):
    """N DCGAN discriminators in one model, every layer running all N at once.

    Discriminator i is exactly `kmgan.nets.dcgan_discriminator(image_shape,
    base_filters, dropout, kernel_size, depth)`: `depth` stride-2
    convolutions with LeakyReLU(0.2), batch norm on every block but the
    first, optional dropout, Flatten and Dense(1); weights from N(0, 0.02),
    batch-norm gamma from N(1, 0.02). The layers carry the plain model's
    names ("conv1", "conv2_bn", ..., "flatten", "logits"), then
    "stacked_logits" reshapes (batch, N, 1) to (batch, N).

    Args:
        num_discriminators: N.
        image_shape, base_filters, dropout, kernel_size, depth: as
            `dcgan_discriminator`, for each of the N.
        implementation: of the grouped convolutions, see `StackedConv2D`.
        name: model name.
        seed: optional int seeding every initializer.

    Returns:
        A functional `keras.Model` mapping images (batch, *image_shape) to
        the N logits (batch, N).
    """
    n = check_positive_int(num_discriminators, "num_discriminators")
    image_shape = check_image_shape(image_shape)
    base_filters = check_positive_int(base_filters, "base_filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    dropout = check_dropout(dropout)
    depth = discriminator_depth(image_shape, depth)
    seeds = SeedStream(seed)

    def conv(i, filters, kernel_size, **kwargs):
        return StackedConv2D(n, filters, kernel_size, shared_input=(i == 0),
                             implementation=implementation, **kwargs)

    image = keras.Input(shape=image_shape, name="image")
    x = discriminator_blocks(image, depth, base_filters, kernel_size, dropout, seeds, conv=conv)
    x = StackedFlatten(n, name="flatten")(x)
    x = StackedDense(n, 1, kernel_initializer=dcgan_kernel_init(seeds), name="logits")(x)
    return keras.Model(image, _logits_matrix(x, n), name=name)


def stacked_mlp_discriminator(
    num_discriminators,
    input_dim=2,
    hidden_units=(128, 128),
    dropout=0.0,
    name="stacked_mlp_discriminator",
    seed=None,
):
    """N MLP discriminators for toy data in one model.

    Discriminator i is exactly `kmgan.nets.mlp_discriminator(input_dim,
    hidden_units, dropout)`: [Dense(u) -> LeakyReLU(0.2) -> Dropout] per
    hidden layer, then Dense(1), Glorot-uniform kernels. Every dense layer
    is a `StackedDense` (the first one reads the shared input).

    Args:
        num_discriminators: N.
        input_dim, hidden_units, dropout: as `mlp_discriminator`.
        name: model name.
        seed: optional int seeding every initializer.

    Returns:
        A functional `keras.Model` mapping (batch, input_dim) to the N
        logits (batch, N).
    """
    n = check_positive_int(num_discriminators, "num_discriminators")
    input_dim = check_positive_int(input_dim, "input_dim")
    hidden_units = check_units(hidden_units)
    dropout = check_dropout(dropout)
    seeds = SeedStream(seed)

    def glorot():
        return keras.initializers.GlorotUniform(seed=seeds())

    inp = keras.Input(shape=(input_dim,), name="x")
    x = inp
    for i, units in enumerate(hidden_units):
        x = StackedDense(n, units, kernel_initializer=glorot(), name=f"dense{i + 1}")(x)
        x = leaky_relu(name=f"dense{i + 1}_lrelu")(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"dense{i + 1}_dropout")(x)
    x = StackedDense(n, 1, kernel_initializer=glorot(), name="logits")(x)
    return keras.Model(inp, _logits_matrix(x, n), name=name)


# --------------------------------------------------------------------------
# Between stacked and plain


def num_stacked(model):
    """N, the number of logits a discriminator model returns per example.

    Raises:
        ValueError: unless `model` is a `keras.Model` with one input and one
            output of shape (batch, N) (or (batch,): N = 1).
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model, got {type(model)}.")
    outputs = list(getattr(model, "outputs", None) or [])
    if len(outputs) != 1:
        raise ValueError(
            f"A discriminator must have one output, the (batch, N) logits; "
            f"{model.name!r} has {len(outputs)}."
        )
    shape = tuple(outputs[0].shape[1:])
    if shape == ():
        return 1
    if len(shape) != 1 or shape[0] is None:
        raise ValueError(
            f"A discriminator must output logits of shape (batch, N), one per "
            f"discriminator; {model.name!r} outputs (batch, *{shape})."
        )
    return int(shape[0])


def _chain(model):
    """The model's layers after its input, checked to form a simple chain."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"{model.name!r} must have one input and one output.")
    chain = [layer for layer in model.layers if not isinstance(layer, layers.InputLayer)]
    previous = model.inputs[0]
    for layer in chain:
        nodes = [
            node for node in getattr(layer, "_inbound_nodes", [])
            if len(node.input_tensors) == 1 and node.input_tensors[0] is previous
        ]
        if not nodes or len(nodes[0].output_tensors) != 1:
            raise ValueError(
                f"{model.name!r} is not a simple chain of layers (at {layer.name!r}); "
                "only chains are stacked or unstacked."
            )
        previous = nodes[0].output_tensors[0]
    if previous is not model.outputs[0]:
        raise ValueError(f"{model.name!r} is not a simple chain of layers.")
    return chain


def _cannot(what, layer, state):
    return ValueError(
        f"{what}: no stacked counterpart for layer {layer.name!r} "
        f"({type(layer).__name__}) at this point (input layout: {state}). Stacked "
        "discriminators hold Conv2D, BatchNormalization on conv features, Flatten, "
        "Dense and element-wise layers in a chain."
    )


def unstack_discriminator(model, index, name=None):
    """Discriminator `index` of a stacked model, as a plain model.

    The plain model has the architecture the plain builder gives (e.g.
    `dcgan_discriminator` for `stacked_dcgan_discriminator`, same layer
    names), its input the stacked model's, its output (batch, 1), and a copy
    of slice `index` of every weight (batch-norm statistics included). It
    shares nothing with the stacked model: use it to keep, inspect or save
    one discriminator.

    Args:
        model: a stacked discriminator (this module's layers in a chain).
        index: which discriminator, in [0, N).
        name: the plain model's name (default "<model name>_<index>").

    Returns:
        A functional `keras.Model`.
    """
    n = num_stacked(model)
    index = int(index)
    if not 0 <= index < n:
        raise ValueError(f"index must be in [0, {n}), got {index}.")
    chain = _chain(model)
    inp = keras.Input(tuple(model.inputs[0].shape[1:]), name=model.inputs[0].name.split(":")[0])
    x = inp
    state = "shared"  # or "channels" (N blocks on the last axis) or "rows" ((batch, N, d))
    copies = []
    for j, layer in enumerate(chain):
        last = j == len(chain) - 1
        if isinstance(layer, StackedConv2D):
            f = layer.filters
            plain = layers.Conv2D(
                f, layer.kernel_size, strides=layer.strides, padding=layer.padding,
                use_bias=layer.use_bias, activation=keras.activations.serialize(layer.activation),
                kernel_initializer=keras.initializers.serialize(layer.kernel_initializer),
                bias_initializer=keras.initializers.serialize(layer.bias_initializer),
                name=layer.name,
            )
            weights = [w[..., index * f:(index + 1) * f] for w in layer.get_weights()]
            state = "channels"
        elif _channel_batch_norm(layer, state):
            plain = layers.BatchNormalization.from_config(layer.get_config())
            weights = [_block(w, n, index) for w in layer.get_weights()]
        elif isinstance(layer, StackedFlatten) and state == "channels":
            plain = layers.Flatten(name=layer.name)
            weights = None
            state = "rows"
        elif isinstance(layer, StackedDense):
            plain = layers.Dense(
                layer.units, activation=keras.activations.serialize(layer.activation),
                use_bias=layer.use_bias,
                kernel_initializer=keras.initializers.serialize(layer.kernel_initializer),
                bias_initializer=keras.initializers.serialize(layer.bias_initializer),
                name=layer.name,
            )
            weights = [w[index] for w in layer.get_weights()]
            state = "rows"
        elif isinstance(layer, layers.Reshape) and last and state == "rows":
            continue  # (batch, N, 1) -> (batch, N): the plain model keeps (batch, 1)
        elif isinstance(layer, layers.Flatten) and state == "shared":
            plain, weights = layers.Flatten.from_config(layer.get_config()), None
        elif isinstance(layer, _ELEMENTWISE) and not layer.weights:
            plain, weights = type(layer).from_config(layer.get_config()), None
        else:
            raise _cannot("unstack_discriminator", layer, state)
        x = plain(x)
        if weights is not None:
            copies.append((plain, weights))
    out = keras.Model(inp, x, name=name or f"{model.name}_{index}")
    for plain, weights in copies:
        plain.set_weights(weights)
    if tuple(out.outputs[0].shape[1:]) != (1,):
        raise ValueError(
            f"unstack_discriminator: discriminator {index} of {model.name!r} outputs "
            f"{tuple(out.outputs[0].shape[1:])}, not one logit."
        )
    return out


def _channel_batch_norm(layer, state):
    """A batch norm over the channels of stacked conv features (N blocks)."""
    return (
        isinstance(layer, layers.BatchNormalization)
        and state == "channels"
        and layer.axis in (-1, 3)  # the channels of (batch, h, w, N*c) features
    )


def _block(weight, n, index):
    size = weight.shape[0] // n
    return weight[index * size:(index + 1) * size]


def stack_discriminators(models, implementation="auto", name="stacked_discriminator"):
    """One stacked discriminator from N plain ones of the same architecture.

    The inverse of `unstack_discriminator`: slice i of every weight of the
    result is a copy of `models[i]`'s. The models must be chains of Conv2D,
    BatchNormalization (on conv features), Flatten, Dense and element-wise
    layers ending in one logit (e.g. `dcgan_discriminator`,
    `mlp_discriminator`), with identical architectures.

    Args:
        models: N >= 1 plain discriminators.
        implementation: of the grouped convolutions, see `StackedConv2D`.
        name: the stacked model's name.

    Returns:
        A functional `keras.Model` mapping the models' input to (batch, N).
    """
    models = list(models)
    if not models:
        raise ValueError("stack_discriminators needs at least one model.")
    n = len(models)
    for m in models:
        if num_stacked(m) != 1:
            raise ValueError(f"{m.name!r} does not output one logit per example.")
    chains = [_chain(m) for m in models]
    ref_chain = chains[0]
    for m, chain in zip(models[1:], chains[1:]):
        same = len(chain) == len(ref_chain) and all(
            type(a) is type(b) and [tuple(w.shape) for w in a.weights] == [tuple(w.shape) for w in b.weights]
            and _architecture(a) == _architecture(b)
            for a, b in zip(ref_chain, chain)
        )
        if not same or tuple(m.inputs[0].shape) != tuple(models[0].inputs[0].shape):
            raise ValueError(
                f"{m.name!r} and {models[0].name!r} differ in architecture; only identical "
                "discriminators stack."
            )
    inp = keras.Input(tuple(models[0].inputs[0].shape[1:]), name=models[0].inputs[0].name.split(":")[0])
    x = inp
    state = "shared"
    copies = []
    for j, ref in enumerate(ref_chain):
        group = [chain[j] for chain in chains]
        weights = [layer.get_weights() for layer in group]
        if isinstance(ref, layers.Conv2D) and type(ref) is layers.Conv2D and state in ("shared", "channels"):
            if ref.groups != 1 or tuple(ref.dilation_rate) != (1, 1) or ref.data_format != "channels_last":
                raise _cannot("stack_discriminators", ref, state)
            stacked = StackedConv2D(
                n, ref.filters, ref.kernel_size, strides=ref.strides, padding=ref.padding,
                use_bias=ref.use_bias, activation=keras.activations.serialize(ref.activation),
                shared_input=(state == "shared"), implementation=implementation,
                kernel_initializer=keras.initializers.serialize(ref.kernel_initializer),
                bias_initializer=keras.initializers.serialize(ref.bias_initializer),
                name=ref.name,
            )
            new = [np.concatenate([w[k] for w in weights], axis=-1) for k in range(len(weights[0]))]
            state = "channels"
        elif _channel_batch_norm(ref, state):
            stacked = layers.BatchNormalization.from_config(ref.get_config())
            new = [np.concatenate([w[k] for w in weights], axis=0) for k in range(len(weights[0]))]
        elif isinstance(ref, layers.Flatten) and state == "channels":
            stacked, new = StackedFlatten(n, name=ref.name), None
            state = "rows"
        elif isinstance(ref, layers.Flatten) and state == "shared":
            stacked, new = layers.Flatten.from_config(ref.get_config()), None
        elif type(ref) is layers.Dense and state in ("shared", "rows") and len(ref.input.shape) == 2:
            stacked = StackedDense(
                n, ref.units, activation=keras.activations.serialize(ref.activation),
                use_bias=ref.use_bias,
                kernel_initializer=keras.initializers.serialize(ref.kernel_initializer),
                bias_initializer=keras.initializers.serialize(ref.bias_initializer),
                name=ref.name,
            )
            new = [np.stack([w[k] for w in weights], axis=0) for k in range(len(weights[0]))]
            state = "rows"
        elif isinstance(ref, _ELEMENTWISE) and not ref.weights:
            stacked, new = type(ref).from_config(ref.get_config()), None
        else:
            raise _cannot("stack_discriminators", ref, state)
        x = stacked(x)
        if new is not None:
            copies.append((stacked, new))
    if state != "rows" or tuple(x.shape[1:]) != (n, 1):
        raise ValueError(
            "stack_discriminators: the models must end in a Dense(1) logit on flat features."
        )
    out = keras.Model(inp, _logits_matrix(x, n), name=name)
    for layer, new in copies:
        layer.set_weights(new)
    return out


def _architecture(layer):
    config = dict(layer.get_config())
    for key in ("name", "kernel_initializer", "bias_initializer", "gamma_initializer",
                "beta_initializer", "moving_mean_initializer", "moving_variance_initializer",
                "seed"):
        config.pop(key, None)
    return config
