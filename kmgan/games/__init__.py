"""The games: one module per paper."""

from kmgan.games.conditional import ConditionalGAN
from kmgan.games.controlgan import ControlGAN
from kmgan.games.gan import GAN
from kmgan.games.gman import GMAN
from kmgan.games.madgan import MADGAN
from kmgan.games.megan import MEGAN
from kmgan.games.mgan import MGAN
from kmgan.games.scoregan import ScoreGAN
