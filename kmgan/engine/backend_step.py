"""Picks the player-update primitive of the active Keras backend."""

import warnings

import keras

_SUPPORTED = ("tensorflow", "jax", "torch")


def _impl():
    name = keras.backend.backend()
    if name == "jax":
        from kmgan.engine import _jax as impl
    elif name == "tensorflow":
        from kmgan.engine import _tensorflow as impl
    elif name == "torch":
        from kmgan.engine import _torch as impl
    else:
        check_supported()
    return impl


def check_supported():
    """Raises a clear error on a Keras backend kmgan does not support."""
    name = keras.backend.backend()
    if name not in _SUPPORTED:
        raise RuntimeError(
            f"kmgan games train on the {', '.join(_SUPPORTED)} backends; KERAS_BACKEND is '{name}'."
        )


def resolve_compile_options(jit_compile, steps_per_execution):
    """The `jit_compile` and `steps_per_execution` a game compiles with.

    On TensorFlow and JAX both pass through. On torch, `torch.compile`
    (2.13) fails on a game's round: dynamo raises an internal error
    (`NameError: ___tuple_iterator_getitem`) tracing a Keras functional
    model called in a list comprehension over players, and a move's
    `torch.autograd.grad` breaks the graph anyway. A torch round therefore
    runs eagerly, as Keras' own "auto" does on torch (an explicit True says
    so with a warning), one step per call, the only form Keras' torch
    trainer runs (`steps_per_execution` only groups steps: same updates).

    Args:
        jit_compile: True, False or "auto", as given to `compile`.
        steps_per_execution: as given to `compile`.

    Returns:
        `(jit_compile, steps_per_execution)` for `keras.Model.compile`.
    """
    if keras.backend.backend() != "torch":
        return jit_compile, steps_per_execution
    if jit_compile is True:
        warnings.warn(
            "jit_compile=True is ignored on the torch backend: kmgan runs a torch "
            "round eagerly (torch.compile cannot trace a game's round).",
            stacklevel=3,
        )
    return False, 1


def train_step(model, *args):
    return _impl().train_step(model, *args)


def minimize(model, loss_fn, players):
    return _impl().minimize(model, loss_fn, players)


def input_gradient(fn, x):
    """Gradient of the scalar `fn(x)` with respect to the tensor `x`."""
    return _impl().input_gradient(fn, x)


def replica_id():
    """The replica a training step runs on: tf.distribute's replica id in a
    `MirroredStrategy` replica, else 0 (JAX's SPMD has one global program)."""
    return _impl().replica_id()


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A `SeedGenerator` whose draws differ between replicas.

    Under `tf.distribute.MirroredStrategy` a game's noise state is mirrored:
    every replica would draw the same z for its share of the batch. Each
    draw here folds the replica id into the seed (replica 0, and every
    single-device run, draws what a plain `SeedGenerator` draws).
    """

    def next(self, ordered=True):
        seed = super().next(ordered=ordered)
        replica = replica_id()
        if isinstance(replica, int) and replica == 0:
            return seed
        offset = keras.ops.cast(replica, seed.dtype) * keras.ops.cast(1_000_003, seed.dtype)
        return seed + keras.ops.stack([offset, keras.ops.zeros_like(offset)])


def accelerator_present():
    """Whether the active backend computes on a GPU/TPU (False on a CPU)."""
    return _impl().accelerator_present()
