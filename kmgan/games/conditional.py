"""Conditional GAN (Mirza & Osindero 2014) and the conditional-game base.

One round of `ConditionalGAN` (real batch x with labels y):

    for k steps:
        D descends  L_D(D(x, y), D(G(z, y'), y'))     # fresh z each step
    G descends      L_G(D(G(z, y'), y'))              # fresh z

where y' are the labels the fakes are asked for: the batch's own labels
(`fake_labels="data"`, the default: fakes follow the data's class
frequencies) or classes drawn uniformly (`fake_labels="uniform"`).

Conditional games train on `(images, labels)` batches (`kmgan.data.load(...,
labels=True)` or `fit(x, y)`) and sample with `game.sample(z, labels)` or
`game.sample(num_samples, labels=...)`. The generator is any `keras.Model`
with two inputs, z (batch, latent_dim) and integer labels (batch,) or
(batch, 1) (e.g. `kmgan.nets.conditional.conditional_generator`); it saves
and reloads as a `.keras` file taking `[z, labels]`.

For GAM battles, a conditional discriminator's P(real | x) without labels is
the mean over classes of sigmoid(D(x, c)) (a uniform prior on the class);
`real_probability(x, labels)` uses given labels.
"""

import keras
import numpy as np
from keras import ops

from kmgan import losses
from kmgan.games.base import GeneratorGame
from kmgan.games.base import _check_model
from kmgan.games.base import check_input_shape
from kmgan.games.base import loss_config
from kmgan.games.base import real_data

FAKE_LABELS = ("data", "uniform")


def _is_int(tensor):
    return "int" in str(tensor.dtype)


def infer_num_classes(*models):
    """Number of classes read from the models' label layers, or None.

    Looks for a layer with a `num_classes` attribute (conditional batch norm)
    or a label `Embedding` (its `input_dim`).
    """
    for model in models:
        for layer in getattr(model, "layers", []):
            n = getattr(layer, "num_classes", None)
            if n:
                return int(n)
            if isinstance(layer, keras.layers.Embedding) and "label" in layer.name:
                return int(layer.input_dim)
    return None


def split_conditional_inputs(model, role):
    """Positions (z_or_image_index, labels_index) of a two-input model.

    The labels input is the one with an integer dtype.
    """
    _check_model(model, role)
    inputs = list(model.inputs or [])
    ints = [i for i, t in enumerate(inputs) if _is_int(t)]
    if len(inputs) != 2 or len(ints) != 1:
        raise ValueError(
            f"The conditional {role} must take two inputs, [z or image, "
            "labels], the labels with an integer dtype; got inputs "
            f"{[(tuple(t.shape), str(t.dtype)) for t in inputs]}."
        )
    label_index = ints[0]
    return 1 - label_index, label_index


