"""The `.keras` sampler protocol: turn a game into a sampler, tell its kind, load it.

A sampler is the one model a user keeps from a trained game to draw from
later. It is one of three kinds:

* `"unlabelled"`: one input `z (latent_dim,)`, e.g. the generator of a GAN
  or GMAN;
* `"conditional"`: inputs `[z, labels ()]`, e.g. a ConditionalGAN's,
  ControlGAN's or ScoreGAN's generator G(z, y);
* `"multi"`: inputs `[z, generator () int32, optional]` of a multi-generator
  game (MGAN, MAD-GAN, MEGAN): an index in [0, K) draws from that expert, -1
  (or `None` for the whole batch) from the game's mixture.

`export_sampler(game)` returns the game's sampler as a `Sampler`, a
functional `keras.Model` over the game's own layers that stores its kind in
its config, so `sampler_kind` reads the kind of a saved file back exactly.
Files saved without it (plain generators, and samplers saved before kmgan
stored the kind) keep loading: their kind is inferred from their inputs.

    sampler = kmgan.samplers.export_sampler(game)
    sampler.save("sampler.keras")
    sampler = kmgan.samplers.load("sampler.keras")      # any generator, sampler or game file
    kmgan.samplers.sampler_kind(sampler)                 # "unlabelled", "conditional" or "multi"
"""

import os

import keras
import numpy as np

__all__ = [
    "KINDS",
    "SAMPLER_INDEX",
    "Sampler",
    "as_sampler",
    "draw",
    "expert_grid",
    "export_sampler",
    "load",
    "num_generators",
    "num_label_classes",
    "sampler_kind",
    "sampler_model",
]

#: The kinds of sampler.
KINDS = ("unlabelled", "conditional", "multi")

#: Name of a multi-generator sampler's second input (the generator index).
SAMPLER_INDEX = "generator"

# Words in a second input's name that tell its kind, for files without a
# stored kind.
_INDEX_NAMES = ("generator", "index", "expert")
_LABEL_NAMES = ("label", "class", "condition")


@keras.saving.register_keras_serializable(package="kmgan")
class Sampler(keras.Model):
    """A functional model that samples, and knows which kind of sampler it is.

    Built like a functional model, `Sampler(inputs, outputs, kind=...)`; its
    config stores `kind`, so a `.keras` file says what it is.

    Args:
        inputs, outputs, name: as for a functional `keras.Model`.
        kind: one of `KINDS`.
        **kwargs: passed to `keras.Model`.

    Attributes:
        kind: the kind of sampler.
    """

    def __init__(self, inputs, outputs, name=None, **kwargs):
        kind = _check_kind(kwargs.pop("kind", None))
        super().__init__(inputs, outputs, name=name, **kwargs)
        self.kind = kind

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be 'unlabelled', 'multi' or 'conditional', got {kind!r}.")
    return kind


def _input_name(tensor):
    name = getattr(tensor, "name", "") or ""
    return name.split(":")[0].lower()


def sampler_kind(model):
    """The kind of a sampler model: stored, or inferred from its inputs.

    A `Sampler` says its kind. Any other model (a plain generator, or a file
    saved before samplers stored their kind) is read from its inputs: one
    input is `"unlabelled"`; a second input named like `generator` /
    `index` / `expert` is a generator index (`"multi"`), one named like
    `label` / `class` / `condition` (or `y`, `c`) a class label
    (`"conditional"`); otherwise a model holding a layer with
    `num_generators` is `"multi"`.

    Args:
        model: a `keras.Model`.

    Returns:
        `"unlabelled"`, `"conditional"` or `"multi"`.

    Raises:
        ValueError: when the model has more than two inputs, or its second
            input cannot be told apart.
    """
    kind = getattr(model, "kind", None)
    if kind in KINDS:
        return kind
    inputs = list(model.inputs)
    if len(inputs) == 1:
        return "unlabelled"
    if len(inputs) != 2:
        raise ValueError(
            f"{model.name} has {len(inputs)} inputs; a sampler takes z, (z, label) "
            "or (z, generator_index)."
        )
    second = _input_name(inputs[1])
    if any(word in second for word in _INDEX_NAMES):
        return "multi"
    if any(word in second for word in _LABEL_NAMES) or second in ("y", "c"):
        return "conditional"
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if hasattr(layer, "num_generators"):
            return "multi"
    raise ValueError(
        f"Cannot tell whether {model.name}'s second input {second!r} is a class "
        "label or a generator index; pass kind='conditional' or kind='multi'."
    )


def as_sampler(model, kind=None, name=None):
    """A `Sampler` over a model's own layers, with its kind stored.

    Args:
        model: a functional `keras.Model` that samples (a generator or a
            multi-generator sampler).
        kind: one of `KINDS`; None infers it (`sampler_kind`).
        name: the sampler's name (default: the model's).

    Returns:
        `model` itself when it is a `Sampler` of that kind, else a new
        `Sampler` sharing `model`'s layers and weights.
    """
    kind = _check_kind(kind or sampler_kind(model))
    if isinstance(model, Sampler) and model.kind == kind and name in (None, model.name):
        return model
    return Sampler(model.inputs, model.outputs, kind=kind, name=name or model.name)


