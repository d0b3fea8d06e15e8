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

The layers (`StackedConv2D`, `StackedFlatten`, `StackedDense`) are in
`kmgan.layers.stacked`, which also explains the three implementations of
the stacked convolutions ("grouped", "im2col", "split"; "auto" picks
"im2col" on a CPU and "grouped" on an accelerator). They are registered
with `keras.saving` (package "kmgan"): a stacked discriminator saves to
`.keras` and reloads with `safe_mode=True`.
"""

from functools import partial

import keras
import numpy as np
from keras import layers

from kmgan.checks import check_dropout
from kmgan.checks import check_positive_int
from kmgan.checks import check_units
from kmgan.layers.stacked import CONV_IMPLEMENTATIONS
from kmgan.layers.stacked import StackedConv2D
from kmgan.layers.stacked import StackedDense
from kmgan.layers.stacked import StackedFlatten
from kmgan.nets.blocks import SeedStream
from kmgan.nets.blocks import dcgan_kernel_init
from kmgan.nets.dcgan import discriminator_blocks
from kmgan.nets.dcgan import discriminator_depth
from kmgan.nets.mlp import mlp_trunk
from kmgan.nets.shapes import check_image_shape

__all__ = [
    "CONV_IMPLEMENTATIONS",
    "StackedConv2D",
    "StackedDense",
    "StackedFlatten",
    "num_stacked",
    "stack_discriminators",
    "stacked_dcgan_discriminator",
    "stacked_mlp_discriminator",
    "unstack_discriminator",
]

#: Weightless element-wise layers a stacked model may hold as they are.
_ELEMENTWISE = (
    layers.LeakyReLU,
    layers.ReLU,
    layers.ELU,
    layers.Activation,
    layers.Dropout,
    layers.GaussianNoise,
    layers.GaussianDropout,
    layers.Identity,
)


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
        return StackedConv2D(
            n, filters, kernel_size, shared_input=(i == 0), implementation=implementation, **kwargs
        )

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

    inp = keras.Input(shape=(input_dim,), name="x")
    x = mlp_trunk(inp, hidden_units, seeds, dropout, dense=partial(StackedDense, n))
    glorot = keras.initializers.GlorotUniform(seed=seeds())
    x = StackedDense(n, 1, kernel_initializer=glorot, name="logits")(x)
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
            node
            for node in getattr(layer, "_inbound_nodes", [])
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

    def plain(j, layer, state):
        if isinstance(layer, StackedConv2D):
            f = layer.filters
            conv = layers.Conv2D(f, **_counterpart_args(layer, "kernel_size", "strides", "padding"))
            return (
                conv,
                [w[..., index * f : (index + 1) * f] for w in layer.get_weights()],
                "channels",
            )
        if _channel_batch_norm(layer, state):
            norm = layers.BatchNormalization.from_config(layer.get_config())
            return norm, [_block(w, n, index) for w in layer.get_weights()], state
        if isinstance(layer, StackedFlatten) and state == "channels":
            return layers.Flatten(name=layer.name), None, "rows"
        if isinstance(layer, StackedDense):
            dense = layers.Dense(layer.units, **_counterpart_args(layer))
            return dense, [w[index] for w in layer.get_weights()], "rows"
        if isinstance(layer, layers.Reshape) and j == len(chain) - 1 and state == "rows":
            return (
                None,
                None,
                state,
            )  # (batch, N, 1) -> (batch, N): the plain model keeps (batch, 1)
        return None

    (inp, x), _ = _rebuild_chain("unstack_discriminator", model.inputs[0], chain, plain)
    out = keras.Model(inp, x, name=name or f"{model.name}_{index}")
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
    return weight[index * size : (index + 1) * size]


def _counterpart_args(layer, *keys):
    """The arguments a layer's plain or stacked counterpart takes from it:
    `keys`, its activation, bias and initializers, and its name."""
    return dict(
        {key: getattr(layer, key) for key in keys},
        use_bias=layer.use_bias,
        activation=keras.activations.serialize(layer.activation),
        kernel_initializer=keras.initializers.serialize(layer.kernel_initializer),
        bias_initializer=keras.initializers.serialize(layer.bias_initializer),
        name=layer.name,
    )


def _rebuild_chain(what, model_input, chain, counterpart):
    """Rebuilds a chain of layers, each one as its counterpart, with weights.

    `counterpart(j, layer, state)` gives, for the j-th layer of `chain` met
    in the input layout `state` ("shared", "channels" or "rows"), the
    triple `(new_layer, weights, new_state)`: the layer to call in its place
    (None: skip it), the weights to copy into it (None: it has none) and the
    layout after it; or None, and then a Flatten of the shared input and
    weightless element-wise layers are copied as they are.

    Returns:
        `((input, output), state)`: the new chain's input and output tensors
        and the layout of its output.

    Raises:
        ValueError: For a layer with no counterpart.
    """
    inp = keras.Input(tuple(model_input.shape[1:]), name=model_input.name.split(":")[0])
    x, state = inp, "shared"
    for j, layer in enumerate(chain):
        step = counterpart(j, layer, state)
        if step is None and (
            (isinstance(layer, layers.Flatten) and state == "shared")
            or (isinstance(layer, _ELEMENTWISE) and not layer.weights)
        ):
            step = type(layer).from_config(layer.get_config()), None, state
        if step is None:
            raise _cannot(what, layer, state)
        new, weights, state = step
        if new is None:
            continue
        x = new(x)
        if weights is not None:
            new.set_weights(weights)
    return (inp, x), state


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
            type(a) is type(b)
            and [tuple(w.shape) for w in a.weights] == [tuple(w.shape) for w in b.weights]
            and _architecture(a) == _architecture(b)
            for a, b in zip(ref_chain, chain)
        )
        if not same or tuple(m.inputs[0].shape) != tuple(models[0].inputs[0].shape):
            raise ValueError(
                f"{m.name!r} and {models[0].name!r} differ in architecture; only identical "
                "discriminators stack."
            )

    def stacked(j, ref, state):
        weights = [chain[j].get_weights() for chain in chains]

        def combine(join, **kwargs):
            return [join([w[k] for w in weights], **kwargs) for k in range(len(weights[0]))]

        if type(ref) is layers.Conv2D and state in ("shared", "channels"):
            if (
                ref.groups != 1
                or tuple(ref.dilation_rate) != (1, 1)
                or ref.data_format != "channels_last"
            ):
                raise _cannot("stack_discriminators", ref, state)
            conv = StackedConv2D(
                n,
                ref.filters,
                shared_input=(state == "shared"),
                implementation=implementation,
                **_counterpart_args(ref, "kernel_size", "strides", "padding"),
            )
            return conv, combine(np.concatenate, axis=-1), "channels"
        if _channel_batch_norm(ref, state):
            norm = layers.BatchNormalization.from_config(ref.get_config())
            return norm, combine(np.concatenate, axis=0), state
        if isinstance(ref, layers.Flatten) and state == "channels":
            return StackedFlatten(n, name=ref.name), None, "rows"
        if type(ref) is layers.Dense and state in ("shared", "rows") and len(ref.input.shape) == 2:
            dense = StackedDense(n, ref.units, **_counterpart_args(ref))
            return dense, combine(np.stack, axis=0), "rows"
        return None

    (inp, x), state = _rebuild_chain(
        "stack_discriminators", models[0].inputs[0], ref_chain, stacked
    )
    if state != "rows" or tuple(x.shape[1:]) != (n, 1):
        raise ValueError(
            "stack_discriminators: the models must end in a Dense(1) logit on flat features."
        )
    return keras.Model(inp, _logits_matrix(x, n), name=name)


def _architecture(layer):
    config = dict(layer.get_config())
    for key in (
        "name",
        "kernel_initializer",
        "bias_initializer",
        "gamma_initializer",
        "beta_initializer",
        "moving_mean_initializer",
        "moving_variance_initializer",
        "seed",
    ):
        config.pop(key, None)
    return config
