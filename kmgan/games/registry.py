"""Every kmgan game by name: its class, default networks and paper defaults.

    from kmgan.games import registry

    registry.names()                   # ('gan', 'dcgan', 'gman', ...)
    game = registry.build("mgan", (32, 32, 3), num_generators=10)
    game.compile()                     # the paper's optimizers
    game.fit(kmgan.data.load("cifar10", batch_size=64), epochs=...)

`build(name, data_shape, **overrides)` builds the game's default networks
for `data_shape` (`(2,)` points: MLPs; `(H, W, C)` images: the paper's
convolutional nets, where they exist) and the game with its paper's
hyper-parameters; `overrides` change any network option
(`kmgan.games.builders`) or constructor argument of the game. A game's
`compile()` without optimizers gives its paper's optimizers
(`game.default_optimizers()`).

Adding a game: its module in `kmgan/games/`, a builder in
`kmgan/games/builders.py`, a `GameSpec` in `GAMES` below, its tests.
"""

import dataclasses
import inspect
import types
from collections.abc import Callable

from kmgan.games import builders
from kmgan.games.base import AdversarialGame
from kmgan.games.conditional import ConditionalGAN
from kmgan.games.controlgan import ControlGAN
from kmgan.games.gan import GAN
from kmgan.games.gman import GMAN
from kmgan.games.hooks import HOOK_ARGS
from kmgan.games.madgan import MADGAN
from kmgan.games.megan import MEGAN
from kmgan.games.mgan import MGAN
from kmgan.games.scoregan import ScoreGAN

#: `kmgan train --quick`'s networks unless a game says otherwise: 8 filters.
QUICK = {"base_filters": 8}


@dataclasses.dataclass(frozen=True)
class GameSpec:
    """One registered game.

    Attributes:
        name: the registry name (`kmgan train --game <name>`).
        game_class: the game's class.
        builder: `builder(data_shape, **options) -> game` (see
            `kmgan.games.builders`).
        description: one line, for `--help` and tables.
        hyper_parameters: the paper defaults the builder uses (read-only;
            the builder's own keyword defaults).
        labels: the game trains on `(images, labels)` batches.
        images_only: its default networks exist for images only.
        needs_evaluator: `build` needs `evaluator=` (a frozen scorer).
        quick: the build options of `kmgan train --quick`: the smallest
            networks for a smoke run (the game's own hyper-parameters).
    """

    name: str
    game_class: type
    builder: Callable
    description: str
    labels: bool = False
    images_only: bool = False
    needs_evaluator: bool = False
    quick: dict = dataclasses.field(default_factory=lambda: dict(QUICK))

    @property
    def hyper_parameters(self):
        """The defaults `build` uses: the builder's and the game class's
        keyword defaults (the paper's settings), read-only."""
        defaults = _constructor_defaults(self.game_class)
        defaults.update(_defaults(self.builder))
        return types.MappingProxyType(
            {k: v for k, v in sorted(defaults.items()) if k not in _NOT_OPTIONS}
        )

    def options(self):
        """Every keyword `build` accepts: network options and game arguments."""
        names = set(_defaults(self.builder)) | set(_constructor_defaults(self.game_class))
        names.update(HOOK_ARGS[:-1])  # not the deprecated alias
        return tuple(sorted(names - _NOT_OPTIONS))

    def check_shape(self, data_shape):
        """Raises ValueError unless default networks exist for `data_shape`'s kind."""
        shape = tuple(data_shape)
        if len(shape) not in (1, 3) or not all(isinstance(d, int) and d > 0 for d in shape):
            raise ValueError(
                f"{self.name}: examples must have shape (d,) (points) or (H, W, C) "
                f"(images); got {shape}."
            )
        if self.images_only and len(shape) == 1:
            raise ValueError(
                f"{self.name} has default networks for images (H, W, C) only; got "
                f"examples of shape {shape}."
            )

    def build(self, data_shape, **overrides):
        """The game with its default networks for `data_shape` (uncompiled)."""
        self.check_shape(data_shape)
        unknown = sorted(set(overrides) - set(self.options()))
        if unknown:
            raise ValueError(
                f"{self.name} takes no option {unknown}; its options are {list(self.options())}."
            )
        return self.builder(tuple(data_shape), **overrides)


