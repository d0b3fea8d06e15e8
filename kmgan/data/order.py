"""Shuffling whose order is a function of (seed, epoch): exact resume.

Keras' `fit` iterates its dataset once per epoch. With
`Dataset.shuffle(..., reshuffle_each_iteration=True)` the order of a pass
depends on how many passes *this process* has made, so a run that
`keras.callbacks.BackupAndRestore` resumes at epoch k replays epoch 0's
order at epoch k: its state is restored exactly, its data are not.

A kmgan pipeline instead reads, at the start of each pass, the epoch it
serves from a small counter, and orders its examples by a counter-based
(Philox) permutation of `(seed, epoch)`. The counter advances by one per
pass, so passes outside `fit` still get fresh orders. During `fit`, the
`SyncEpoch` callback sets every pipeline's counter to Keras' epoch number
when the epoch begins, including the first epoch of a resumed run. Every
kmgan game adds `SyncEpoch` to its `fit` callbacks itself; a plain
`keras.Model` needs it in its callbacks (`kmgan.callbacks.BackupAndRestore`
includes it).

The same for your own `tf.data` pipeline:

```python
# A stream (files, a generator): shuffle it here instead of ds.shuffle(...).
ds = kmgan.data.shuffle_by_epoch(my_dataset, buffer_size=10_000, seed=0)
ds = ds.map(augment).batch(64, drop_remainder=True)
# Arrays in memory: gather a permutation of indices.
idx = kmgan.data.shuffled_indices(len(x), seed=0)
ds = idx.batch(64, drop_remainder=True).map(lambda i: tf.gather(x, i))
```

Exact resume then needs: one pass of the pipeline per epoch (no
`.repeat()`, no `steps_per_epoch`), and no other randomness in the pipeline
drawn from TensorFlow's global random state (a random augmentation must be
stateless, e.g. `tf.image.stateless_random_flip_left_right` with a seed
built from the example's index). Without kmgan, the recipe is the same: in
`on_epoch_begin(epoch)` of a callback, tell the pipeline its epoch, and let
the pipeline seed each pass's shuffle from `(seed, epoch)`.
"""

import random
import weakref

import keras
import tensorflow as tf

from kmgan.data.checks import check_non_negative_int

__all__ = [
    "SyncEpoch",
    "epoch_permutation",
    "set_epoch",
    "shuffle_by_epoch",
    "shuffled_indices",
]

# The counters of every live kmgan pipeline; `set_epoch` sets them all.
_COUNTERS = weakref.WeakSet()


class _EpochCounter:
    """The epoch a pipeline serves on its next pass."""

    def __init__(self):
        with tf.init_scope(), tf.device("/CPU:0"):
            self.variable = tf.Variable(0, dtype=tf.int64, trainable=False, name="kmgan_data_epoch")
        _COUNTERS.add(self)

    def epochs(self):
        """A one-element dataset: the epoch of the pass that reads it.

        The element is computed when a pass asks for its first example, so
        an iterator that is created and never read takes no epoch.
        """

        def take(_):
            return self.variable.assign_add(1, read_value=True) - 1

        return tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).map(take)


def set_epoch(epoch):
    """Makes every kmgan pipeline serve `epoch`'s order on its next pass.

    Later passes serve `epoch + 1`, `epoch + 2`, ... `SyncEpoch` calls this
    at the start of each epoch of `fit`.

    Args:
        epoch: a non-negative integer.
    """
    epoch = check_non_negative_int(epoch, "epoch")
    for counter in list(_COUNTERS):
        counter.variable.assign(epoch)


class SyncEpoch(keras.callbacks.Callback):
    """Tells kmgan pipelines which epoch `fit` is on.

    At the start of each epoch it calls `set_epoch(epoch)`, so every kmgan
    pipeline (`kmgan.data.load`, `from_arrays`, `mixture_dataset`,
    `shuffle_by_epoch`, `shuffled_indices`) serves that epoch's order, the
    same order in a run resumed by `BackupAndRestore` as in an
    uninterrupted one. kmgan games add it to `fit` themselves; pass it to a
    plain `keras.Model`'s `fit`.
    """

    def on_epoch_begin(self, epoch, logs=None):
        set_epoch(epoch)


def with_sync_epoch(callbacks):
    """`callbacks` (None or a list) plus a `SyncEpoch`, unless one is there.

    A `keras.callbacks.CallbackList` is returned unchanged.
    """
    if isinstance(callbacks, keras.callbacks.CallbackList):
        return callbacks
    callbacks = list(callbacks or [])
    if not any(isinstance(c, SyncEpoch) for c in callbacks):
        callbacks.append(SyncEpoch())
    return callbacks


