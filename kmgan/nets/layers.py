"""Former home of the builders' shared helpers (it never held a layer).

Kept so that `from kmgan.nets.layers import ...` goes on working: the
helpers now live in `kmgan.nets.blocks` (seeds, initializers, stock-layer
factories), `kmgan.nets.shapes` (supported image shapes, reading shapes back
from models) and `kmgan.checks` (argument checks). kmgan's custom layers are
in `kmgan.layers`.
"""

from kmgan.checks import check_dropout
from kmgan.checks import check_positive_int
from kmgan.checks import check_units
from kmgan.nets.blocks import BN_EPSILON
from kmgan.nets.blocks import BN_MOMENTUM
from kmgan.nets.blocks import LEAKY_SLOPE
from kmgan.nets.blocks import SeedStream
from kmgan.nets.blocks import dcgan_batch_norm
from kmgan.nets.blocks import dcgan_kernel_init
from kmgan.nets.blocks import leaky_relu
from kmgan.nets.shapes import SUPPORTED_CHANNELS
from kmgan.nets.shapes import SUPPORTED_SPATIAL
from kmgan.nets.shapes import check_image_shape
from kmgan.nets.shapes import image_shape_of
from kmgan.nets.shapes import latent_dim_of
from kmgan.nets.shapes import supported_shapes_text

__all__ = [
    "BN_EPSILON",
    "BN_MOMENTUM",
    "LEAKY_SLOPE",
    "SUPPORTED_CHANNELS",
    "SUPPORTED_SPATIAL",
    "SeedStream",
    "check_dropout",
    "check_image_shape",
    "check_positive_int",
    "check_units",
    "dcgan_batch_norm",
    "dcgan_kernel_init",
    "image_shape_of",
    "latent_dim_of",
    "leaky_relu",
    "supported_shapes_text",
]
