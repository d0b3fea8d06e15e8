"""Default networks of each game, for a data shape (the registry's builders).

A builder takes the shape of one example, `(d,)` points (2-D mixtures:
MLPs) or `(H, W, C)` images (convolutional nets, where they exist), the
network options below, and any constructor argument of its game; it returns
the uncompiled game. Every builder takes:

- `latent_dim`: size of z;
- `hidden_units` / `d_hidden_units`: the generator's / discriminator's MLP
  hidden layers on points (`d_hidden_units=None`: as the generator's);
- `base_filters` / `d_base_filters`: the generator's / discriminator's width
  on images (`d_base_filters=None`: as the generator's);
- `seed`: the generator is seeded with `seed`, the discriminator(s) with
  `seed + 1` (+ i for the i-th of several), a gate or classifier with
  `seed + 2`; the game's noise with `seed`.

`kmgan.games.registry` maps each game's name to its builder.
"""

import functools

from kmgan import nets
from kmgan.games.conditional import ConditionalGAN
from kmgan.games.controlgan import ControlGAN
from kmgan.games.gan import GAN
from kmgan.games.gman import GMAN
from kmgan.games.madgan import MADGAN
from kmgan.games.megan import MEGAN
from kmgan.games.mgan import MGAN
from kmgan.games.scoregan import ScoreGAN
from kmgan.nets.stacked import stacked_dcgan_discriminator
from kmgan.nets.stacked import stacked_mlp_discriminator

#: The GMAN report's 2-D defaults: G has one hidden layer more than D.
REPORT_HIDDEN_UNITS = (128, 128, 128)
REPORT_D_HIDDEN_UNITS = (128, 128)


def _is_points(data_shape):
    return len(data_shape) == 1


def _require_images(game, data_shape):
    if _is_points(data_shape):
        raise ValueError(
            f"{game} has default networks for images (H, W, C) only; got examples "
            f"of shape {tuple(data_shape)}. Build its networks yourself for other data."
        )


def report_game(
    data_shape,
    conv=False,
    multi=False,
    latent_dim=100,
    num_discriminators=None,
    varied=False,
    stacked=False,
    hidden_units=REPORT_HIDDEN_UNITS,
    d_hidden_units=REPORT_D_HIDDEN_UNITS,
    base_filters=64,
    d_base_filters=None,
    label_smoothing=None,
    seed=0,
    **game_kwargs,
):
    """The GMAN report's GAN, GMAN, DCGAN and DCGMAN (Xu et al.).

    Images: the report's conv + fully connected nets
    (`kmgan.nets.conv_fc_generator` / `conv_fc_discriminator`, 28x28 and
    32x32), or DCGAN's with `conv=True`; points: MLPs.

    Args:
        data_shape: (d,) or (H, W, C).
        conv: DCGAN networks (dcgan, dcgman).
        multi: GMAN with `num_discriminators` discriminators.
        latent_dim, hidden_units, d_hidden_units, base_filters,
            d_base_filters, seed: see the module docstring.
        num_discriminators: N (GMAN; None: the report's 5).
        varied: N discriminators of differing architecture
            (`kmgan.nets.varied_discriminators`).
        stacked: the N identical discriminators as one stacked model (DCGAN
            or MLP discriminators only).
        label_smoothing: None gives the report's: soft labels (0.1) for
            gan/gman, none for dcgan/dcgman (nor for the hinge and Wasserstein
            losses, where soft labels mean nothing).
        **game_kwargs: `GAN` / `GMAN` arguments (aggregator, loss, d_steps,
            the shared hooks, ...).

    Returns:
        An uncompiled `GAN` or `GMAN`.
    """
    data_shape = tuple(data_shape)
    game = ("dc" if conv else "") + ("gman" if multi else "gan")
    if label_smoothing is None:  # soft labels mean nothing to hinge / Wasserstein losses
        loss = game_kwargs.get("loss", "non_saturating")
        label_smoothing = 0.0 if conv or loss in ("hinge", "wasserstein") else 0.1
    if num_discriminators is not None and not multi:
        raise ValueError(f"num_discriminators is for gman/dcgman, not {game!r}.")
    n = (5 if num_discriminators is None else num_discriminators) if multi else 1
    d_filters = base_filters if d_base_filters is None else d_base_filters
    d_units = hidden_units if d_hidden_units is None else d_hidden_units
    if stacked:
        if not multi:
            raise ValueError(f"stacked=True is for gman/dcgman, not {game!r}.")
        if varied:
            raise ValueError(
                "stacked=True needs N identical discriminators; it excludes varied=True."
            )
        if not _is_points(data_shape) and not conv:
            raise ValueError(
                "stacked=True stacks DCGAN or MLP discriminators: use game='dcgman' for "
                "images (the 'gman' preset's conv + fully connected nets have no stacked "
                "builder), or 2-D data."
            )

    if _is_points(data_shape):
        generator = nets.mlp_generator(
            latent_dim=latent_dim,
            output_dim=data_shape[0],
            hidden_units=tuple(hidden_units),
            seed=seed,
        )
        if stacked:
            ds = stacked_mlp_discriminator(
                n, data_shape[0], d_units, name="discriminators", seed=seed + 1
            )
        elif varied:
            ds = nets.varied_discriminators(
                n, input_dim=data_shape[0], seed=seed + 1, hidden_units=d_units
            )
        else:
            ds = [
                nets.mlp_discriminator(
                    data_shape[0], d_units, name=f"discriminator_{i}", seed=seed + 1 + i
                )
                for i in range(n)
            ]
    else:
        g_fn, d_fn = (
            (nets.dcgan_generator, nets.dcgan_discriminator)
            if conv
            else (nets.conv_fc_generator, nets.conv_fc_discriminator)
        )
        generator = g_fn(
            latent_dim=latent_dim, image_shape=data_shape, base_filters=base_filters, seed=seed
        )
        if stacked:
            ds = stacked_dcgan_discriminator(
                n,
                image_shape=data_shape,
                base_filters=d_filters,
                name="discriminators",
                seed=seed + 1,
            )
        elif varied:
            ds = nets.varied_discriminators(
                n, image_shape=data_shape, seed=seed + 1, base_filters=d_filters
            )
        else:
            ds = [
                d_fn(
                    image_shape=data_shape,
                    base_filters=d_filters,
                    name=f"discriminator_{i}",
                    seed=seed + 1 + i,
                )
                for i in range(n)
            ]
    if multi:
        return GMAN(
            generator, ds, label_smoothing=label_smoothing, seed=seed, name=game, **game_kwargs
        )
    return GAN(
        generator, ds[0], label_smoothing=label_smoothing, seed=seed, name=game, **game_kwargs
    )


