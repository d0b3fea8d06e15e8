"""Forward FLOPs counted per layer, and the FLOPs of one training step of each game."""

from .config import GMAN_FAMILIES

__all__ = [
    "forward_flops",
    "layer_flops",
    "step_flops",
]


def _shape(tensor):
    return tuple(1 if d is None else int(d) for d in tensor.shape)


def _prod(values):
    out = 1
    for v in values:
        out *= int(v)
    return out


def layer_flops(layer, in_shape, out_shape):
    """FLOPs (2 per multiply-add, plus bias adds) of one call, per example.

    Counts the matrix products of Dense, Conv2D, Conv2DTranspose and
    kmgan's MultiDense (as implemented: one (K*d, units) product),
    GroupedDense, GroupedConv2DTranspose (MEGAN's batched experts), and the
    stacked discriminators' StackedConv2D and StackedDense. Element-wise
    layers (batch norm, activations, selection) are not counted: they are
    under 1% of a DCGAN's FLOPs. Returns None for a layer with weights this
    function does not know.
    """
    kind = type(layer).__name__
    if kind == "Dense":
        d, units = in_shape[-1], out_shape[-1]
        rows = _prod(in_shape[1:-1])
        return rows * (2 * d * units + (units if layer.use_bias else 0))
    if kind == "Conv2D":
        kh, kw = layer.kernel_size
        cin = in_shape[-1] // getattr(layer, "groups", 1)
        outputs = _prod(out_shape[1:])
        return outputs * (2 * kh * kw * cin + (1 if layer.use_bias else 0))
    if kind == "StackedConv2D":
        kh, kw = layer.kernel_size
        cin = int(layer.kernel.shape[-2])  # one discriminator's input channels
        outputs = _prod(out_shape[1:])
        return outputs * (2 * kh * kw * cin + (1 if layer.use_bias else 0))
    if kind in ("Conv2DTranspose", "GroupedConv2DTranspose"):
        kh, kw = layer.kernel_size
        # Each input channel meets only its own group's output channels.
        cout = out_shape[-1] // getattr(layer, "num_groups", 1)
        inputs = _prod(in_shape[1:])
        return inputs * 2 * kh * kw * cout + (_prod(out_shape[1:]) if layer.use_bias else 0)
    if kind == "MultiDense":
        k, d, units = layer.num_generators, in_shape[-1], layer.units
        return 2 * k * d * units + (2 * k * units if layer.use_bias else 0)
    if kind in ("GroupedDense", "StackedDense"):
        k, d, units = layer.num_groups, in_shape[-1], layer.units
        return 2 * k * d * units + (k * units if layer.use_bias else 0)
    if not layer.weights or kind in ("BatchNormalization", "LayerNormalization"):
        return 0
    return None


def forward_flops(model):
    """Forward FLOPs per example of a functional Keras model, and the names
    of layers with weights that were not counted."""
    import keras

    total, unknown = 0, []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            sub, sub_unknown = forward_flops(layer)
            total += sub
            unknown += sub_unknown
            continue
        nodes = getattr(layer, "_inbound_nodes", None) or []
        if not nodes:
            continue
        node = nodes[0]
        ins = [t for t in node.input_tensors if hasattr(t, "shape")]
        outs = [t for t in node.output_tensors if hasattr(t, "shape")]
        if not ins or not outs:
            continue
        flops = layer_flops(layer, _shape(ins[0]), _shape(outs[0]))
        if flops is None:
            unknown.append(layer.name)
        else:
            total += flops
    return total, unknown


def step_flops(family, batch, fakes, g, d, n=1, gate=0):
    """FLOPs of one training round, from forward FLOPs per example.

    Convention: a backward pass costs 2x the forward for weight and input
    gradients, 1x for input gradients only (G's step backpropagates through
    D without D's weight gradients). With B real and F fake examples:

        GAN / GMAN-N:  G fwd (F)  +  N * 3 D (B + F)  |  3 G (F)  +  N * 2 D (F)
        MGAN, MAD-GAN: the same with N = 1 and F = K * ceil(B / K) fakes
                       (g, d: the batched multi-generator model, D with its heads)
        MEGAN:         experts + gate fwd (B)  +  3 D (2B)  |
                       3 (experts + 2 gate) (B)  +  2 D (B)
    """
    if family in ("gan",) + GMAN_FAMILIES:
        return g * fakes + n * 3 * d * (batch + fakes) + 3 * g * fakes + n * 2 * d * fakes
    if family in ("mgan", "madgan"):
        return g * fakes + 3 * d * (batch + fakes) + 3 * g * fakes + 2 * d * fakes
    if family == "megan":
        return (g + gate) * batch + 3 * d * 2 * batch + 3 * (g + 2 * gate) * batch + 2 * d * batch
    raise ValueError(family)