class ConditionalGame(GeneratorGame):
    """A game whose fake data come from a conditional generator G(z, y).

    Args:
        generator: `keras.Model` with inputs z (batch, latent_dim) and integer
            labels (batch,) or (batch, 1), in either order.
        num_classes: number of classes; None reads it from the generator's
            label layers (`ConditionalBatchNormalization` or a label
            `Embedding`).
        fake_labels: "data" (fakes use the real batch's labels) or
            "uniform" (labels drawn uniformly at random).
        **kwargs: `kmgan.games.base.AdversarialGame`'s arguments (d_steps,
            log_names, seed, name and the shared hooks).
    """

    def __init__(self, generator, num_classes=None, fake_labels="data", **kwargs):
        super().__init__(generator, **kwargs)
        num_classes = num_classes or infer_num_classes(generator)
        if not num_classes or int(num_classes) < 1:
            raise ValueError("Pass num_classes: it cannot be read from the generator's layers.")
        self.num_classes = int(num_classes)
        if fake_labels not in FAKE_LABELS:
            raise ValueError(f"fake_labels must be one of {FAKE_LABELS}; got {fake_labels!r}.")
        self.fake_labels = fake_labels

    def _set_generator(self, generator):
        # G(z, y): two inputs, the labels the integer one.
        z_index, label_index = split_conditional_inputs(generator, "generator")
        z_shape = tuple(generator.inputs[z_index].shape)
        if len(z_shape) != 2 or z_shape[-1] is None:
            raise ValueError(f"The generator's z input must be (batch, latent_dim); got {z_shape}.")
        self.generator = generator
        self.latent_dim = int(z_shape[-1])
        self._z_index = z_index
        self._label_rank = len(generator.inputs[label_index].shape)

    # -------------------------------------------------------------- players
    def _pair(self, first, labels, first_index, label_rank):
        first = ops.convert_to_tensor(first)
        labels = ops.cast(ops.convert_to_tensor(labels), "int32")
        labels = ops.reshape(labels, (-1,) if label_rank == 1 else (-1, 1))
        return [first, labels] if first_index == 0 else [labels, first]

    def generate_batch(self, z, labels, training=False):
        """G(z, labels) as a backend tensor (for use inside `play`)."""
        return self.generator(
            self._pair(z, labels, self._z_index, self._label_rank), training=training
        )

    def sample_labels(self, batch_size):
        """Uniform class labels from the game's seed generator, int32 (batch,)."""
        return keras.random.randint(
            (batch_size,), 0, self.num_classes, seed=self.seed_generator, dtype="int32"
        )

    def labels_for_fakes(self, real_labels):
        """The labels the round's fakes are asked for (see `fake_labels`)."""
        if self.fake_labels == "data":
            return ops.reshape(ops.cast(real_labels, "int32"), (-1,))
        return self.sample_labels(ops.shape(real_labels)[0])

    @staticmethod
    def batch_labels(data):
        """The integer labels of an `(images, labels)` batch."""
        _, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None:
            raise ValueError(
                "A conditional game trains on (images, labels) batches; this batch has no labels."
            )
        return ops.reshape(ops.cast(y, "int32"), (-1,))

    # ------------------------------------------------------------- sampling
    def call(self, inputs, training=False):
        z, labels = inputs
        return self.generate_batch(z, labels, training=training)

    def statistics_inputs(self, z):
        return z, self._label_array(None, len(z))

    def _label_array(self, labels, n):
        if labels is None:  # cycle through the classes (a sample grid)
            labels = np.arange(n) % self.num_classes
        labels = np.asarray(labels)
        if labels.ndim == 0:
            labels = np.full((n,), int(labels))
        labels = labels.reshape(-1).astype("int32")
        if labels.shape[0] != n:
            raise ValueError(f"Got {labels.shape[0]} labels for {n} samples.")
        if labels.min() < 0 or labels.max() >= self.num_classes:
            raise ValueError(
                f"Labels must be in [0, {self.num_classes}); got [{labels.min()}, {labels.max()}]."
            )
        return labels

    def generate(self, z, labels=None, batch_size=256):
        """Returns G(z, labels) as a NumPy array (inference mode).

        Args:
            z: noise (n, latent_dim).
            labels: n class indices, one index for all samples, or None for
                classes cycling 0, 1, ..., num_classes - 1 (what
                `kmgan.callbacks.SampleGrid` gets).
            batch_size: inference batch size.
        """
        z = np.asarray(z, "float32")
        labels = self._label_array(labels, z.shape[0])
        if self._label_rank == 2:
            labels = labels[:, None]
        inputs = [z, labels] if self._z_index == 0 else [labels, z]
        return self.generator.predict(inputs, batch_size=batch_size, verbose=0)

    def sample(self, z_or_num_samples, labels=None, seed=None, batch_size=256):
        """Conditional samples: `sample(z, labels)` or `sample(n, labels=...)`.

        Args:
            z_or_num_samples: noise (n, latent_dim), or a number of samples
                n, drawn from N(0, I) with NumPy (the training noise is
                untouched).
            labels: n class indices, one index for all samples, or None for
                classes cycling 0, 1, ..., num_classes - 1 (a sample grid).
            seed: seed of the NumPy noise when n is given.
            batch_size: inference batch size.

        Returns:
            NumPy array (n,) + data_shape.
        """
        if np.ndim(z_or_num_samples) == 0:
            n = int(z_or_num_samples)
            z = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        else:
            z = z_or_num_samples
        return self.generate(z, labels, batch_size=batch_size)

    # ---------------------------------------------------------- data checks
    def fit(self, x=None, y=None, **kwargs):
        """`keras.Model.fit` after checking the data carry valid labels."""
        self.check_labels(_first_labels(x, y))
        return super().fit(x, y, **kwargs)

    def check_labels(self, labels):
        """Raises ValueError unless `labels` are class indices of this game."""
        if labels is None:
            raise ValueError(
                f"{type(self).__name__} trains on (images, labels) batches: use "
                "kmgan.data.load(..., labels=True) or fit(x, y)."
            )
        labels = np.asarray(labels)
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"Labels must be integer class indices; got dtype {labels.dtype}.")
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"Labels must be in [0, {self.num_classes}); got values in "
                f"[{labels.min()}, {labels.max()}]."
            )


def _first_labels(x, y):
    """Labels of the first batch of fit's data, or None when there are none."""
    if y is not None:
        return y
    if hasattr(x, "take") and hasattr(x, "element_spec"):  # tf.data.Dataset
        batches = list(x.take(1).as_numpy_iterator())
        if not batches:
            return np.zeros((0,), "int32")  # empty: fit's own check reports it
        batch = batches[0]
    elif isinstance(x, (list, tuple)):
        batch = x
    elif hasattr(x, "shape"):
        return None
    else:
        batch = next(iter(x))
    if isinstance(batch, (list, tuple)) and len(batch) >= 2:
        return batch[1]
    return None