def gan(
    data_shape,
    conv=False,
    latent_dim=100,
    varied=False,
    hidden_units=REPORT_HIDDEN_UNITS,
    d_hidden_units=REPORT_D_HIDDEN_UNITS,
    base_filters=64,
    d_base_filters=None,
    label_smoothing=None,
    seed=0,
    **game_kwargs,
):
    """GAN with the report's conv + fully connected nets, or DCGAN's with
    `conv=True` (MLPs on points); the arguments as `report_game`'s."""
    return report_game(
        data_shape,
        conv=conv,
        latent_dim=latent_dim,
        varied=varied,
        hidden_units=hidden_units,
        d_hidden_units=d_hidden_units,
        base_filters=base_filters,
        d_base_filters=d_base_filters,
        label_smoothing=label_smoothing,
        seed=seed,
        **game_kwargs,
    )


#: GAN with DCGAN's nets (MLPs on points).
dcgan = functools.partial(gan, conv=True)
#: GMAN with the report's nets: N = 5 discriminators, mean aggregator.
gman = functools.partial(report_game, conv=False, multi=True)
#: GMAN with DCGAN's nets.
dcgman = functools.partial(report_game, conv=True, multi=True)


def mgan(
    data_shape,
    num_generators=10,
    latent_dim=100,
    hidden_units=(128, 128),
    d_hidden_units=None,
    base_filters=64,
    d_base_filters=None,
    variant="general",
    seed=0,
    **game_kwargs,
):
    """MGAN: K generators sharing all but their first layer, D and C sharing a trunk.

    Args:
        data_shape: (d,) or (H, W, C).
        num_generators: K (10 on CIFAR-10 in the paper).
        variant: the classifier variant ("general", "one_vs_all", "pairwise").
        latent_dim, hidden_units, d_hidden_units, base_filters,
            d_base_filters, seed: see the module docstring.
        **game_kwargs: `MGAN` arguments (beta, loss, the shared hooks, ...).
    """
    k = num_generators
    if _is_points(data_shape):
        d_units = hidden_units if d_hidden_units is None else d_hidden_units
        g = nets.mgan_mlp_generator(k, latent_dim, data_shape[0], tuple(hidden_units), seed=seed)
        d = nets.mgan_mlp_discriminator(
            k, data_shape[0], tuple(d_units), variant=variant, seed=seed + 1
        )
    else:
        d_filters = base_filters if d_base_filters is None else d_base_filters
        g = nets.mgan_generator(
            k, latent_dim, tuple(data_shape), base_filters=base_filters, seed=seed
        )
        d = nets.mgan_discriminator(
            k, tuple(data_shape), base_filters=d_filters, variant=variant, seed=seed + 1
        )
    return MGAN(g, d, variant=variant, seed=seed, **game_kwargs)


