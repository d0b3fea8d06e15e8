"""Samplers: the two tiny protocols through which any generative model plugs in.

An unlabelled sampler ``sample_fn(n, seed) -> images in [-1, 1]`` (a MAD-GAN
`.keras` sampler, ``game.sample``, any unconditional generator) is wrapped in
`UnlabelledSampler`; a labelled sampler ``conditional_sample_fn(labels, seed)
-> images`` (a conditional generator ``G(z, y)``) in `ConditionalSampler`.
`load_sampler` builds either from a `.keras` file, `sampler_from_model` from a
model, telling the kind of model by `kmgan.samplers.sampler_kind`. `PerSubset`
trains a generative model afresh on each real subset of the sweep.
"""

import os

import numpy as np

from kmgan import samplers
from kmgan.augment.arrays import check_labels
from kmgan.augment.arrays import padded_predict
from kmgan.augment.arrays import to_model_range

__all__ = [
    "ConditionalSampler",
    "PerSubset",
    "UnlabelledSampler",
    "load_sampler",
    "sampler_from_model",
]


class UnlabelledSampler:
    """An unlabelled image source: ``sample_fn(n, seed) -> images``.

    Wraps a MAD-GAN sampler, ``game.sample`` of a multi-generator game, or
    any unconditional generator. Samples carry no label; :func:`run_sweep`
    labels them with an auxiliary classifier (:func:`draw_labelled`).

    Args:
        sample_fn: callable ``(n, seed) -> images``: ``n`` images
            ``(n, H, W[, C])`` in ``[-1, 1]`` (or uint8), from integer
            ``seed``.
        name: a display name.

    Attributes:
        labelled: ``False``.
    """

    labelled = False

    def __init__(self, sample_fn, name=None):
        if not callable(sample_fn):
            raise TypeError(f"sample_fn must be callable, got {type(sample_fn).__name__}.")
        self.sample_fn = sample_fn
        self.name = name or getattr(sample_fn, "__name__", "sampler")

    def __call__(self, n, seed=None):
        """Draws ``n`` images.

        Args:
            n: number of images.
            seed: integer seed (the same seed gives the same images).

        Returns:
            float32 ``(n, H, W, C)`` in ``[-1, 1]``.
        """
        x = to_model_range(self.sample_fn(int(n), seed))
        if len(x) != int(n):
            raise ValueError(f"{self.name}: sample_fn({n}, seed) returned {len(x)} images.")
        return x

    def __repr__(self):
        return f"UnlabelledSampler({self.name!r})"


class ConditionalSampler:
    """A labelled image source: ``conditional_sample_fn(labels, seed) -> images``.

    Wraps a conditional generator ``G(z, y)`` (e.g. a ConditionalGAN's).

    Args:
        conditional_sample_fn: callable ``(labels, seed) -> images``: one
            image of class ``labels[i]`` per label, ``(len(labels), H, W[, C])``
            in ``[-1, 1]`` (or uint8), from integer ``seed``.
        num_classes: number of classes the generator knows (optional, for
            checks).
        name: a display name.

    Attributes:
        labelled: ``True``.
    """

    labelled = True

    def __init__(self, conditional_sample_fn, num_classes=None, name=None):
        if not callable(conditional_sample_fn):
            raise TypeError(
                "conditional_sample_fn must be callable, got "
                f"{type(conditional_sample_fn).__name__}."
            )
        self.sample_fn = conditional_sample_fn
        self.num_classes = None if num_classes is None else int(num_classes)
        self.name = name or getattr(conditional_sample_fn, "__name__", "conditional")

    def __call__(self, labels, seed=None):
        """Draws one image per label.

        Args:
            labels: integer class ids ``(N,)``.
            seed: integer seed.

        Returns:
            float32 ``(N, H, W, C)`` in ``[-1, 1]``.
        """
        labels = check_labels(labels)
        if self.num_classes is not None and len(labels) and labels.max() >= self.num_classes:
            raise ValueError(
                f"{self.name} knows {self.num_classes} classes; got label {labels.max()}."
            )
        if not len(labels):
            raise ValueError("Pass at least one label.")
        x = to_model_range(self.sample_fn(labels.astype(np.int32), seed))
        if len(x) != len(labels):
            raise ValueError(
                f"{self.name}: conditional_sample_fn returned {len(x)} images for "
                f"{len(labels)} labels."
            )
        return x

    def __repr__(self):
        return f"ConditionalSampler({self.name!r})"


