"""The games: one module per paper, and `registry` of them all by name."""

from kmgan.games import registry
from kmgan.games.conditional import ConditionalGAN
from kmgan.games.controlgan import ControlGAN
from kmgan.games.gan import GAN
from kmgan.games.gman import GMAN
from kmgan.games.madgan import MADGAN
from kmgan.games.megan import MEGAN
from kmgan.games.mgan import MGAN
from kmgan.games.scoregan import ScoreGAN

__all__ = [
    "GAN",
    "GMAN",
    "MADGAN",
    "MEGAN",
    "MGAN",
    "ConditionalGAN",
    "ControlGAN",
    "ScoreGAN",
    "registry",
]