def madgan(
    data_shape,
    num_generators=3,
    latent_dim=100,
    hidden_units=(128, 128),
    d_hidden_units=None,
    base_filters=64,
    d_base_filters=None,
    seed=0,
    **game_kwargs,
):
    """MAD-GAN: K generators sharing their early layers, a (K+1)-way D.

    Args:
        data_shape: (d,) or (H, W, C).
        num_generators: K.
        latent_dim, hidden_units, d_hidden_units, base_filters,
            d_base_filters, seed: see the module docstring.
        **game_kwargs: `MADGAN` arguments (loss, similarity, the shared
            hooks, ...).
    """
    k = num_generators
    if _is_points(data_shape):
        d_units = hidden_units if d_hidden_units is None else d_hidden_units
        g = nets.madgan_mlp_generator(k, latent_dim, data_shape[0], tuple(hidden_units), seed=seed)
        d = nets.madgan_mlp_discriminator(k, data_shape[0], tuple(d_units), seed=seed + 1)
    else:
        d_filters = base_filters if d_base_filters is None else d_base_filters
        g = nets.madgan_generator(
            k, latent_dim, tuple(data_shape), base_filters=base_filters, seed=seed
        )
        d = nets.madgan_discriminator(k, tuple(data_shape), base_filters=d_filters, seed=seed + 1)
    return MADGAN(g, d, seed=seed, **game_kwargs)


def megan(
    data_shape,
    num_generators=5,
    latent_dim=100,
    hidden_units=(128, 128),
    d_hidden_units=None,
    base_filters=64,
    d_base_filters=None,
    gate_encoding_dim=None,
    gate_hidden_units=None,
    seed=0,
    **game_kwargs,
):
    """MEGAN: n experts, a Gumbel-softmax gate, one D.

    Args:
        data_shape: (d,) or (H, W, C).
        num_generators: n (3, 5 or 10 in the paper).
        gate_encoding_dim, gate_hidden_units: the gate's m and hidden layers
            (None: `kmgan.nets.megan_gate`'s defaults).
        latent_dim, hidden_units, d_hidden_units, base_filters,
            d_base_filters, seed: see the module docstring.
        **game_kwargs: `MEGAN` arguments (lam, loss, d_steps, the shared
            hooks, ...).
    """
    n = num_generators
    if _is_points(data_shape):
        d_units = hidden_units if d_hidden_units is None else d_hidden_units
        experts = nets.megan_mlp_experts(
            n, latent_dim, data_shape[0], tuple(hidden_units), seed=seed
        )
        d = nets.mlp_discriminator(data_shape[0], tuple(d_units), seed=seed + 1)
    else:
        d_filters = base_filters if d_base_filters is None else d_base_filters
        experts = nets.megan_experts(
            n, latent_dim, tuple(data_shape), base_filters=base_filters, seed=seed
        )
        d = nets.dcgan_discriminator(tuple(data_shape), base_filters=d_filters, seed=seed + 1)
    gate_options = {}
    if gate_encoding_dim is not None:
        gate_options["encoding_dim"] = gate_encoding_dim
    if gate_hidden_units is not None:
        gate_options["hidden_units"] = tuple(gate_hidden_units)
    gate = nets.megan_gate(
        n, latent_dim, int(experts.outputs[1].shape[-1]), seed=seed + 2, **gate_options
    )
    return MEGAN(experts, d, gate=gate, seed=seed, **game_kwargs)


