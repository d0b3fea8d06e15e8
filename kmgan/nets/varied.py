"""A panel of N architecturally different discriminators (for GMAN).

Xu et al.'s GMAN report found that N identical discriminators add little
over one: started from the same architecture they learn much the same
function, so the generator gets the same feedback N times. This module
builds N discriminators that differ in width, depth, kernel size and dropout
on a fixed, documented schedule.

Schedule (discriminator i, counting from 0):

    width multiplier  WIDTHS[i % 5]         = (1, 0.5, 2, 0.75, 1.5)
    kernel size       KERNELS[i % 3]        = (4, 3, 5)      (images only)
    dropout           DROPOUTS[i % 4]       = (0, 0.2, 0.4, 0.1)
    depth             default + DEPTH_OFFSETS[i % 2] = +0, +1

Because the periods 5, 3 and 4 are pairwise coprime, the first 60
configurations are pairwise distinct (Chinese remainder theorem); for the
MLP variant (no kernel size) the first 20 are. Discriminator 0 is always the
plain default network (width 1x, kernel 4, no dropout, default depth).

Image discriminators are `dcgan_discriminator`s (width scales
`base_filters`; depth is the number of stride-2 blocks, default 2/3/4 for
28/32/64 pixels). Vector discriminators are `mlp_discriminator`s (width
scales every hidden layer; depth +1 repeats the last hidden layer).
"""

from kmgan.checks import check_positive_int
from kmgan.checks import check_units
from kmgan.nets.dcgan import DEFAULT_D_DEPTH
from kmgan.nets.dcgan import dcgan_discriminator
from kmgan.nets.dcgan import max_discriminator_depth
from kmgan.nets.mlp import mlp_discriminator
from kmgan.nets.shapes import check_image_shape

WIDTHS = (1.0, 0.5, 2.0, 0.75, 1.5)
KERNELS = (4, 3, 5)
DROPOUTS = (0.0, 0.2, 0.4, 0.1)
DEPTH_OFFSETS = (0, 1)

#: Initializer seeds of discriminator i start at `seed + SEED_STRIDE * i`.
SEED_STRIDE = 1000


def _scaled(units, mult):
    return max(1, int(round(units * mult)))


def varied_discriminator_configs(
    n,
    image_shape=None,
    input_dim=None,
    base_filters=64,
    hidden_units=(128, 128),
):
    """The builder arguments `varied_discriminators` uses, without building.

    Args:
        n: Number of discriminators, >= 1.
        image_shape: Image shape for `dcgan_discriminator` nets; give exactly
            one of `image_shape` and `input_dim`.
        input_dim: Sample dimension for `mlp_discriminator` nets.
        base_filters: Width-1x `base_filters` of the image discriminators.
        hidden_units: Width-1x hidden layers of the MLP discriminators.

    Returns:
        A list of n dicts of keyword arguments (including `name`,
        "discriminator_i") for `dcgan_discriminator` or `mlp_discriminator`.

    Raises:
        ValueError: If `n` < 1, or not exactly one of `image_shape` and
            `input_dim` is given, or either is invalid.
    """
    n = check_positive_int(n, "n")
    if (image_shape is None) == (input_dim is None):
        raise ValueError("Give exactly one of `image_shape` and `input_dim`.")
    configs = []
    if image_shape is not None:
        image_shape = check_image_shape(image_shape)
        base_filters = check_positive_int(base_filters, "base_filters")
        default_depth = DEFAULT_D_DEPTH[image_shape[0]]
        max_depth = max_discriminator_depth(image_shape)
        for i in range(n):
            configs.append(
                dict(
                    image_shape=image_shape,
                    base_filters=_scaled(base_filters, WIDTHS[i % len(WIDTHS)]),
                    kernel_size=KERNELS[i % len(KERNELS)],
                    dropout=DROPOUTS[i % len(DROPOUTS)],
                    depth=min(
                        default_depth + DEPTH_OFFSETS[i % len(DEPTH_OFFSETS)],
                        max_depth,
                    ),
                    name=f"discriminator_{i}",
                )
            )
    else:
        input_dim = check_positive_int(input_dim, "input_dim")
        hidden_units = check_units(hidden_units)
        for i in range(n):
            units = [_scaled(u, WIDTHS[i % len(WIDTHS)]) for u in hidden_units]
            if DEPTH_OFFSETS[i % len(DEPTH_OFFSETS)] and units:
                units.append(units[-1])
            configs.append(
                dict(
                    input_dim=input_dim,
                    hidden_units=tuple(units),
                    dropout=DROPOUTS[i % len(DROPOUTS)],
                    name=f"discriminator_{i}",
                )
            )
    return configs


def varied_discriminators(
    n,
    image_shape=None,
    input_dim=None,
    seed=0,
    base_filters=64,
    hidden_units=(128, 128),
):
    """Build n discriminators that differ in width, depth, kernel and dropout.

    See the module docstring for the schedule. All return raw logits of
    shape (batch, 1) and are named "discriminator_0" ... "discriminator_{n-1}".

    Args:
        n: Number of discriminators, >= 1.
        image_shape: Image shape; builds `dcgan_discriminator`s. Give exactly
            one of `image_shape` and `input_dim`.
        input_dim: Sample dimension; builds `mlp_discriminator`s.
        seed: Int: discriminator i's initializers are seeded from
            `seed + 1000 * i`, so the same call builds the same weights.
            None: weights come from Keras' global RNG.
        base_filters: Width-1x `base_filters` of the image discriminators.
        hidden_units: Width-1x hidden layers of the MLP discriminators.

    Returns:
        A list of n functional `keras.Model`s.

    Raises:
        ValueError: If `n` < 1, or not exactly one of `image_shape` and
            `input_dim` is given, or either is invalid.
    """
    configs = varied_discriminator_configs(
        n,
        image_shape=image_shape,
        input_dim=input_dim,
        base_filters=base_filters,
        hidden_units=hidden_units,
    )
    build = dcgan_discriminator if image_shape is not None else mlp_discriminator
    return [
        build(**cfg, seed=None if seed is None else int(seed) + SEED_STRIDE * i)
        for i, cfg in enumerate(configs)
    ]
