"""The games: one module per paper."""

from kmgan.games.gan import GAN
from kmgan.games.gman import GMAN
