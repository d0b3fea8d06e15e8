"""Architecture builders for kmgan's players.

Every builder returns a functional `keras.Model` (of stock Keras layers, or
kmgan's registered ones for the multi-player nets), so it saves to `.keras` and reloads with
`keras.saving.load_model(path, safe_mode=True)`. Discriminators return raw
logits of shape (batch, 1); the games' losses apply the sigmoid.

* `dcgan_generator`, `dcgan_discriminator`: Radford et al. (2015) DCGAN for
  28x28, 32x32 and 64x64 images with 1 or 3 channels.
* `conv_fc_generator`, `conv_fc_discriminator`: the GMAN report's "regular
  GAN" (3 convolutional layers, fully connected output) for 28x28 / 32x32.
* `mlp_generator`, `mlp_discriminator`: MLPs for 2-D toy mixtures.
* `varied_discriminators`: N discriminators of differing architecture.
* `stacked_dcgan_discriminator`, `stacked_mlp_discriminator`: N independent
  discriminators of one architecture as one model with (batch, N) logits
  (GMAN takes it in place of a list; compile time stays flat in N);
  `unstack_discriminator` / `stack_discriminators` convert between the two
  forms. These use kmgan's own registered layers (import kmgan before
  loading them).
* `latent_dim_of`, `image_shape_of`: read shapes back from built models.
"""

from kmgan.nets.conditional import conditional_discriminator
from kmgan.nets.conditional import conditional_generator
from kmgan.nets.conv_fc import conv_fc_discriminator
from kmgan.nets.conv_fc import conv_fc_generator
from kmgan.nets.dcgan import dcgan_discriminator
from kmgan.nets.dcgan import dcgan_generator
from kmgan.nets.dcgan import max_discriminator_depth
from kmgan.nets.megan import megan_experts
from kmgan.nets.megan import megan_gate
from kmgan.nets.megan import megan_mlp_experts
from kmgan.nets.mlp import mlp_discriminator
from kmgan.nets.mlp import mlp_generator
from kmgan.nets.multi import madgan_discriminator
from kmgan.nets.multi import madgan_generator
from kmgan.nets.multi import madgan_mlp_discriminator
from kmgan.nets.multi import madgan_mlp_generator
from kmgan.nets.multi import mgan_discriminator
from kmgan.nets.multi import mgan_generator
from kmgan.nets.multi import mgan_mlp_discriminator
from kmgan.nets.multi import mgan_mlp_generator
from kmgan.nets.multi import multi_dcgan_generator
from kmgan.nets.multi import multi_mlp_generator
from kmgan.nets.shapes import image_shape_of
from kmgan.nets.shapes import latent_dim_of
from kmgan.nets.sngan import sngan_classifier
from kmgan.nets.sngan import sngan_discriminator
from kmgan.nets.sngan import sngan_generator
from kmgan.nets.stacked import stack_discriminators
from kmgan.nets.stacked import stacked_dcgan_discriminator
from kmgan.nets.stacked import stacked_mlp_discriminator
from kmgan.nets.stacked import unstack_discriminator
from kmgan.nets.varied import varied_discriminator_configs
from kmgan.nets.varied import varied_discriminators

__all__ = [
    "conditional_discriminator",
    "conditional_generator",
    "sngan_classifier",
    "sngan_discriminator",
    "sngan_generator",
    "madgan_discriminator",
    "madgan_generator",
    "madgan_mlp_discriminator",
    "madgan_mlp_generator",
    "megan_experts",
    "megan_gate",
    "megan_mlp_experts",
    "mgan_discriminator",
    "mgan_generator",
    "mgan_mlp_discriminator",
    "mgan_mlp_generator",
    "multi_dcgan_generator",
    "multi_mlp_generator",
    "conv_fc_discriminator",
    "conv_fc_generator",
    "dcgan_discriminator",
    "dcgan_generator",
    "image_shape_of",
    "latent_dim_of",
    "max_discriminator_depth",
    "mlp_discriminator",
    "mlp_generator",
    "stack_discriminators",
    "stacked_dcgan_discriminator",
    "stacked_mlp_discriminator",
    "unstack_discriminator",
    "varied_discriminator_configs",
    "varied_discriminators",
]
