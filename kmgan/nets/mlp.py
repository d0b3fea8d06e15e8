"""Multilayer perceptrons for low-dimensional toy data (e.g. 2-D mixtures).

Used by the mode-coverage experiments on synthetic Gaussian mixtures (rings
and grids of Gaussians) in the GMAN, MGAN and MAD-GAN papers. The generator
has a linear output (toy data is not bounded to [-1, 1]); the discriminator
returns raw logits of shape (batch, 1).
"""

import keras
from keras import layers

from kmgan.checks import check_dropout
from kmgan.checks import check_positive_int
from kmgan.checks import check_units
from kmgan.nets.blocks import SeedStream
from kmgan.nets.blocks import leaky_block


def _glorot(seeds):
    return keras.initializers.GlorotUniform(seed=seeds())


def mlp_generator(
    latent_dim=2,
    output_dim=2,
    hidden_units=(128, 128),
    activation="relu",
    name="mlp_generator",
    seed=None,
):
    """Build an MLP generator for toy data.

    z -> [Dense(u, activation)] for u in `hidden_units` -> Dense(output_dim)
    with a linear output.

    Args:
        latent_dim: Size of the latent vector z.
        output_dim: Dimension of a generated sample.
        hidden_units: Int or sequence of ints, the hidden layer widths
            (may be empty).
        activation: Keras activation name of the hidden layers.
        name: Model name.
        seed: Optional int seeding every initializer; None draws from the
            global RNG.

    Returns:
        A functional `keras.Model` mapping (batch, latent_dim) to
        (batch, output_dim).

    Raises:
        ValueError: If a size argument is not a positive integer.
    """
    latent_dim = check_positive_int(latent_dim, "latent_dim")
    output_dim = check_positive_int(output_dim, "output_dim")
    hidden_units = check_units(hidden_units)
    seeds = SeedStream(seed)

    z = keras.Input(shape=(latent_dim,), name="z")
    x = z
    for i, units in enumerate(hidden_units):
        x = layers.Dense(
            units,
            activation=activation,
            kernel_initializer=_glorot(seeds),
            name=f"dense{i + 1}",
        )(x)
    out = layers.Dense(output_dim, kernel_initializer=_glorot(seeds), name="sample")(x)
    return keras.Model(z, out, name=name)


def mlp_discriminator(
    input_dim=2,
    hidden_units=(128, 128),
    dropout=0.0,
    name="mlp_discriminator",
    seed=None,
):
    """Build an MLP discriminator for toy data.

    x -> [Dense(u) -> LeakyReLU(0.2) -> Dropout] for u in `hidden_units` ->
    Dense(1) raw logits.

    Args:
        input_dim: Dimension of a sample.
        hidden_units: Int or sequence of ints, the hidden layer widths
            (may be empty).
        dropout: Dropout rate after each hidden layer, in [0, 1); 0 adds no
            Dropout layer.
        name: Model name.
        seed: Optional int seeding every initializer; None draws from the
            global RNG.

    Returns:
        A functional `keras.Model` mapping (batch, input_dim) to logits of
        shape (batch, 1).

    Raises:
        ValueError: If a size argument is invalid.
    """
    input_dim = check_positive_int(input_dim, "input_dim")
    hidden_units = check_units(hidden_units)
    dropout = check_dropout(dropout)
    seeds = SeedStream(seed)

    inp = keras.Input(shape=(input_dim,), name="x")
    x = mlp_trunk(inp, hidden_units, seeds, dropout)
    logits = layers.Dense(1, kernel_initializer=_glorot(seeds), name="logits")(x)
    return keras.Model(inp, logits, name=name)


def mlp_trunk(x, hidden_units, seeds, dropout=0.0, dense=None):
    """The hidden layers of `mlp_discriminator`, on `x`.

    [Dense(u) -> LeakyReLU(0.2) -> Dropout] for u in `hidden_units`, named
    "dense{i}", "dense{i}_lrelu", "dense{i}_dropout", Glorot-uniform kernels.

    Args:
        x: Input tensor.
        hidden_units: Checked hidden widths.
        seeds: A `SeedStream`.
        dropout: Checked dropout rate; 0 adds no Dropout layer.
        dense: Optional `dense(units, **kwargs)` building each layer
            (default `keras.layers.Dense`).

    Returns:
        The last hidden layer's output (`x` when there is none).
    """
    dense = layers.Dense if dense is None else dense
    for i, units in enumerate(hidden_units):
        layer = dense(units, kernel_initializer=_glorot(seeds), name=f"dense{i + 1}")
        x = leaky_block(x, layer, seeds, batch_norm=False, dropout=dropout)
    return x
