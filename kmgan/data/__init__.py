"""Datasets for kmgan games, as `tf.data` pipelines ready for `model.fit`.

Every image pipeline yields batches of float32 NHWC images scaled to
`[-1, 1]` (the range of a `tanh` generator), optionally paired with int32
labels. Batches are built with `drop_remainder=True`: JAX retraces the train
step for every new batch shape, so a short last batch would cost a
recompilation (and some games need a fixed batch size anyway).

Sources:

- TFDS names (`"mnist"`, `"fashion_mnist"`, `"cifar10"`, `"cifar100"`, ...)
  go through `tfds.load`; any other TFDS image dataset with a supervised
  `(image, label)` view is reachable as `"tfds:<name>"`.
- Local files, for machines without network access: a Keras-style `.npz`
  (the layout of `keras.datasets.mnist`'s `mnist.npz`), a folder of
  MNIST / Fashion-MNIST idx files, or a CIFAR-10 / CIFAR-100 "python version"
  folder (or its `.tar.gz` archive).
- In-memory numpy arrays (`from_arrays`).
- Synthetic 2-D Gaussian mixtures (`ring_of_gaussians`,
  `grid_of_gaussians`, `mixture_dataset`, or `load("ring")` /
  `load("grid")`), the toy benchmarks for mode collapse.

Example:

```python
ds = kmgan.data.load("mnist", batch_size=64, image_size=(32, 32))
ds = kmgan.data.load("/data/mnist.npz", split="test", labels=False)
ds = kmgan.data.mixture_dataset("grid", num_samples=100_000, seed=0)
```

Shuffled pipelines are exactly resumable: the order of each pass (epoch)
is a function of `(seed, epoch)`, so a run stopped at an epoch boundary and
resumed with `BackupAndRestore` sees the batches the uninterrupted run saw
(`kmgan.data.order` explains how, and how to do the same with your own
`tf.data` pipeline).

Modules: `sources` (TFDS and local files), `checks` (argument and array
checks), `mixtures` (synthetic 2-D mixtures), `order` (epoch-indexed
shuffling), `pipeline` (the `tf.data` pipelines).

When a Keras model trains on JAX or PyTorch, TensorFlow is only used here,
for the input pipeline. On a GPU machine you may want to keep TensorFlow off
the accelerator (`tf.config.set_visible_devices([], "GPU")` before anything
else touches TensorFlow); this module does not do that for you.
"""

from kmgan.data.checks import check_value_range
from kmgan.data.mixtures import MIXTURES
from kmgan.data.mixtures import Mixture
from kmgan.data.mixtures import get_mixture
from kmgan.data.mixtures import grid_centers
from kmgan.data.mixtures import grid_of_gaussians
from kmgan.data.mixtures import mixture_centers
from kmgan.data.mixtures import ring_centers
from kmgan.data.mixtures import ring_of_gaussians
from kmgan.data.order import SyncEpoch
from kmgan.data.order import epoch_permutation
from kmgan.data.order import set_epoch
from kmgan.data.order import shuffle_by_epoch
from kmgan.data.order import shuffled_indices
from kmgan.data.pipeline import from_arrays
from kmgan.data.pipeline import load
from kmgan.data.pipeline import mixture_dataset
from kmgan.data.sources import TFDS_DATASETS
from kmgan.data.sources import load_arrays

__all__ = [
    "MIXTURES",
    "TFDS_DATASETS",
    "Mixture",
    "SyncEpoch",
    "check_value_range",
    "epoch_permutation",
    "from_arrays",
    "get_mixture",
    "grid_centers",
    "grid_of_gaussians",
    "load",
    "load_arrays",
    "mixture_centers",
    "mixture_dataset",
    "ring_centers",
    "ring_of_gaussians",
    "set_epoch",
    "shuffle_by_epoch",
    "shuffled_indices",
]
