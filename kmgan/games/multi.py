"""What every multi-generator game offers: K generators, experts, samplers.

A multi-generator game holds its K generators either as

* one batched model (`kmgan.nets.multi`): inputs `[z, generator]` with
  `generator` a (K,) one-hot per example, output the sample; every
  example goes through its own generator and all K share one forward pass;
* or a list of K independent models z -> sample (e.g. K
  `kmgan.nets.dcgan_generator`s): in training each one is called once on
  its own block of the fake batch.

In a round the fake batch is laid out in K equal blocks, block k made by
G_k (`samples_per_generator` examples each, by default ceil(batch / K)),
so the mixture is exactly uniform over generators and each generator's
expectation E_{x ~ p_Gk} is the mean over its block.

`export_sampler()` returns one `.keras`-ready model (a
`kmgan.samplers.Sampler`, the protocol every game's sampler follows) with inputs
`[z (latent_dim,), generator () int32, optional]`: an index in [0, K)
draws from that expert, -1 (or `None` for the whole batch) from the
mixture as the game samples it (uniform here; gated for MEGAN):

    sampler = game.export_sampler()
    sampler.save("experts.keras")
    sampler = keras.saving.load_model("experts.keras")   # after import kmgan
    x = sampler.predict([z, None])                        # the mixture
    x3 = sampler.predict([z, np.full(len(z), 3, "int32")])  # expert 3
"""

import keras
import numpy as np
from keras import layers
from keras import ops

from kmgan import samplers
from kmgan.games.base import AdversarialGame
from kmgan.layers.choice import SelectGenerator
from kmgan.layers.choice import UniformChoice
from kmgan.samplers import SAMPLER_INDEX
from kmgan.samplers import expert_grid
from kmgan.samplers import num_generators as sampler_num_generators

__all__ = [
    "SAMPLER_INDEX",
    "MultiGeneratorGame",
    "expert_grid",
    "per_generator_mean",
    "sampler_num_generators",
]