def sampler_model(model):
    """Reduces a game to the model that samples; any other model is returned as is.

    Args:
        model: a game (a multi-generator game gives its `export_sampler()`,
            any other its `generator`) or a `keras.Model`.

    Returns:
        The sampling `keras.Model`.
    """
    if hasattr(model, "export_sampler"):  # a multi-generator game
        return model.export_sampler()
    generator = getattr(model, "generator", None)
    if hasattr(model, "play") and isinstance(generator, keras.Model):  # a game
        return generator
    return model


def export_sampler(model, kind=None):
    """The `.keras`-ready sampler of a game (or of a generator model).

    Args:
        model: a game or a generator `keras.Model` (see `sampler_model`).
        kind: one of `KINDS`; None infers it (a multi-generator game's
            sampler is `"multi"`).

    Returns:
        A `Sampler` sharing the game's layers, with its kind stored.

    Raises:
        TypeError: when `model` is neither a game nor a `keras.Model`.
    """
    if kind is None and hasattr(model, "export_sampler"):
        kind = "multi"
    model = sampler_model(model)
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a keras.Model generator, got {type(model).__name__}.")
    return as_sampler(model, kind)


def load(path):
    """Loads a `.keras` generator, sampler or game file as its sampling model.

    `keras.saving.load_model(path, safe_mode=True)` after registering
    kmgan's classes; a saved game is reduced by `sampler_model`.

    Args:
        path: the `.keras` file.

    Returns:
        The sampling `keras.Model` (its kind: `sampler_kind`).

    Raises:
        FileNotFoundError: when `path` does not exist.
        kmgan.io.DamagedFileError: when the file is truncated or corrupted.
    """
    import kmgan  # noqa: F401  registers kmgan's layers and games
    from kmgan import saving

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such generator file: {path}")
    return sampler_model(saving.load_model(path))  # refuses a damaged file


def num_generators(sampler):
    """K of a multi-generator sampler (exported by a game, or loaded back).

    Args:
        sampler: a multi-generator sampler model.

    Returns:
        K, an int.

    Raises:
        ValueError: when the model holds no generator choice layer.
    """
    from kmgan.layers.choice import GumbelChoice
    from kmgan.layers.choice import UniformChoice

    for layer in sampler.layers:
        if isinstance(layer, (UniformChoice, GumbelChoice)):
            return int(layer.num_generators)
    raise ValueError(f"{sampler.name} is not a multi-generator sampler.")


def num_label_classes(model):
    """The number of classes a conditional generator knows (its label embedding's rows).

    Args:
        model: a conditional generator.

    Returns:
        The number of classes, or None when the model has no `Embedding`.
    """
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
    return None


def expert_grid(sampler, num_per_generator=8, seed=0, latent_dim=None, batch_size=256):
    """One row per generator from a (loaded) sampler, for `kmgan sample`.

    Args:
        sampler: a model from `export_sampler()` (or `load_model` of one),
            or a multi-generator game.
        num_per_generator: columns of the grid.
        seed: seed of z (the same z in every row).
        latent_dim: read from the sampler when None.
        batch_size: inference batch size.

    Returns:
        `(samples, K)`: samples of shape (K * num_per_generator, ...) in
        row-major order (row k = expert k), ready for
        `kmgan.callbacks.save_image_grid(samples, path, rows=K)`.
    """
    if hasattr(sampler, "sample_per_generator"):  # a multi-generator game
        per = sampler.sample_per_generator(num_per_generator, seed=seed, batch_size=batch_size)
        return per.reshape((-1,) + per.shape[2:]), sampler.num_generators
    k = num_generators(sampler)
    if latent_dim is None:
        latent_dim = int(sampler.inputs[0].shape[-1])
    z = np.random.default_rng(seed).standard_normal((num_per_generator, latent_dim))
    z = np.tile(z.astype("float32"), (k, 1))
    index = np.repeat(np.arange(k, dtype="int32"), num_per_generator)
    out = sampler.predict([z, index], batch_size=batch_size, verbose=0)
    return out, k


def draw(sampler, num, seed=0, per_generator=False, generators=None):
    """Draws samples from a sampler model, as `kmgan sample` does.

    A two-input sampler is taken as a multi-generator one: its mixture, or
    with `per_generator` `num // K` samples of each generator in turn (fresh
    z for every sample).

    Args:
        sampler: a sampler model (`load`).
        num: number of samples.
        seed: seed of z.
        per_generator: one block of samples per generator.
        generators: K; read from the sampler when 0 or None.

    Returns:
        `(samples, rows)`: a NumPy array, and K for a per-generator draw
        (the rows of a grid) else None.
    """
    rng = np.random.default_rng(seed)
    latent_dim = int(sampler.inputs[0].shape[-1])
    if len(sampler.inputs) != 2:
        z = rng.standard_normal((num, latent_dim)).astype("float32")
        return sampler.predict(z, verbose=0), None
    k = generators or num_generators(sampler)
    if per_generator:
        per_row = num // k
        z = rng.standard_normal((per_row * k, latent_dim)).astype("float32")
        index = np.repeat(np.arange(k), per_row).astype("int32")
    else:
        z = rng.standard_normal((num, latent_dim)).astype("float32")
        index = np.full((num,), -1, "int32")
    return sampler.predict([z, index], verbose=0), (k if per_generator else None)