class PerSubset:
    """A generative method trained afresh on each real subset of the sweep.

    With a sampler trained once on the whole real training set, the
    scarce-data runs of :func:`run_sweep` are not really scarce: the
    generator has seen (for a conditional GAN: with labels) the 90 % of the
    data the classifier is denied at ``real_fraction=0.1``. A ``PerSubset``
    method closes that leak: for every (seed, real fraction) the sweep calls
    ``factory`` with exactly the real images (and labels) the classifier
    gets, and uses the sampler it returns.

    Args:
        factory: callable ``(x, y, seed, real_fraction) -> sampler``: trains
            (or loads a cached) generative model on ``x`` (float32 ``[-1, 1]``)
            and ``y`` (an unlabelled model must ignore ``y``) and returns an
            :class:`UnlabelledSampler` or :class:`ConditionalSampler`.
        name: a display name.
    """

    def __init__(self, factory, name=None):
        if not callable(factory):
            raise TypeError(f"factory must be callable, got {type(factory).__name__}.")
        self.factory = factory
        self.name = name or getattr(factory, "__name__", "per_subset")

    def __call__(self, x, y, seed, real_fraction):
        """The sampler for one real subset (see the class docstring)."""
        sampler = self.factory(x, y, seed, real_fraction)
        if not isinstance(sampler, (UnlabelledSampler, ConditionalSampler)):
            raise TypeError(
                f"{self.name}: the factory returned {type(sampler).__name__}, not an "
                "UnlabelledSampler or ConditionalSampler."
            )
        return sampler

    def __repr__(self):
        return f"PerSubset({self.name!r})"


def sampler_from_model(model, kind=None, generator_index=-1, batch_size=256, name=None):
    """Wraps a generator model (or a game) as a sampler.

    Args:
        model: a ``keras.Model`` generator: one input ``z`` (unconditional),
            inputs ``(z, labels)`` (conditional) or ``(z, generator_index)``
            (a multi-generator sampler, e.g. ``game.export_sampler()``); or
            a game: a multi-generator game is sampled through its
            ``export_sampler()``, any other game through its ``generator``.
        kind: ``None`` (the kind a :class:`kmgan.samplers.Sampler` stores,
            else read from the inputs by :func:`kmgan.samplers.sampler_kind`:
            a second input named like ``generator``/``index`` is a generator
            index, like ``label`` / ``class`` a class label),
            ``"unlabelled"``, ``"multi"`` or ``"conditional"``.
        generator_index: for a multi-generator sampler, the expert to draw
            from; ``-1`` (default) is the mixture, as the sampler defines it.
        batch_size: inference batch size.
        name: display name (default: the model's name).

    Returns:
        A :class:`ConditionalSampler` for a conditional generator, else an
        :class:`UnlabelledSampler`. ``z ~ N(0, I)`` is drawn with NumPy from
        ``seed``, so a seed fixes the latent codes.
    """
    model = samplers.export_sampler(model, kind)
    kind = model.kind
    latent_dim = int(model.inputs[0].shape[-1])
    name = name or model.name
    batch_size = int(batch_size)

    def z_for(n, seed):
        rng = np.random.default_rng(seed)
        return rng.standard_normal((n, latent_dim)).astype("float32")

    if kind == "conditional":

        def conditional_sample_fn(labels, seed=None):
            labels = np.asarray(labels, "int32")
            z = z_for(len(labels), seed)
            return padded_predict(model, [z, labels], batch_size)

        return ConditionalSampler(
            conditional_sample_fn, num_classes=samplers.num_label_classes(model), name=name
        )

    if kind == "multi":
        index = int(generator_index)

        def sample_fn(n, seed=None):
            z = z_for(n, seed)
            return padded_predict(model, [z, np.full((n,), index, "int32")], batch_size)
    else:

        def sample_fn(n, seed=None):
            return padded_predict(model, z_for(n, seed), batch_size)

    return UnlabelledSampler(sample_fn, name=name)


def load_sampler(path, kind=None, generator_index=-1, batch_size=256, name=None):
    """Loads a sampler from a `.keras` generator, sampler or game file.

    Loaded by :func:`kmgan.samplers.load` (``keras.saving.load_model(path,
    safe_mode=True)`` after registering kmgan's classes; a saved game is
    reduced to its sampler, ``export_sampler()``, or its ``generator``).

    Args:
        path: the `.keras` file.
        kind, generator_index, batch_size: see :func:`sampler_from_model`.
        name: display name (default: the file's stem).

    Returns:
        An :class:`UnlabelledSampler` or :class:`ConditionalSampler`.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
    """
    path = os.fspath(path)
    model = samplers.load(path)
    stem = os.path.basename(path).rsplit(".", 1)[0]
    return sampler_from_model(
        model,
        kind=kind,
        generator_index=generator_index,
        batch_size=batch_size,
        name=name or stem,
    )