class MultiGeneratorGame(AdversarialGame):
    """Base class of games with K generators (MGAN, MAD-GAN; MEGAN sets its
    experts in its own `_set_generator`).

    Args:
        generator: a batched multi-generator `keras.Model` `[z, one-hot] ->
            x`, or a list of K `keras.Model`s z -> x.
        samples_per_generator: fakes per generator in a round; None gives
            ceil(batch / K) (a fake batch at least as large as the real one).
        same_noise: feed every generator the same z in a round (block k of
            the noise is block 0), as the MGAN authors' code does
            (`same_input=True`); the default draws fresh z per block.
        **kwargs: `kmgan.games.base.AdversarialGame`'s arguments (d_steps,
            log_names, seed, name and the shared hooks).
    """

    def __init__(self, generator, samples_per_generator=None, same_noise=False, **kwargs):
        super().__init__(generator, **kwargs)
        if samples_per_generator is not None and int(samples_per_generator) < 1:
            raise ValueError(f"samples_per_generator must be >= 1, got {samples_per_generator}.")
        self.samples_per_generator = (
            None if samples_per_generator is None else int(samples_per_generator)
        )
        self.same_noise = bool(same_noise)

    def _set_generator(self, generator):
        if isinstance(generator, (list, tuple)):
            generators = list(generator)
            if not generators:
                raise ValueError("Pass at least one generator.")
            for i, g in enumerate(generators):
                _check_single(g, f"generator {i}")
            if len({id(g) for g in generators}) != len(generators):
                raise ValueError("The K generators must be distinct models.")
            shapes = {tuple(g.outputs[0].shape[1:]) for g in generators}
            dims = {int(g.inputs[0].shape[-1]) for g in generators}
            if len(shapes) != 1 or len(dims) != 1:
                raise ValueError(
                    "The K generators must share their latent size and output "
                    f"shape; got latent sizes {sorted(dims)}, outputs {sorted(shapes)}."
                )
            self.generators = generators
            self.generator = None
            self.num_generators = len(generators)
            self.latent_dim = dims.pop()
            self._data_shape = shapes.pop()
        else:
            _check_multi(generator)
            self.generators = None
            self.generator = generator
            self.num_generators = int(generator.inputs[1].shape[-1])
            self.latent_dim = int(generator.inputs[0].shape[-1])
            self._data_shape = tuple(generator.outputs[0].shape[1:])

    # ---------------------------------------------------------------- saving
    # A whole game saves to `.keras` like GAN and GMAN: its networks are
    # serialized inside its config (see `AdversarialGame.get_config`), K
    # independent generators as a list.
    def get_config(self):
        config = super().get_config()
        if getattr(self, "generators", None) is not None:
            config["generator"] = [keras.saving.serialize_keras_object(g) for g in self.generators]
        return config

    # --------------------------------------------------------------- players
    @property
    def data_shape(self):
        return self._data_shape

    def generator_variables(self):
        """The trainable variables of all K generators (one list)."""
        if self.generator is not None:
            return list(self.generator.trainable_variables)
        return [v for g in self.generators for v in g.trainable_variables]

    def sample_z(self, batch_size):
        """Draws a batch of N(0, I) noise from the game's seed generator."""
        return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)

    def block_size(self, batch_size):
        """Fakes per generator for a real batch of `batch_size`."""
        if self.samples_per_generator is not None:
            return self.samples_per_generator
        k = self.num_generators
        return (batch_size + k - 1) // k

    def block_noise(self, per_generator):
        """z for a fake batch of K blocks (the same block K times with
        `same_noise`)."""
        if self.same_noise:
            return ops.tile(self.sample_z(per_generator), (self.num_generators, 1))
        return self.sample_z(self.num_generators * per_generator)

    def block_assignment(self, per_generator):
        """(K * per_generator, K) one-hot: block k of the fakes is G_k's."""
        k = self.num_generators
        index = ops.arange(k * per_generator) // per_generator
        return ops.one_hot(index, k, dtype="float32")

    def d_step_fakes(self, per_generator):
        """A discriminator step's fakes: fresh `block_noise` through
        `generate_blocks` (training mode), with no gradient to the generators.

        Returns:
            `(fakes, assignment)`, as `generate_blocks`.
        """
        z = self.block_noise(per_generator)
        fake, assignment = self.generate_blocks(z, per_generator, training=True)
        return ops.stop_gradient(fake), assignment

    def generate_blocks(self, z, per_generator, training=False):
        """The fake batch: block k of `z` (per_generator rows) through G_k.

        Args:
            z: (K * per_generator, latent_dim) noise.
            per_generator: block size.
            training: the generators' training flag.

        Returns:
            `(fakes, assignment)`: the samples and their (K*n, K) one-hot
            generator labels.
        """
        assignment = self.block_assignment(per_generator)
        if self.generator is not None:
            return self.generator([z, assignment], training=training), assignment
        parts = [
            g(z[i * per_generator : (i + 1) * per_generator], training=training)
            for i, g in enumerate(self.generators)
        ]
        return ops.concatenate(parts, axis=0), assignment

    # ---------------------------------------------------------------- sampler
    def export_sampler(self):
        """The game's sampler: one `kmgan.samplers.Sampler` for `.keras` files.

        Inputs `[z (latent_dim,), generator () int32, optional]`; index in
        [0, K) samples that expert, -1 (or None for the batch) the mixture
        (uniform over generators). Output: samples of `data_shape`. The sampler
        shares the game's generator layers (it is built once and cached) and
        stores its kind, `"multi"`.
        """
        sampler = self.__dict__.get("_sampler_cache")
        if sampler is None:
            sampler = samplers.as_sampler(self._build_sampler(), "multi")
            # Kept out of Keras' tracking: the sampler's own state (its
            # choice noise) must not join the game's training state.
            object.__setattr__(self, "_sampler_cache", sampler)
        return sampler

    def _build_sampler(self):
        z = keras.Input((self.latent_dim,), name="z")
        index = keras.Input((), dtype="int32", name=SAMPLER_INDEX, optional=True)
        choice = UniformChoice(self.num_generators, seed=self.seed, name="choice")(z, index)
        if self.generator is not None:
            x = self.generator([z, choice])
        else:
            shape = self.data_shape
            stacked = (
                layers.Concatenate(axis=1, name="stacked")(
                    [
                        layers.Reshape((1,) + shape, name=f"expand{i}")(g(z))
                        for i, g in enumerate(self.generators)
                    ]
                )
                if len(self.generators) > 1
                else layers.Reshape((1,) + shape, name="expand0")(self.generators[0](z))
            )
            x = SelectGenerator(axis=1, name="select")([stacked, choice])
        return keras.Model([z, index], x, name=f"{self.name}_sampler")

    def _mixture_index(self, num):
        """Generator indices `generate` uses for the mixture: i mod K
        (stratified, so a fixed z gives a fixed picture)."""
        return np.arange(num, dtype="int32") % self.num_generators

    def generate(self, z, generator=None, batch_size=256):
        """Samples from z as a NumPy array (inference mode).

        Args:
            z: (N, latent_dim) noise.
            generator: None (the mixture), an int in [0, K) (one expert), or
                an int array (N,) of indices (-1: mixture).
            batch_size: inference batch size.
        """
        z = np.asarray(z, "float32")
        if generator is None:
            index = self._mixture_index(len(z))
        else:
            index = np.broadcast_to(np.asarray(generator, "int32"), (len(z),)).copy()
            if index.max(initial=-1) >= self.num_generators:
                raise ValueError(
                    f"Generator index {index.max()} out of range for K={self.num_generators}."
                )
        if index is None:  # the sampler's own mixture draw
            index = np.full((len(z),), -1, "int32")
        return self.export_sampler().predict([z, index], batch_size=batch_size, verbose=0)

    def sample(self, num_samples, seed=None, batch_size=256, generator=None):
        """Draws `num_samples` samples from fresh N(0, I) noise.

        Args:
            num_samples: how many.
            seed: seed of the NumPy noise (and of the mixture's draws).
            batch_size: inference batch size.
            generator: as in `generate`; None samples the mixture with a
                generator drawn uniformly per sample (MEGAN: by the gate).
        """
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((num_samples, self.latent_dim)).astype("float32")
        if generator is None:
            generator = self._random_index(rng, num_samples)
        return self.generate(z, generator=generator, batch_size=batch_size)

    def _random_index(self, rng, num):
        return rng.integers(0, self.num_generators, size=num).astype("int32")

    def sample_per_generator(self, num_per_generator, seed=None, batch_size=256):
        """`num_per_generator` samples from each expert, shape (K, n, ...).

        All experts get the same z (row i of every expert shares z_i), which
        makes a grid with one row per generator easy to compare.
        """
        rng = np.random.default_rng(seed)
        z = rng.standard_normal((num_per_generator, self.latent_dim)).astype("float32")
        return np.stack(
            [
                self.generate(z, generator=k, batch_size=batch_size)
                for k in range(self.num_generators)
            ]
        )

    def call(self, z, training=False):
        onehot = ops.one_hot(ops.arange(ops.shape(z)[0]) % self.num_generators, self.num_generators)
        if self.generator is not None:
            return self.generator([z, onehot], training=training)
        stacked = ops.stack([g(z, training=training) for g in self.generators], axis=-1)
        return ops.sum(
            stacked
            * ops.reshape(onehot, (-1,) + (1,) * len(self.data_shape) + (self.num_generators,)),
            axis=-1,
        )


