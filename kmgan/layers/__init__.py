"""kmgan's custom Keras layers.

Every layer here is registered with `keras.saving` under the package
"kmgan" (`"kmgan>ClassName"`), so any model holding them saves to `.keras`
and reloads with `keras.saving.load_model(path, safe_mode=True)` on any
backend once `kmgan` is imported. The registered names are what `.keras`
files store: they never change when a layer moves between modules.

* Several layers in one (`dense_slices`, `stacked`): `MultiDense`,
  `GroupedDense` (K generators' or experts' dense layers),
  `GroupedConv2DTranspose` (`grouped_conv_transpose`: K experts'
  transposed convolutions), `StackedConv2D`,
  `StackedDense`, `StackedFlatten` (N discriminators' layers), and their
  per-slice initializers (`slices`).
* Multi-generator samplers (`choice`): `SelectGenerator`, `UniformChoice`,
  `GumbelChoice`.
* Normalization (`spectral_norm`, `conditional_batch_norm`):
  `SpectralConv2D`, `SpectralDense`, `ConditionalBatchNormalization`.
* Augmentation (`random_image`, `noise`): `RandomBlur`, `RandomShear`,
  `RandomGaussianNoise`, `RandomSpeckleNoise`, `RandomSaltAndPepper`.

The architecture builders that use them are in `kmgan.nets`.
"""

from kmgan.layers.choice import GumbelChoice
from kmgan.layers.choice import SelectGenerator
from kmgan.layers.choice import UniformChoice
from kmgan.layers.conditional_batch_norm import ConditionalBatchNormalization
from kmgan.layers.dense_slices import GroupedDense
from kmgan.layers.dense_slices import MultiDense
from kmgan.layers.grouped_conv_transpose import GroupedConv2DTranspose
from kmgan.layers.noise import RandomGaussianNoise
from kmgan.layers.noise import RandomSaltAndPepper
from kmgan.layers.noise import RandomSpeckleNoise
from kmgan.layers.random_image import RandomBlur
from kmgan.layers.random_image import RandomImageLayer
from kmgan.layers.random_image import RandomShear
from kmgan.layers.slices import conv_slices_initializer
from kmgan.layers.slices import stacked_initializer
from kmgan.layers.spectral_norm import SpectralConv2D
from kmgan.layers.spectral_norm import SpectralDense
from kmgan.layers.stacked import StackedConv2D
from kmgan.layers.stacked import StackedDense
from kmgan.layers.stacked import StackedFlatten

__all__ = [
    "ConditionalBatchNormalization",
    "GroupedConv2DTranspose",
    "GroupedDense",
    "GumbelChoice",
    "MultiDense",
    "RandomBlur",
    "RandomGaussianNoise",
    "RandomImageLayer",
    "RandomSaltAndPepper",
    "RandomShear",
    "RandomSpeckleNoise",
    "SelectGenerator",
    "SpectralConv2D",
    "SpectralDense",
    "StackedConv2D",
    "StackedDense",
    "StackedFlatten",
    "UniformChoice",
    "conv_slices_initializer",
    "stacked_initializer",
]
