"""Ready-made games: the GMAN report's four models and the 2-D toy setups.

The GMAN report (Xu et al., UCSD) compares "GAN" (a few convolutions, then
fully connected layers near the output), "GMAN" (the same nets, 5
discriminators, mean aggregator), DCGAN and DCGMAN, with Adam (lr 1e-4,
beta_1 0.5), LeakyReLU 0.2, batch norm, and soft labels for GAN/GMAN.

Every game, these four included, is built by name in
`kmgan.games.registry`; `build_game` is that registry's GMAN-report entry
point with the report's options spelled out.
"""

import keras

from kmgan.games import registry

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
        hidden_units: width of the MLPs (2-D data): D's hidden layers; G
            has one more of the last width.
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
    options = dict(
        latent_dim=latent_dim,
        loss=loss,
        label_smoothing=label_smoothing,
        base_filters=base_filters,
        hidden_units=tuple(hidden_units) + (hidden_units[-1],),
        d_hidden_units=tuple(hidden_units),
        seed=seed,
        varied=varied,
    )
    if game in ("gman", "dcgman"):
        options.update(
            num_discriminators=num_discriminators, aggregator=aggregator, stacked=stacked
        )
    elif stacked:
        raise ValueError(f"stacked=True is for gman/dcgman, not {game!r}.")
    return registry.build(game, data_shape, **options)


def adam(learning_rate=1e-4, beta_1=0.5):
    """The report's optimizer: Adam(1e-4, beta_1=0.5)."""
    return keras.optimizers.Adam(learning_rate, beta_1=beta_1)