GAMES = {
    spec.name: spec
    for spec in (
        GameSpec(
            "gan",
            GAN,
            builders.gan,
            "GAN with the GMAN report's conv + fully connected nets, soft labels",
        ),
        GameSpec("dcgan", GAN, builders.dcgan, "GAN with DCGAN's nets (Radford et al.)"),
        GameSpec(
            "gman",
            GMAN,
            builders.gman,
            "GMAN: 1 G against N = 5 Ds, the report's nets (Durugkar et al.)",
        ),
        GameSpec("dcgman", GMAN, builders.dcgman, "GMAN with DCGAN's nets"),
        GameSpec(
            "mgan",
            MGAN,
            builders.mgan,
            "MGAN: K generators, a classifier and a discriminator (Hoang et al.)",
        ),
        GameSpec(
            "madgan",
            MADGAN,
            builders.madgan,
            "MAD-GAN: K generators against a (K+1)-way discriminator (Ghosh et al.)",
        ),
        GameSpec(
            "megan",
            MEGAN,
            builders.megan,
            "MEGAN: experts chosen by a Gumbel-softmax gate (Park et al.)",
        ),
        GameSpec(
            "cgan",
            ConditionalGAN,
            builders.cgan,
            "Conditional GAN: G(z, y) against D(x, y) (Mirza & Osindero)",
            labels=True,
            images_only=True,
        ),
        GameSpec(
            "controlgan",
            ControlGAN,
            builders.controlgan,
            "ControlGAN: conditional G, D and an independent classifier (Lee & Seok)",
            labels=True,
            images_only=True,
            quick=dict(QUICK, classifier_blocks=1, classifier_widths=[8, 16]),
        ),
        GameSpec(
            "scoregan",
            ScoreGAN,
            builders.scoregan,
            "ScoreGAN: ControlGAN guided by a frozen evaluator's score (Lee & Seok)",
            labels=True,
            images_only=True,
            needs_evaluator=True,
            quick=dict(QUICK, classifier_blocks=1, classifier_widths=[8, 16]),
        ),
    )
}


#: Builder and constructor arguments that `build` fills itself.
_NOT_OPTIONS = {
    "conv",
    "multi",
    "name",
    "log_names",
    "generator",
    "discriminator",
    "discriminators",
    "classifier",
    "experts",
    "gate",
}


def _defaults(fn):
    """{keyword: default} of `fn`'s keyword parameters (None for required ones)."""
    out = {}
    for n, p in inspect.signature(fn).parameters.items():
        if n in ("self", "data_shape") or p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        out[n] = None if p.default is inspect.Parameter.empty else p.default
    return out


def _constructor_defaults(game_class):
    """`_defaults` of a game's constructor, and of its bases' that its
    `**kwargs` reach (ScoreGAN passes them on to ControlGAN)."""
    out = {}
    for cls in game_class.__mro__:
        if "__init__" not in vars(cls):
            continue
        for name, default in _defaults(cls.__init__).items():
            out.setdefault(name, default)
        params = inspect.signature(cls.__init__).parameters.values()
        if cls is AdversarialGame or not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return out


def names():
    """The registered games' names, in registry order."""
    return tuple(GAMES)


def get(name):
    """The `GameSpec` of `name`; ValueError listing `names()` for an unknown one."""
    try:
        return GAMES[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown game {name!r}; choose one of {names()}.") from None


def build(name, data_shape, **overrides):
    """Builds the game `name` with its default networks for `data_shape`.

    Args:
        name: a registered name (`names()`).
        data_shape: shape of one example: `(d,)` points or `(H, W, C)` images.
        **overrides: network options (`latent_dim`, `hidden_units`,
            `d_hidden_units`, `base_filters`, `d_base_filters`, `seed`, and
            per game e.g. `num_generators`, `num_discriminators`, `stacked`,
            `num_classes`, `evaluator`) and any constructor argument of the
            game (`aggregator`, `beta`, `lam`, `loss`, `d_steps`,
            `gp_weight`, ...). `get(name).options()` lists them.

    Returns:
        The uncompiled game; `game.compile()` gives its paper's optimizers.

    Raises:
        ValueError: for an unknown name or option, or a data shape the
            default networks do not support.
    """
    return get(name).build(data_shape, **overrides)
