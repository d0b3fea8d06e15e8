"""Ready-made games: the GMAN report's four models and the 2-D toy setups.

The GMAN report (Xu et al., UCSD) compares "GAN" (a few convolutions, then
fully connected layers near the output), "GMAN" (the same nets, 5
discriminators, mean aggregator), DCGAN and DCGMAN, with Adam (lr 1e-4,
beta_1 0.5), LeakyReLU 0.2, batch norm, and soft labels for GAN/GMAN.
"""

import keras

from kmgan import nets
from kmgan.games import GAN
from kmgan.games import GMAN
from kmgan.nets.stacked import stacked_dcgan_discriminator
from kmgan.nets.stacked import stacked_mlp_discriminator

GAMES = ("gan", "gman", "dcgan", "dcgman")


def build_game(
    game,
    data_shape,
    latent_dim=100,
    num_discriminators=5,
    aggregator="mean",
    varied=False,
    loss="non_saturating",
    label_smoothing=None,
    base_filters=64,
    hidden_units=(128, 128),
    seed=0,
    stacked=False,
):
    """Builds one of the GMAN report's games for images, or an MLP game for 2-D data.

    Args:
        game: "gan", "gman", "dcgan" or "dcgman".
        data_shape: shape of one example: (H, W, C) images or (2,) points.
        latent_dim: size of z.
        num_discriminators: N for gman/dcgman.
        aggregator: GMAN aggregator.
        varied: build N discriminators of differing architecture.
        loss: adversarial loss name.
        label_smoothing: None picks the report's setting: soft labels (0.1)
            for gan/gman, none for dcgan/dcgman.
        base_filters: width of the convolutional nets.
        hidden_units: width of the MLPs (2-D data).
        seed: seed of the initializers and of the game's noise.
        stacked: gman/dcgman only: the N identical discriminators as ONE
            stacked model (`kmgan.nets.stacked_dcgan_discriminator`, or
            `stacked_mlp_discriminator` for 2-D data), one graph and one
            optimizer for all N (same game, compiles in about constant time
            in N). Needs DCGAN or MLP discriminators: dcgman or 2-D data,
            not `varied`.

    Returns:
        An uncompiled `GAN` or `GMAN`.
    """
    if game not in GAMES:
        raise ValueError(f"Unknown game '{game}'; choose one of {GAMES}.")
    data_shape = tuple(data_shape)
    multi = game in ("gman", "dcgman")
    conv = game.startswith("dc")
    if label_smoothing is None:
        label_smoothing = 0.0 if conv else 0.1
    n = num_discriminators if multi else 1
    if stacked:
        if not multi:
            raise ValueError(f"stacked=True is for gman/dcgman, not {game!r}.")
        if varied:
            raise ValueError("stacked=True needs N identical discriminators; it excludes varied=True.")
        if len(data_shape) != 1 and not conv:
            raise ValueError(
                "stacked=True stacks DCGAN or MLP discriminators: use game='dcgman' for "
                "images (the 'gman' preset's conv + fully connected nets have no stacked "
                "builder), or 2-D data."
            )

    if len(data_shape) == 1:
        generator = nets.mlp_generator(
            latent_dim=latent_dim, output_dim=data_shape[0],
            hidden_units=tuple(hidden_units) + (hidden_units[-1],), seed=seed,
        )
        if stacked:
            ds = stacked_mlp_discriminator(
                n, data_shape[0], hidden_units, name="discriminators", seed=seed + 1
            )
        elif varied:
            ds = nets.varied_discriminators(n, input_dim=data_shape[0], seed=seed + 1, hidden_units=hidden_units)
        else:
            ds = [
                nets.mlp_discriminator(data_shape[0], hidden_units, name=f"discriminator_{i}", seed=seed + 1 + i)
                for i in range(n)
            ]
    else:
        g_fn, d_fn = (
            (nets.dcgan_generator, nets.dcgan_discriminator)
            if conv
            else (nets.conv_fc_generator, nets.conv_fc_discriminator)
        )
        generator = g_fn(latent_dim=latent_dim, image_shape=data_shape, base_filters=base_filters, seed=seed)
        if stacked:
            ds = stacked_dcgan_discriminator(
                n, image_shape=data_shape, base_filters=base_filters, name="discriminators", seed=seed + 1
            )
        elif varied:
            ds = nets.varied_discriminators(n, image_shape=data_shape, seed=seed + 1, base_filters=base_filters)
        else:
            ds = [
                d_fn(image_shape=data_shape, base_filters=base_filters, name=f"discriminator_{i}", seed=seed + 1 + i)
                for i in range(n)
            ]
    if multi:
        return GMAN(generator, ds, aggregator=aggregator, loss=loss,
                    label_smoothing=label_smoothing, seed=seed, name=game)
    return GAN(generator, ds[0], loss=loss, label_smoothing=label_smoothing, seed=seed, name=game)


def adam(learning_rate=1e-4, beta_1=0.5):
    """The report's optimizer: Adam(1e-4, beta_1=0.5)."""
    return keras.optimizers.Adam(learning_rate, beta_1=beta_1)