def cgan(
    data_shape,
    num_classes=10,
    latent_dim=100,
    base_filters=64,
    d_base_filters=None,
    seed=0,
    **game_kwargs,
):
    """Conditional GAN: conditional DCGAN nets G(z, y), D(x, y) (images only).

    Args:
        data_shape: (H, W, C).
        num_classes: number of classes.
        latent_dim, base_filters, d_base_filters, seed: see the module
            docstring.
        **game_kwargs: `ConditionalGAN` arguments.
    """
    _require_images("cgan", data_shape)
    d_filters = base_filters if d_base_filters is None else d_base_filters
    g = nets.conditional_generator(
        num_classes,
        latent_dim=latent_dim,
        image_shape=tuple(data_shape),
        base_filters=base_filters,
        seed=seed,
    )
    d = nets.conditional_discriminator(
        num_classes, image_shape=tuple(data_shape), base_filters=d_filters, seed=seed + 1
    )
    return ConditionalGAN(g, d, num_classes=num_classes, seed=seed, **game_kwargs)


def _control_players(
    game, data_shape, num_classes, latent_dim, base_filters, d_base_filters, classifier_blocks, seed
):
    _require_images(game, data_shape)
    shape = tuple(data_shape)
    d_width = base_filters if d_base_filters is None else d_base_filters
    widths = [max(1, base_filters // d) for d in (8, 4, 2, 2)]
    while len(widths) > 1 and shape[0] % 2 ** (len(widths) - 1):
        widths.pop()  # one downsampling stage fewer (28x28: three stages)
    return (
        nets.sngan_generator(
            num_classes, latent_dim=latent_dim, image_shape=shape, width=base_filters, seed=seed
        ),
        nets.sngan_discriminator(image_shape=shape, width=d_width, seed=seed + 1),
        nets.sngan_classifier(
            num_classes,
            image_shape=shape,
            widths=tuple(widths),
            blocks_per_stage=classifier_blocks,
            seed=seed + 2,
        ),
    )


def controlgan(
    data_shape,
    num_classes=10,
    latent_dim=128,
    base_filters=256,
    d_base_filters=None,
    classifier_blocks=3,
    seed=0,
    **game_kwargs,
):
    """ControlGAN with ScoreGAN's Table 1 nets (images only).

    SNGAN ResNets: `base_filters` is the generator's and discriminator's
    width (256 in Table 1); the classifier's stage widths are
    (w/8, w/4, w/2, w/2), Table 1's (32, 64, 128, 128) at w = 256, less
    the last stages where the image size does not halve that often (28x28:
    (w/8, w/4, w/2)).

    Args:
        data_shape: (H, W, C), square, H >= 8.
        num_classes: number of classes.
        classifier_blocks: ResBlocks per classifier stage (3 in Table 1).
        latent_dim, base_filters, d_base_filters, seed: see the module
            docstring.
        **game_kwargs: `ControlGAN` arguments (the shared hooks included).
    """
    players = _control_players(
        "controlgan",
        data_shape,
        num_classes,
        latent_dim,
        base_filters,
        d_base_filters,
        classifier_blocks,
        seed,
    )
    return ControlGAN(*players, num_classes=num_classes, seed=seed, **game_kwargs)


def scoregan(
    data_shape,
    evaluator=None,
    num_classes=10,
    latent_dim=128,
    base_filters=256,
    d_base_filters=None,
    classifier_blocks=3,
    seed=0,
    **game_kwargs,
):
    """ScoreGAN: ControlGAN's Table 1 nets plus a frozen evaluator (images only).

    Args:
        data_shape: (H, W, C), square, H >= 8.
        evaluator: the frozen evaluator, e.g.
            `kmgan.evaluators.mobilenet_v2(weights="imagenet")` (required).
        num_classes, latent_dim, base_filters, d_base_filters,
            classifier_blocks, seed: as `controlgan`.
        **game_kwargs: `ScoreGAN` arguments.
    """
    if evaluator is None:
        raise ValueError(
            "scoregan needs an evaluator: a frozen keras.Model giving class "
            "probabilities, e.g. kmgan.evaluators.mobilenet_v2(weights='imagenet') "
            "(or weights='/path/to/mobilenet_v2_....h5'); without one it is controlgan."
        )
    players = _control_players(
        "scoregan",
        data_shape,
        num_classes,
        latent_dim,
        base_filters,
        d_base_filters,
        classifier_blocks,
        seed,
    )
    return ScoreGAN(
        *players, evaluator=evaluator, num_classes=num_classes, seed=seed, **game_kwargs
    )
