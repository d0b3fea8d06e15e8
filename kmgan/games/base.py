"""The bases of every game with generators: hooks, saving, sampling.

- `AdversarialGame`: what every generator game has, however many
  generators: the shared hooks (`kmgan.games.hooks`: evaluator guidance,
  gradient penalty, `d_steps`), whole-game saving, the paper's default
  optimizers for `compile()`, and `discriminate`.
- `GeneratorGame`: one generator G(z) (GAN, GMAN; `ConditionalGame` for
  G(z, y)). `kmgan.games.multi.MultiGeneratorGame`: K generators.

A subclass sets its generator(s) in `_set_generator`, which the base
constructor calls before it checks the hooks against the data shape.
"""

import types

import keras
import numpy as np
from keras import ops

from kmgan.engine import GameModel
from kmgan.games.hooks import GameHooks
from kmgan.games.hooks import check_hook_args
from kmgan.games.hooks import check_steps
from kmgan.games.hooks import hook_log_names

#: The GMAN report's Adam settings (Xu et al.), `compile()`'s default for
#: GAN, DCGAN, GMAN and DCGMAN.
GMAN_REPORT_ADAM = types.MappingProxyType({"learning_rate": 1e-4, "beta_1": 0.5})


def adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.999):
    """Adam with DCGAN's settings by default (Radford et al. 2015)."""
    return keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2)


class AdversarialGame(GameHooks, GameModel):
    """A game of generator(s) against discriminator(s), with the shared hooks.

    Args:
        generator: the generator network(s), as the subclass's
            `_set_generator` takes them.
        d_steps: discriminator steps per generator step (>= 1).
        log_names: names of the game's own logs (the hooks add theirs).
        seed: seed of the game's noise.
        name: model name.
        **hooks: the shared hooks, `evaluator`, `score_weight`,
            `score_cap` and `gp_weight` (see `kmgan.games.hooks`).
    """

    #: compile's optimizer names, in positional order (`kmgan.engine.GameModel`).
    optimizer_roles = ("discriminator", "generator")

    #: Adam settings `compile()` gives every role by default (DCGAN's; a game
    #: sets its paper's, or overrides `default_optimizers`).
    optimizer_defaults = {"learning_rate": 2e-4, "beta_1": 0.5}

    def __init__(self, generator, d_steps=1, log_names=None, seed=None, name=None, **hooks):
        check_hook_args(type(self).__name__, hooks)
        names = tuple(log_names or type(self).log_names) + hook_log_names(hooks)
        super().__init__(log_names=names, seed=seed, name=name)
        self._set_generator(generator)
        self.d_steps = check_steps(d_steps, "d_steps")
        self._init_hooks(**hooks)

    def _set_generator(self, generator):
        """Checks and stores the generator network(s)."""
        raise NotImplementedError

    def default_optimizers(self):
        """Adam(`optimizer_defaults`) for every role in `optimizer_roles`."""
        return {role: adam(**self.optimizer_defaults) for role in self.optimizer_roles}

    def player_variables(self):
        """The two players' trainable variables: `self.discriminator`'s and
        the generator(s)'. A game with other players overrides this."""
        return {
            "discriminator": self.discriminator.trainable_variables,
            "generator": self.generator_variables(),
        }

    def generator_variables(self):
        """The trainable variables of the generator network(s), one list."""
        raise NotImplementedError

    # Saving a whole game: its networks are serialized inside its config, so
    # `game.save("gan.keras")` / `keras.saving.load_model` round-trip it with
    # every player's weights (the optimizers' state is for BackupAndRestore).
    # By default the generator(s) and one discriminator, as `player_variables`.
    network_args = ("generator", "discriminator")

    def get_config(self):
        config = {"name": self.name, "seed": self.seed, "d_steps": self.d_steps}
        config.update(self.hooks_config())
        config.update(self.game_config())
        if self.evaluator is not None:  # the frozen model inside the guidance
            config["evaluator"] = keras.saving.serialize_keras_object(self.evaluator.evaluator)
        for arg in self.network_args:
            if arg == "evaluator":
                continue
            value = getattr(self, arg)
            if isinstance(value, (list, tuple)):
                config[arg] = [keras.saving.serialize_keras_object(m) for m in value]
            else:
                config[arg] = keras.saving.serialize_keras_object(value)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for arg in dict.fromkeys(tuple(cls.network_args) + ("evaluator",)):
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


class GeneratorGame(AdversarialGame):
    """A game whose fake data come from one generator `G(z)`.

    Args:
        generator: a `keras.Model` mapping z of shape (latent_dim,) to data.
        d_steps, log_names, seed, name, **hooks: see `AdversarialGame`.
    """

    def _set_generator(self, generator):
        _check_model(generator, "generator")
        if len(generator.inputs) != 1 or len(generator.inputs[0].shape) != 2:
            raise ValueError(
                "The generator must take one input z of shape (latent_dim,); "
                f"got inputs {[tuple(i.shape) for i in generator.inputs]}."
            )
        self.generator = generator
        self.latent_dim = int(generator.inputs[0].shape[-1])

    @property
    def data_shape(self):
        return tuple(self.generator.outputs[0].shape[1:])

    def generator_variables(self):
        return list(self.generator.trainable_variables)

    def sample_z(self, batch_size):
        """Draws a batch of N(0, I) noise from the game's seed generator."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

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
        z = np.random.default_rng(seed).standard_normal((num_samples, self.latent_dim))
        return self.generate(z, batch_size=batch_size)


def real_data(data):
    """The real examples of a batch given as x or (x, y[, sample_weight])."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x


def loss_config(loss):
    """The constructor arguments of a game's `kmgan.losses.AdversarialLoss`,
    for its `game_config`: `loss` (the name) and `label_smoothing`."""
    return {"loss": loss.name, "label_smoothing": loss.label_smoothing}


def _check_model(model, role):
    if not isinstance(model, keras.Model):
        raise TypeError(f"The {role} must be a keras.Model, got {type(model)}.")


def check_input_shape(model, data_shape, role, index=0, maker="the generator produces"):
    """Raises unless `model` is a `keras.Model` whose input `index` takes
    examples of `data_shape` (TypeError, else ValueError).

    Args:
        model: the network to check.
        data_shape: the generator's example shape.
        role: the network's name in the message ("discriminator", ...).
        index: which of the model's inputs takes the examples.
        maker: the message's subject for the fakes' maker.
    """
    _check_model(model, role)
    in_shape = tuple(model.inputs[index].shape[1:])
    if in_shape != tuple(data_shape):
        raise ValueError(
            f"The {role} takes inputs of shape {in_shape} but {maker} {tuple(data_shape)}."
        )


def check_discriminator(discriminator, data_shape, role="discriminator"):
    """Raises ValueError unless `discriminator` maps data_shape to (1,) logits."""
    check_input_shape(discriminator, data_shape, role)
    out_shape = tuple(discriminator.outputs[0].shape[1:])
    if out_shape not in ((1,), ()):
        raise ValueError(f"The {role} must output one logit per example, got shape {out_shape}.")