@keras.saving.register_keras_serializable(package="kmgan")
class ConditionalGAN(ConditionalGame):
    """Conditional GAN: G(z, y) against D(x, y) (Mirza & Osindero 2014).

    Args:
        generator: conditional `keras.Model` [z, labels] -> data (e.g.
            `kmgan.nets.conditional.conditional_generator`).
        discriminator: conditional `keras.Model` [data, labels] -> one logit
            (e.g. `kmgan.nets.conditional.conditional_discriminator`).
        num_classes: number of classes (None: read from the networks).
        loss: name in `kmgan.losses.LOSSES` or an `AdversarialLoss`.
        label_smoothing: one-sided smoothing of D's real target.
        d_steps: discriminator steps per generator step.
        seed: seed of the game's noise.
        name: model name.
        **kwargs: `ConditionalGame`'s `fake_labels` ("data" or "uniform",
            see the module docs) and the shared hooks (`kmgan.games.hooks`):
            `evaluator`, `score_weight`, `score_cap`, `gp_weight` (the
            penalty's critic is D with the real batch's labels).
    """

    log_names = ("d_loss", "g_loss")

    def __init__(
        self,
        generator,
        discriminator,
        num_classes=None,
        loss="non_saturating",
        label_smoothing=0.0,
        d_steps=1,
        seed=None,
        name="conditional_gan",
        **kwargs,
    ):
        num_classes = num_classes or infer_num_classes(generator, discriminator)
        super().__init__(
            generator, num_classes=num_classes, d_steps=d_steps, seed=seed, name=name, **kwargs
        )
        x_index, label_index = split_conditional_inputs(discriminator, "discriminator")
        check_input_shape(discriminator, self.data_shape, "discriminator", index=x_index)
        if tuple(discriminator.outputs[0].shape[1:]) not in ((1,), ()):
            raise ValueError("The discriminator must output one logit per example.")
        self.discriminator = discriminator
        self._d_x_index = x_index
        self._d_label_rank = len(discriminator.inputs[label_index].shape)
        self.loss = losses.get(loss, label_smoothing)

    def game_config(self):
        return {
            "num_classes": self.num_classes,
            **loss_config(self.loss),
            "fake_labels": self.fake_labels,
        }

    def discriminate_batch(self, x, labels, training=False):
        """D(x, labels) logits as a backend tensor (for use inside `play`)."""
        return self.discriminator(
            self._pair(x, labels, self._d_x_index, self._d_label_rank), training=training
        )

    def play(self, data):
        real = real_data(data)
        labels = self.batch_labels(data)
        batch_size = ops.shape(real)[0]
        D = self.judged(self.discriminate_batch)

        for _ in range(self.d_steps):
            y_fake = self.labels_for_fakes(labels)
            fake = ops.stop_gradient(
                self.generate_batch(self.sample_z(batch_size), y_fake, training=True)
            )
            d_loss = self.minimize(
                "discriminator",
                lambda: (
                    self.loss.discriminator(
                        D(real, labels, training=True), D(fake, y_fake, training=True)
                    )
                    + self.gp_weight
                    * self.penalty(
                        lambda x, training=False: D(x, labels, training=training), real, fake
                    )
                    + self.d_regularizers(
                        lambda x, training=False: D(x, labels, training=training), real, fake
                    )
                ),
            )

        z = self.sample_z(batch_size)
        y_fake = self.labels_for_fakes(labels)

        def generator_loss():
            fake = self.generate_batch(z, y_fake, training=True)
            return self.guide(self.loss.generator(D(fake, y_fake, training=True)), fake, real)

        g_loss = self.minimize("generator", generator_loss)
        return {"d_loss": d_loss, "g_loss": g_loss}

    def ada_real_probability(self, data):
        x, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.real_probability(self.judge_input(x), labels)

    def real_probability(self, x, labels=None):
        """P(real | x): sigmoid(D(x, labels)), or its mean over all classes."""
        if labels is not None:
            logits = self.discriminate_batch(x, ops.convert_to_tensor(labels), training=False)
            return ops.sigmoid(ops.reshape(logits, (-1,)))
        n = ops.shape(x)[0]
        probs = [
            ops.sigmoid(
                ops.reshape(
                    self.discriminate_batch(x, ops.full((n,), c, "int32"), training=False), (-1,)
                )
            )
            for c in range(self.num_classes)
        ]
        return ops.mean(ops.stack(probs), axis=0)
