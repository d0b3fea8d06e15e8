"""Default networks of each game, for a data shape (the registry's builders).

A builder takes the shape of one example, `(d,)` points (2-D mixtures:
MLPs) or `(H, W, C)` images (convolutional nets, where they exist), the
network options below, and any constructor argument of its game, all but
the shape as keywords; it returns the uncompiled game. Every builder takes
(`NETWORK_OPTIONS`; `network_builder` gives them to a builder):

- `latent_dim`: size of z;
- `hidden_units` / `d_hidden_units`: the generator's / discriminator's MLP
  hidden layers on points (`d_hidden_units=None`: as the generator's; not
  an option of the builders of image networks only);
- `base_filters` / `d_base_filters`: the generator's / discriminator's width
  on images (`d_base_filters=None`: as the generator's);
- `seed`: the generator is seeded with `seed`, the discriminator(s) with
  `seed + 1` (+ i for the i-th of several), a gate or classifier with
  `seed + 2`; the game's noise with `seed`.

`kmgan.games.registry` maps each game's name to its builder.
"""

import dataclasses
import functools
import inspect

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

#: Every builder's network options (see the module docstring) and their
#: defaults; `network_builder(**defaults)` sets a builder's own.
NETWORK_OPTIONS = {
    "latent_dim": 100,
    "hidden_units": (128, 128),
    "d_hidden_units": None,
    "base_filters": 64,
    "d_base_filters": None,
    "seed": 0,
}

#: The MLP options, which the builders of image networks only do not take.
_MLP_OPTIONS = ("hidden_units", "d_hidden_units")

#: The GMAN report's 2-D defaults: G has one hidden layer more than D.
REPORT_HIDDEN_UNITS = (128, 128, 128)
REPORT_D_HIDDEN_UNITS = (128, 128)


@dataclasses.dataclass(frozen=True)
class NetworkOptions:
    """One build's network options (see the module docstring).

    `d_hidden_units` and `d_base_filters` are resolved: the generator's
    where the builder got None.

    Attributes:
        data_shape: the example shape, `(d,)` or `(H, W, C)`.
        latent_dim: size of z.
        base_filters, d_base_filters: G's and D's width on images.
        seed: G's seed (D's: `seed + 1`, a gate's or classifier's: `seed + 2`).
        hidden_units, d_hidden_units: G's and D's MLP hidden layers (None
            for a builder of image networks only).
    """

    data_shape: tuple
    latent_dim: int
    base_filters: int
    d_base_filters: int
    seed: int
    hidden_units: tuple = None
    d_hidden_units: tuple = None

    @property
    def points(self):
        """Whether the examples are `(d,)` points (MLPs) rather than images."""
        return len(self.data_shape) == 1

    @property
    def g_size(self):
        """The size keywords of a generator builder of `kmgan.nets`:
        `output_dim` and `hidden_units` on points, else `image_shape` and
        `base_filters`."""
        if self.points:
            return {"output_dim": self.data_shape[0], "hidden_units": self.hidden_units}
        return {"image_shape": self.data_shape, "base_filters": self.base_filters}

    @property
    def d_size(self):
        """The size keywords of a discriminator builder of `kmgan.nets`:
        `input_dim` and `hidden_units` on points, else `image_shape` and
        `base_filters` (D's)."""
        if self.points:
            return {"input_dim": self.data_shape[0], "hidden_units": self.d_hidden_units}
        return {"image_shape": self.data_shape, "base_filters": self.d_base_filters}


def network_builder(images_only=False, **defaults):
    """Makes `fn(net, **own)` a builder taking every builder's network options.

    The builder is `builder(data_shape, **options)`: the network options
    among `options` (`NETWORK_OPTIONS`, `defaults` replacing some of their
    defaults) reach `fn` as one `NetworkOptions`, `net`; the others are
    `fn`'s own keyword arguments. The builder's signature lists both (the
    registry reads it).

    Args:
        images_only: the game has default networks for images only: the
            builder takes no MLP options and refuses points.
        **defaults: the builder's own defaults of network options.

    Returns:
        A decorator.
    """
    options = {k: v for k, v in NETWORK_OPTIONS.items() if not images_only or k not in _MLP_OPTIONS}
    unknown = sorted(set(defaults) - set(options))
    if unknown:
        raise ValueError(f"{unknown} are no network options of this builder: {list(options)}.")
    options.update(defaults)

    def decorate(fn):
        @functools.wraps(fn)
        def builder(data_shape, **kwargs):
            if images_only:
                _require_images(fn.__name__, data_shape)
            given = {k: kwargs.pop(k, default) for k, default in options.items()}
            return fn(_network_options(data_shape, given), **kwargs)

        builder.__signature__ = _builder_signature(fn, options)
        return builder

    return decorate