def per_generator_mean(values, assignment):
    """E_{x ~ p_Gk}[values] for each generator k, from one-hot labels.

    Args:
        values: (batch,) or (batch, M) per-example values.
        assignment: (batch, K) one-hot generator labels.

    Returns:
        (K,) or (K, M): the mean of `values` over each generator's examples.
    """
    assignment = ops.cast(assignment, "float32")
    counts = ops.maximum(ops.sum(assignment, axis=0), 1.0)  # (K,)
    values = ops.cast(values, "float32")
    if len(values.shape) == 1:
        return ops.matmul(ops.transpose(assignment), values[:, None])[:, 0] / counts
    return ops.matmul(ops.transpose(assignment), values) / counts[:, None]


def _check_single(model, role):
    if not isinstance(model, keras.Model):
        raise TypeError(f"The {role} must be a keras.Model, got {type(model)}.")
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 2:
        raise ValueError(
            f"The {role} must take one input z of shape (latent_dim,); got "
            f"inputs {[tuple(i.shape) for i in model.inputs]}."
        )


def _check_multi(model):
    if not isinstance(model, keras.Model):
        raise TypeError(
            "The generator must be a multi-generator keras.Model "
            "(kmgan.nets.multi) or a list of K keras.Models; got "
            f"{type(model)}."
        )
    shapes = [tuple(i.shape) for i in model.inputs]
    if len(shapes) != 2 or len(shapes[0]) != 2 or len(shapes[1]) != 2:
        raise ValueError(
            "A multi-generator model takes inputs [z (latent_dim,), generator "
            f"one-hot (K,)]; got inputs {shapes}. Pass a list of K models for "
            "independent generators."
        )
