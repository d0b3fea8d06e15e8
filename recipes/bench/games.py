"""The games the benchmark times, built by name through `kmgan.games.registry`.

`REGISTRY` maps a benchmark family to `build(cfg, n) -> (game, info)`: the
game at the benchmark's sizes (DCGAN nets for `cfg["image_shape"]`,
`cfg["latent_dim"]`, `cfg["base_filters"]`, seeds from 0) and what the
report needs from its networks (forward FLOPs, parameters, fakes per step,
the players). Imports are lazy and a failure is the caller's to report: a
game that fails to import or build becomes an "unavailable" row, never
numbers.
"""

import math

from .config import ADAM
from .flops import forward_flops

__all__ = ["REGISTRY", "adam"]


def adam():
    """The papers' Adam for one player (`ADAM`)."""
    import keras

    return keras.optimizers.Adam(**ADAM)


def _build(name, cfg, **options):
    from kmgan.games import registry

    return registry.build(
        name,
        tuple(cfg["image_shape"]),
        latent_dim=cfg["latent_dim"],
        base_filters=cfg["base_filters"],
        seed=0,
        **options,
    )


def _build_gan(cfg, n):
    model = _build("dcgan", cfg, loss="non_saturating")
    g, d = model.generator, model.discriminator
    return model, {
        "g_flops": forward_flops(g)[0],
        "d_flops": forward_flops(d)[0],
        "fakes": cfg["batch_size"],
        "params_g": g.count_params(),
        "params_d": d.count_params(),
        "players": "1 G, 1 D",
    }


def _build_gman(cfg, n):
    model = _build("dcgman", cfg, num_discriminators=n, aggregator="mean", loss="non_saturating")
    g, ds = model.generator, list(model.discriminators)
    return model, {
        "g_flops": forward_flops(g)[0],
        "d_flops": forward_flops(ds[0])[0],
        "fakes": cfg["batch_size"],
        "params_g": g.count_params(),
        "params_d": sum(d.count_params() for d in ds),
        "players": f"1 G, {n} D",
    }


def _build_gman_stacked(cfg, n):
    from kmgan import nets
    from kmgan.layers.stacked import CONV_IMPLEMENTATIONS
    from kmgan.layers.stacked import StackedConv2D

    implementation = cfg.get("stacked_conv", "auto")
    if implementation not in CONV_IMPLEMENTATIONS:
        raise ValueError(
            f"stacked_conv must be one of {CONV_IMPLEMENTATIONS}, got {implementation!r}."
        )
    model = _build(
        "dcgman", cfg, num_discriminators=n, stacked=True, aggregator="mean", loss="non_saturating"
    )
    g, d = model.generator, model.discriminators  # the stacked model
    # StackedConv2D picks its implementation when called: set it before the first step.
    for layer in d._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, StackedConv2D):
            layer.implementation = implementation
    one = nets.dcgan_discriminator(
        tuple(cfg["image_shape"]), base_filters=cfg["base_filters"], seed=1
    )
    return model, {
        "g_flops": forward_flops(g)[0],
        "d_flops": forward_flops(one)[0],
        "stacked_d_flops": forward_flops(d)[0],
        "fakes": cfg["batch_size"],
        "params_g": g.count_params(),
        "params_d": d.count_params(),
        "players": f"1 G, {n} D stacked in one model (conv: {implementation})",
    }


def _build_shared(name, players):
    """MGAN / MAD-GAN: K generators in one batched model, one D (with heads)."""

    def build(cfg, k):
        options = {"beta": 0.1} if name == "mgan" else {}
        model = _build(name, cfg, num_generators=k, **options)
        g, d = model.generator, model.discriminator
        return model, {
            "g_flops": forward_flops(g)[0],
            "d_flops": forward_flops(d)[0],
            "fakes": k * math.ceil(cfg["batch_size"] / k),
            "params_g": g.count_params(),
            "params_d": d.count_params(),
            "players": players.format(k=k),
        }

    return build


def _build_megan(cfg, k):
    model = _build("megan", cfg, num_generators=k)
    experts, gate, d = model.experts, model.gate, model.discriminator
    return model, {
        "g_flops": forward_flops(experts)[0],
        "d_flops": forward_flops(d)[0],
        "gate_flops": forward_flops(gate)[0],
        "fakes": cfg["batch_size"],
        "params_g": experts.count_params() + gate.count_params(),
        "params_d": d.count_params(),
        "players": f"{k} independent G + gate, 1 D",
    }


#: Benchmark family -> build(cfg, n) -> (game, info).
REGISTRY = {
    "gan": _build_gan,
    "gman": _build_gman,
    "gman_stacked": _build_gman_stacked,
    "mgan": _build_shared("mgan", "{k} G (shared but the first layer), D + C"),
    "madgan": _build_shared("madgan", "{k} G (shared but the last layer), D (K+1 classes)"),
    "megan": _build_megan,
}