def _network_options(data_shape, options):
    """The `NetworkOptions` of a build's option values, D's resolved."""
    options = dict(options)
    if options["d_base_filters"] is None:
        options["d_base_filters"] = options["base_filters"]
    if "hidden_units" in options:
        options["hidden_units"] = tuple(options["hidden_units"])
        if options["d_hidden_units"] is None:
            options["d_hidden_units"] = options["hidden_units"]
        options["d_hidden_units"] = tuple(options["d_hidden_units"])
    return NetworkOptions(tuple(data_shape), **options)


def _builder_signature(fn, options):
    """`(data_shape, *, <fn's own arguments>, <network options>, **kwargs)`."""
    own = list(inspect.signature(fn).parameters.values())[1:]  # after `net`
    keywords = [p.replace(kind=p.KEYWORD_ONLY) for p in own if p.kind is not p.VAR_KEYWORD]
    keywords += [
        inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v) for k, v in options.items()
    ]
    shape = inspect.Parameter("data_shape", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return inspect.Signature([shape] + keywords + [p for p in own if p.kind is p.VAR_KEYWORD])


def _require_images(game, data_shape):
    if len(data_shape) == 1:
        raise ValueError(
            f"{game} has default networks for images (H, W, C) only; got examples "
            f"of shape {tuple(data_shape)}. Build its networks yourself for other data."
        )


# ------------------------------------------------ the GMAN report's games


@network_builder(hidden_units=REPORT_HIDDEN_UNITS, d_hidden_units=REPORT_D_HIDDEN_UNITS)
def gan(net, conv=False, varied=False, label_smoothing=None, **game_kwargs):
    """GAN with the GMAN report's conv + fully connected nets (Xu et al.).

    Images: `kmgan.nets.conv_fc_generator` / `conv_fc_discriminator` (28x28
    and 32x32), or DCGAN's with `conv=True`; points: MLPs.

    Args:
        data_shape, network options: see the module docstring.
        conv: DCGAN networks (dcgan).
        varied: a discriminator from `kmgan.nets.varied_discriminators`.
        label_smoothing: None gives the report's: soft labels (0.1) for
            gan, none for dcgan (nor for the hinge and Wasserstein losses,
            where soft labels mean nothing).
        **game_kwargs: `GAN` arguments (loss, d_steps, the shared hooks,
            ...).

    Returns:
        An uncompiled `GAN`.
    """
    return _report_game(net, conv, varied, label_smoothing, game_kwargs)


@network_builder(hidden_units=REPORT_HIDDEN_UNITS, d_hidden_units=REPORT_D_HIDDEN_UNITS)
def gman(
    net,
    conv=False,
    num_discriminators=None,
    varied=False,
    stacked=False,
    label_smoothing=None,
    **game_kwargs,
):
    """GMAN with the GMAN report's nets: N discriminators, mean aggregator.

    Args:
        data_shape, network options: see the module docstring.
        conv: DCGAN networks (dcgman).
        num_discriminators: N (None: the report's 5).
        varied: N discriminators of differing architecture
            (`kmgan.nets.varied_discriminators`).
        stacked: the N identical discriminators as one stacked model (DCGAN
            or MLP discriminators only).
        label_smoothing: as `gan`'s.
        **game_kwargs: `GMAN` arguments (aggregator, loss, d_steps, the
            shared hooks, ...).

    Returns:
        An uncompiled `GMAN`.
    """
    if stacked and varied:
        raise ValueError("stacked=True needs N identical discriminators; it excludes varied=True.")
    if stacked and not net.points and not conv:
        raise ValueError(
            "stacked=True stacks DCGAN or MLP discriminators: use game='dcgman' for "
            "images (the 'gman' preset's conv + fully connected nets have no stacked "
            "builder), or 2-D data."
        )
    n = 5 if num_discriminators is None else num_discriminators
    return _report_game(net, conv, varied, label_smoothing, game_kwargs, n=n, stacked=stacked)


#: GAN with DCGAN's nets (MLPs on points).
dcgan = functools.partial(gan, conv=True)
#: GMAN with DCGAN's nets.
dcgman = functools.partial(gman, conv=True)


def report_game(data_shape, conv=False, multi=False, **options):
    """The GMAN report's GAN, GMAN, DCGAN and DCGMAN (Xu et al.).

    Args:
        data_shape: (d,) or (H, W, C).
        conv: DCGAN networks (dcgan, dcgman).
        multi: GMAN (`gman`'s options), else GAN (`gan`'s).
        **options: the options of `gan` or `gman`.

    Returns:
        An uncompiled `GAN` or `GMAN`.
    """
    if multi:
        return gman(data_shape, conv=conv, **options)
    game = "dcgan" if conv else "gan"
    if options.pop("num_discriminators", None) is not None:
        raise ValueError(f"num_discriminators is for gman/dcgman, not {game!r}.")
    if options.pop("stacked", False):
        raise ValueError(f"stacked=True is for gman/dcgman, not {game!r}.")
    return gan(data_shape, conv=conv, **options)


def _report_game(net, conv, varied, label_smoothing, game_kwargs, n=None, stacked=False):
    """The report's GAN (n=None) or GMAN of n discriminators."""
    if label_smoothing is None:  # soft labels mean nothing to hinge / Wasserstein losses
        loss = game_kwargs.get("loss", "non_saturating")
        label_smoothing = 0.0 if conv or loss in ("hinge", "wasserstein") else 0.1
    options = dict(label_smoothing=label_smoothing, seed=net.seed, **game_kwargs)
    name = ("dc" if conv else "") + ("gan" if n is None else "gman")
    if net.points:
        generator = nets.mlp_generator(latent_dim=net.latent_dim, seed=net.seed, **net.g_size)
    else:
        g_fn = nets.dcgan_generator if conv else nets.conv_fc_generator
        generator = g_fn(latent_dim=net.latent_dim, seed=net.seed, **net.g_size)
    ds = _report_discriminators(net, conv, 1 if n is None else n, varied, stacked)
    if n is None:
        return GAN(generator, ds[0], name=name, **options)
    return GMAN(generator, ds, name=name, **options)


def _report_discriminators(net, conv, n, varied, stacked):
    """The report's n discriminators (or one stacked model of n)."""
    seed = net.seed + 1
    if stacked:
        stack = stacked_mlp_discriminator if net.points else stacked_dcgan_discriminator
        return stack(n, name="discriminators", seed=seed, **net.d_size)
    if varied:
        return nets.varied_discriminators(n, seed=seed, **net.d_size)
    if net.points:
        d_fn = nets.mlp_discriminator
    else:
        d_fn = nets.dcgan_discriminator if conv else nets.conv_fc_discriminator
    return [d_fn(name=f"discriminator_{i}", seed=seed + i, **net.d_size) for i in range(n)]


# ----------------------------------------------- multi-generator games


@network_builder()
def mgan(net, num_generators=10, variant="general", **game_kwargs):
    """MGAN: K generators sharing all but their first layer, D and C sharing a trunk.

    Args:
        data_shape, network options: see the module docstring.
        num_generators: K (10 on CIFAR-10 in the paper).
        variant: the classifier variant ("general", "one_vs_all", "pairwise").
        **game_kwargs: `MGAN` arguments (beta, loss, the shared hooks, ...).
    """
    if net.points:
        g_fn, d_fn = nets.mgan_mlp_generator, nets.mgan_mlp_discriminator
    else:
        g_fn, d_fn = nets.mgan_generator, nets.mgan_discriminator
    g = g_fn(num_generators, net.latent_dim, seed=net.seed, **net.g_size)
    d = d_fn(num_generators, variant=variant, seed=net.seed + 1, **net.d_size)
    return MGAN(g, d, variant=variant, seed=net.seed, **game_kwargs)


#: `madgan(generators=)`: how MAD-GAN's K generators share layers.
MADGAN_GENERATORS = ("shared", "first", "independent")


@network_builder()
def madgan(net, num_generators=3, generators="shared", unshared_layers=1, **game_kwargs):
    """MAD-GAN: K generators sharing their early layers, a (K+1)-way D.

    Args:
        data_shape, network options: see the module docstring.
        num_generators: K.
        generators: how the K generators share layers: "shared" (the
            paper's: every layer shared but the last `unshared_layers`),
            "first" (MGAN's layout: each generator owns its projection of
            z, the rest shared) or "independent" (K DCGAN generators, no
            layer shared, seeded `seed + 1000 (i + 1)` so they differ).
            "first" and "independent" are for images only.
        unshared_layers: with "shared" on images, how many of the last
            layers each generator owns (1: the output layer; see
            `kmgan.nets.madgan_generator`).
        **game_kwargs: `MADGAN` arguments (loss, similarity, the shared
            hooks, ...).

    Raises:
        ValueError: for an unknown `generators`, "first"/"independent" on
            points, or `unshared_layers` other than 1 where it means nothing.
    """
    if generators not in MADGAN_GENERATORS:
        raise ValueError(f"generators must be one of {MADGAN_GENERATORS}, got {generators!r}.")
    if net.points and generators != "shared":
        raise ValueError(f"generators={generators!r} is for images; points take 'shared'.")
    if unshared_layers != 1 and (net.points or generators != "shared"):
        raise ValueError("unshared_layers is an option of generators='shared' on images.")
    if net.points:
        g = nets.madgan_mlp_generator(num_generators, net.latent_dim, seed=net.seed, **net.g_size)
        d = nets.madgan_mlp_discriminator(num_generators, seed=net.seed + 1, **net.d_size)
        return MADGAN(g, d, seed=net.seed, **game_kwargs)
    if generators == "independent":
        g = [
            nets.dcgan_generator(
                net.latent_dim, seed=net.seed + 1000 * (i + 1), name=f"generator_{i}", **net.g_size
            )
            for i in range(num_generators)
        ]
    elif generators == "first":
        g = nets.multi_dcgan_generator(
            num_generators, net.latent_dim, unshared="first", seed=net.seed, **net.g_size
        )
    else:
        g = nets.madgan_generator(
            num_generators,
            net.latent_dim,
            seed=net.seed,
            unshared_layers=unshared_layers,
            **net.g_size,
        )
    d = nets.madgan_discriminator(num_generators, seed=net.seed + 1, **net.d_size)
    return MADGAN(g, d, seed=net.seed, **game_kwargs)


@network_builder()
def megan(net, num_generators=5, gate_encoding_dim=None, gate_hidden_units=None, **game_kwargs):
    """MEGAN: n experts, a Gumbel-softmax gate, one D.

    Args:
        data_shape, network options: see the module docstring.
        num_generators: n (3, 5 or 10 in the paper).
        gate_encoding_dim, gate_hidden_units: the gate's m and hidden layers
            (None: `kmgan.nets.megan_gate`'s defaults).
        **game_kwargs: `MEGAN` arguments (lam, loss, d_steps, the shared
            hooks, ...).
    """
    n = num_generators
    if net.points:
        experts = nets.megan_mlp_experts(n, net.latent_dim, seed=net.seed, **net.g_size)
        d = nets.mlp_discriminator(seed=net.seed + 1, **net.d_size)
    else:
        experts = nets.megan_experts(n, net.latent_dim, seed=net.seed, **net.g_size)
        d = nets.dcgan_discriminator(seed=net.seed + 1, **net.d_size)
    gate_options = {}
    if gate_encoding_dim is not None:
        gate_options["encoding_dim"] = gate_encoding_dim
    if gate_hidden_units is not None:
        gate_options["hidden_units"] = tuple(gate_hidden_units)
    gate = nets.megan_gate(
        n, net.latent_dim, int(experts.outputs[1].shape[-1]), seed=net.seed + 2, **gate_options
    )
    return MEGAN(experts, d, gate=gate, seed=net.seed, **game_kwargs)


# ------------------------------------------------------ labelled games


@network_builder(images_only=True)
def cgan(net, num_classes=10, **game_kwargs):
    """Conditional GAN: conditional DCGAN nets G(z, y), D(x, y) (images only).

    Args:
        data_shape, network options: see the module docstring.
        num_classes: number of classes.
        **game_kwargs: `ConditionalGAN` arguments.
    """
    g = nets.conditional_generator(
        num_classes, latent_dim=net.latent_dim, seed=net.seed, **net.g_size
    )
    d = nets.conditional_discriminator(num_classes, seed=net.seed + 1, **net.d_size)
    return ConditionalGAN(g, d, num_classes=num_classes, seed=net.seed, **game_kwargs)


@network_builder(images_only=True, latent_dim=128, base_filters=256)
def controlgan(net, num_classes=10, classifier_widths=None, classifier_blocks=3, **game_kwargs):
    """ControlGAN with ScoreGAN's Table 1 nets (images only).

    SNGAN ResNets: `base_filters` is the generator's and discriminator's
    width (256 in Table 1). The classifier is an independent network of
    Table 1's own size, (32, 64, 128, 128), whatever the GAN's width, less
    the last stages where the image size does not halve that often (28x28:
    (32, 64, 128)). Images (H, W, C) are square, H >= 8.

    Args:
        data_shape, network options: see the module docstring.
        num_classes: number of classes.
        classifier_widths: the classifier's stage widths (None: Table 1's).
            ControlGAN's label control rests on this classifier: one that
            learns slowly keeps gamma_t near 0 and the generator blind to
            the labels.
        classifier_blocks: ResBlocks per classifier stage (3 in Table 1).
        **game_kwargs: `ControlGAN` arguments (the shared hooks included).
    """
    players = _control_players(net, num_classes, classifier_widths, classifier_blocks)
    return ControlGAN(*players, num_classes=num_classes, seed=net.seed, **game_kwargs)


@network_builder(images_only=True, latent_dim=128, base_filters=256)
def scoregan(
    net, evaluator=None, num_classes=10, classifier_widths=None, classifier_blocks=3, **game_kwargs
):
    """ScoreGAN: ControlGAN's Table 1 nets plus a frozen evaluator (images only).

    Args:
        data_shape, network options: see the module docstring.
        evaluator: the frozen evaluator, e.g.
            `kmgan.evaluators.mobilenet_v2(weights="imagenet")` (required).
        num_classes, classifier_widths, classifier_blocks: as `controlgan`.
        **game_kwargs: `ScoreGAN` arguments.
    """
    if evaluator is None:
        raise ValueError(
            "scoregan needs an evaluator: a frozen keras.Model giving class "
            "probabilities, e.g. kmgan.evaluators.mobilenet_v2(weights='imagenet') "
            "(or weights='/path/to/mobilenet_v2_....h5'); without one it is controlgan."
        )
    players = _control_players(net, num_classes, classifier_widths, classifier_blocks)
    return ScoreGAN(
        *players, evaluator=evaluator, num_classes=num_classes, seed=net.seed, **game_kwargs
    )


#: Table 1's classifier stage widths (CIFAR-10).
CLASSIFIER_WIDTHS = (32, 64, 128, 128)


def _control_players(net, num_classes, classifier_widths, classifier_blocks):
    """ControlGAN's G, D and C (Table 1's SNGAN ResNets) for `net`."""
    shape, width = net.data_shape, net.base_filters
    if classifier_widths is None:
        widths = list(CLASSIFIER_WIDTHS)
        while len(widths) > 1 and shape[0] % 2 ** (len(widths) - 1):
            widths.pop()  # one downsampling stage fewer (28x28: three stages)
    else:
        widths = [int(w) for w in classifier_widths]
    return (
        nets.sngan_generator(
            num_classes, latent_dim=net.latent_dim, image_shape=shape, width=width, seed=net.seed
        ),
        nets.sngan_discriminator(image_shape=shape, width=net.d_base_filters, seed=net.seed + 1),
        nets.sngan_classifier(
            num_classes,
            image_shape=shape,
            widths=tuple(widths),
            blocks_per_stage=classifier_blocks,
            seed=net.seed + 2,
        ),
    )
