"""What every game with a generator offers: noise, sampling, data shape."""

import keras
import numpy as np
from keras import ops

from kmgan.engine import GameModel


class GeneratorGame(GameModel):
    """A game whose fake data come from one generator `G(z)`.

    Args:
        generator: a `keras.Model` mapping z of shape (latent_dim,) to data.
        log_names, seed, name: see `GameModel`.
    """

    def __init__(self, generator, log_names=None, seed=None, name=None):
        super().__init__(log_names=log_names, seed=seed, name=name)
        _check_model(generator, "generator")
        if len(generator.inputs) != 1 or len(generator.inputs[0].shape) != 2:
            raise ValueError(
                "The generator must take one input z of shape (latent_dim,); "
                f"got inputs {[tuple(i.shape) for i in generator.inputs]}."
            )
        self.generator = generator
        self.latent_dim = int(generator.inputs[0].shape[-1])

    # Saving a whole game: its networks are serialized inside its config, so
    # `game.save("gan.keras")` / `keras.saving.load_model` round-trip it with
    # every player's weights (the optimizers' state is for BackupAndRestore).
    network_args = ("generator",)

    def get_config(self):
        config = {"name": self.name, "seed": self.seed}
        config.update(self.game_config())
        guidance = getattr(self, "evaluator", None)
        if guidance is not None:
            config.update(score_weight=guidance.weight, score_cap=guidance.cap)
        for arg in self.network_args:
            value = getattr(self, arg)
            if value is not None and arg == "evaluator":
                value = value.evaluator  # the frozen model inside the guidance
            if isinstance(value, (list, tuple)):
                config[arg] = [keras.saving.serialize_keras_object(m) for m in value]
            else:
                config[arg] = keras.saving.serialize_keras_object(value)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for arg in cls.network_args:
            value = config.get(arg)
            if value is None:
                continue
            if isinstance(value, list):
                config[arg] = [keras.saving.deserialize_keras_object(m) for m in value]
            else:
                config[arg] = keras.saving.deserialize_keras_object(value)
        return cls(**config)

    def game_config(self):
        """The game's own constructor arguments, other than its networks."""
        return {}

    def get_compile_config(self):
        # Players' optimizers are per game and not restored by load_model;
        # compile the loaded game again to keep training it.
        return None

    @property
    def data_shape(self):
        return tuple(self.generator.outputs[0].shape[1:])

    def sample_z(self, batch_size):
        """Draws a batch of N(0, I) noise from the game's seed generator."""
        return keras.random.normal(
            (batch_size, self.latent_dim), seed=self.seed_generator
        )

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def generate(self, z, batch_size=256):
        """Returns G(z) as a NumPy array (inference mode)."""
        return self.generator.predict(np.asarray(z, "float32"), batch_size=batch_size, verbose=0)

    def sample(self, num_samples, seed=None, batch_size=256):
        """Draws `num_samples` fakes from fresh N(0, I) noise.

        Args:
            num_samples: how many samples.
            seed: seed of the NumPy noise (the training noise is untouched).
            batch_size: inference batch size.

        Returns:
            NumPy array of shape (num_samples,) + data_shape.
        """
        z = np.random.default_rng(seed).standard_normal(
            (num_samples, self.latent_dim)
        )
        return self.generate(z, batch_size=batch_size)

    def discriminate(self, x, batch_size=256):
        """The game's probability that each example of `x` is real.

        Returns:
            NumPy array of shape (len(x),) in [0, 1].
        """
        x = np.asarray(x, "float32")
        out = [
            ops.convert_to_numpy(self.real_probability(x[i : i + batch_size]))
            for i in range(0, len(x), batch_size)
        ]
        return np.concatenate(out).reshape(-1)

    def real_probability(self, x):
        """Backend tensor of P(real | x) for a batch (inference mode)."""
        raise NotImplementedError


def real_data(data):
    """The real examples of a batch given as x or (x, y[, sample_weight])."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x


def _check_model(model, role):
    if not isinstance(model, keras.Model):
        raise TypeError(f"The {role} must be a keras.Model, got {type(model)}.")


def check_discriminator(discriminator, data_shape, role="discriminator"):
    """Raises ValueError unless `discriminator` maps data_shape to (1,) logits."""
    _check_model(discriminator, role)
    in_shape = tuple(discriminator.inputs[0].shape[1:])
    out_shape = tuple(discriminator.outputs[0].shape[1:])
    if in_shape != tuple(data_shape):
        raise ValueError(
            f"The {role} takes inputs of shape {in_shape} but the generator "
            f"produces {tuple(data_shape)}."
        )
    if out_shape not in ((1,), ()):
        raise ValueError(
            f"The {role} must output one logit per example, got shape {out_shape}."
        )
