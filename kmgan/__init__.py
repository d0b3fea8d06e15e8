"""kmgan: multi-player GAN games for Keras 3 (TensorFlow, JAX and PyTorch)."""

#: The package version (pyproject.toml reads it from here).
__version__ = "0.1.0"

from kmgan import augment
from kmgan import callbacks
from kmgan import checks
from kmgan import data
from kmgan import diffaug
from kmgan import engine
from kmgan import evaluators
from kmgan import games
from kmgan import io
from kmgan import layers
from kmgan import losses
from kmgan import metrics
from kmgan import nets
from kmgan import resume
from kmgan import samplers
from kmgan import saving
from kmgan.games import GAN
from kmgan.games import GMAN
from kmgan.games import MADGAN
from kmgan.games import MEGAN
from kmgan.games import MGAN
from kmgan.games import ConditionalGAN
from kmgan.games import ControlGAN
from kmgan.games import ScoreGAN

__all__ = [
    "__version__",
    # the games, in the README's order
    "GAN",
    "GMAN",
    "MGAN",
    "MADGAN",
    "MEGAN",
    "ConditionalGAN",
    "ControlGAN",
    "ScoreGAN",
    # the packages
    "augment",
    "callbacks",
    "checks",
    "data",
    "diffaug",
    "engine",
    "evaluators",
    "games",
    "io",
    "layers",
    "losses",
    "metrics",
    "nets",
    "resume",
    "samplers",
    "saving",
]