def epoch_permutation(num_examples, seed, epoch):
    """The order in which a kmgan pipeline serves `num_examples` examples.

    A counter-based (stateless Philox) permutation: the same `(seed, epoch)`
    give the same order on any machine, in any process, at any time.

    Args:
        num_examples: number of examples (a positive integer).
        seed: integer seed of the pipeline.
        epoch: integer (or int64 tensor) epoch number.

    Returns:
        An int64 tensor `(num_examples,)`: a permutation of
        `range(num_examples)`.
    """
    key = tf.stack([tf.cast(seed, tf.int64), tf.cast(epoch, tf.int64)])
    indices = tf.range(num_examples, dtype=tf.int64)
    return tf.random.experimental.stateless_shuffle(indices, seed=key, alg="philox")


def shuffled_indices(num_examples, seed=None):
    """Indices `0..num_examples-1`, in `epoch_permutation` order each pass.

    Args:
        num_examples: number of examples (a positive integer).
        seed: integer seed; None draws one from Python's `random` (seeded
            by `keras.utils.set_random_seed`), as Keras does for an unseeded
            `SeedGenerator`.

    Returns:
        A `tf.data.Dataset` of int64 scalars of known cardinality
        `num_examples`. Pass `e` of it yields `epoch_permutation(
        num_examples, seed, e)`; `set_epoch` / `SyncEpoch` choose `e`.
    """
    num_examples = check_non_negative_int(num_examples, "num_examples")
    if num_examples < 1:
        raise ValueError("shuffled_indices needs at least one example.")
    seed = resolve_seed(seed)
    counter = _EpochCounter()
    ds = counter.epochs().flat_map(
        lambda epoch: tf.data.Dataset.from_tensor_slices(
            epoch_permutation(num_examples, seed, epoch)
        )
    )
    ds = ds.apply(tf.data.experimental.assert_cardinality(num_examples))
    return _keep_alive(ds, counter)


def shuffle_by_epoch(dataset, buffer_size, seed=None):
    """`dataset.shuffle(buffer_size)`, with each pass's order set by (seed, epoch).

    For streams that cannot be indexed (files, TFDS). Pass `e` shuffles
    `dataset` with a seed derived from `(seed, e)`; `set_epoch` /
    `SyncEpoch` choose `e`.

    Args:
        dataset: a finite `tf.data.Dataset` (one pass is one epoch).
        buffer_size: shuffle buffer size; the dataset's size for a full
            shuffle.
        seed: integer seed; None draws one from Python's `random`.

    Returns:
        A `tf.data.Dataset` with `dataset`'s elements and cardinality.

    Raises:
        ValueError: for an infinite dataset (shuffle before `.repeat()`) or
            a buffer size below 1.
    """
    buffer_size = check_non_negative_int(buffer_size, "buffer_size")
    if buffer_size < 1:
        raise ValueError(f"buffer_size must be at least 1, got {buffer_size}.")
    cardinality = int(dataset.cardinality())
    if cardinality == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            "shuffle_by_epoch needs a finite dataset (one pass is one epoch); "
            "shuffle before .repeat(), and let fit run one pass per epoch."
        )
    seed = resolve_seed(seed)
    counter = _EpochCounter()

    def one_pass(epoch):
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        draw = tf.random.stateless_uniform([], seed=key, minval=None, maxval=None, dtype=tf.int64)
        pass_seed = tf.math.floormod(draw, 2**31 - 1)
        # With a global seed set, tf.data pairs it with the op seed (and
        # cannot take a tensor op seed at all): clear it in this function's
        # graph, so the pass's seed alone sets the order.
        graph = tf.compat.v1.get_default_graph()
        global_seed, graph.seed = graph.seed, None
        try:
            return dataset.shuffle(buffer_size, seed=pass_seed, reshuffle_each_iteration=False)
        finally:
            graph.seed = global_seed

    ds = counter.epochs().flat_map(one_pass)
    if cardinality >= 0:
        ds = ds.apply(tf.data.experimental.assert_cardinality(cardinality))
    return _keep_alive(ds, counter)


def resolve_seed(seed):
    """`seed` as an int; None draws one from Python's `random`."""
    if seed is None:
        return random.randint(0, 2**31 - 2)
    return check_non_negative_int(seed, "seed")


def _keep_alive(ds, counter):
    # Datasets derived from `ds` hold it, so the counter (which `set_epoch`
    # reaches through a weak set) lives exactly as long as a pipeline using it.
    ds._kmgan_epoch_counter = counter
    return ds
