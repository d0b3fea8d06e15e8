"""kmgan: multi-player GAN games for Keras 3 (TensorFlow and JAX)."""

from kmgan import engine
from kmgan import evaluators
from kmgan import games
from kmgan import losses
from kmgan import metrics
from kmgan import nets
from kmgan import data
from kmgan import callbacks
from kmgan import augment
from kmgan.games import GAN
from kmgan.games import ConditionalGAN
from kmgan.games import ControlGAN
from kmgan.games import ScoreGAN
from kmgan.games import GMAN
from kmgan.games import MADGAN
from kmgan.games import MEGAN
from kmgan.games import MGAN

__version__ = "0.1.0"
