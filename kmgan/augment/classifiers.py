"""Classifiers: the thesis's simple CNNs, training, and metrics in NumPy.

`simple_cnn` builds the thesis's classifiers (conv, batch norm, ReLU,
max-pool blocks, softmax head); `train_and_evaluate` trains any Keras model
and reports accuracy, macro precision / recall / F1 and the confusion matrix
(`classification_metrics`).
"""

import math
import time

import keras
import numpy as np

from kmgan.augment.arrays import check_labels
from kmgan.augment.arrays import count_classes
from kmgan.augment.arrays import to_model_range
from kmgan.augment.labelling import predict_proba

__all__ = [
    "classification_metrics",
    "evaluate_classifier",
    "num_steps",
    "simple_cnn",
    "train_and_evaluate",
    "train_classifier",
]


# Blocks of (conv, batch norm, ReLU, max-pool) per dataset: the thesis's
# classifiers differ "mainly in the number of blocks" (its chapter 4, with
# the exact layouts, is unwritten; these are our reading).
_CNN_BLOCKS = {"mnist": 2, "fashion_mnist": 3, "cifar10": 4}


def simple_cnn(
    image_shape=(28, 28, 1),
    num_classes=10,
    dataset=None,
    blocks=None,
    base_filters=32,
    dense_units=128,
    dropout=0.3,
    batch_norm_momentum=0.9,
    name=None,
):
    """The thesis's simple CNN classifier.

    ``blocks`` blocks of Conv2D 3x3 (``base_filters * 2**i`` filters, at most
    256) -> BatchNormalization -> ReLU -> MaxPool 2x2, then Flatten ->
    Dense(``dense_units``, ReLU) -> Dropout -> Dense(``num_classes``,
    softmax). The thesis's three classifiers differ in their number of
    blocks: MNIST 2, Fashion-MNIST 3, CIFAR-10 4 (our reading; its
    architecture chapter gives no more detail).

    Args:
        image_shape: ``(H, W, C)``.
        num_classes: number of classes.
        dataset: ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"`` to pick
            the block count; ``None`` picks MNIST's for 1 channel and
            CIFAR-10's for 3.
        blocks: explicit number of blocks (overrides ``dataset``); capped so
            the feature map stays at least 1 pixel.
        base_filters: filters of the first block.
        dense_units: width of the hidden dense layer (0: none).
        dropout: dropout rate before the output layer.
        batch_norm_momentum: momentum of the batch norms' moving statistics.
            0.9 rather than Keras' 0.99: with scarce data a run takes only a
            few hundred steps, after which 0.99-statistics are still far
            from the data's and spoil inference (the README gives the
            measured difference).
        name: model name.

    Returns:
        An uncompiled functional ``keras.Model`` images in ``[-1, 1]`` ->
        class probabilities.
    """
    image_shape = tuple(int(d) for d in image_shape)
    if blocks is None:
        key = (dataset or ("cifar10" if image_shape[-1] == 3 else "mnist")).lower()
        key = key.replace("-", "_").replace("fashionmnist", "fashion_mnist")
        if key not in _CNN_BLOCKS:
            raise ValueError(f"Unknown dataset {dataset!r}; choose from {tuple(_CNN_BLOCKS)}.")
        blocks = _CNN_BLOCKS[key]
    blocks = int(blocks)
    max_blocks = int(math.floor(math.log2(max(1, min(image_shape[:2])))))
    blocks = max(1, min(blocks, max_blocks))
    inputs = keras.Input(image_shape, name="image")
    x = inputs
    for i in range(blocks):
        filters = min(256, int(base_filters) * 2**i)
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(momentum=float(batch_norm_momentum), name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if dense_units:
        x = keras.layers.Dense(int(dense_units), activation="relu", name="dense")(x)
    if dropout:
        x = keras.layers.Dropout(float(dropout), name="dropout")(x)
    outputs = keras.layers.Dense(int(num_classes), activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name or f"simple_cnn_{blocks}blocks")


def _outputs_probabilities(model):
    last = model.layers[-1] if getattr(model, "layers", None) else None
    activation = getattr(last, "activation", None)
    return getattr(activation, "__name__", "") == "softmax"


def _build_model(model_fn):
    if isinstance(model_fn, keras.Model):
        model = keras.models.clone_model(model_fn)
    elif callable(model_fn):
        model = model_fn()
    else:
        raise TypeError("model_fn must be a callable returning a keras.Model, or a keras.Model.")
    if not isinstance(model, keras.Model):
        raise TypeError(f"model_fn returned {type(model).__name__}, not a keras.Model.")
    if not getattr(model, "compiled", False):
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(
                from_logits=not _outputs_probabilities(model)
            ),
            metrics=["accuracy"],
        )
    return model


def train_classifier(model_fn, train_ds, epochs=5, seed=None, verbose=0, steps=None):
    """Builds a fresh classifier and fits it.

    Args:
        model_fn: callable returning a new ``keras.Model`` (e.g.
            ``lambda: simple_cnn((28, 28, 1), 10)``), or a functional /
            Sequential model, cloned with fresh weights. An uncompiled model
            is compiled with Adam(1e-3) and sparse categorical cross-entropy
            (``from_logits`` unless its last layer is a softmax).
        train_ds: ``tf.data`` of ``(images, labels)`` batches (:func:`as_dataset`).
        epochs: training epochs (ignored when ``steps`` is given).
        seed: if given, ``keras.utils.set_random_seed(seed)`` before building
            the model (fixes its initial weights and dropout).
        verbose: ``fit`` verbosity.
        steps: train for exactly this many optimizer steps instead (the
            dataset is repeated), the same budget whatever the set's size.

    Returns:
        The trained model.
    """
    if seed is not None:
        keras.utils.set_random_seed(int(seed))
    model = _build_model(model_fn)
    if steps:
        model.fit(
            train_ds.repeat(), epochs=1, steps_per_epoch=int(steps), verbose=verbose, shuffle=False
        )
    else:
        model.fit(train_ds, epochs=int(epochs), verbose=verbose, shuffle=False)  # ds shuffles
    return model


def num_steps(train_ds, epochs, steps):
    if steps:
        return int(steps)
    batches = int(train_ds.cardinality())
    return batches * int(epochs) if batches >= 0 else -1


def classification_metrics(y_true, y_pred, num_classes=None):
    """Accuracy, macro precision / recall / F1 and the confusion matrix, in NumPy.

    Macro averages run over the classes that occur in ``y_true`` or
    ``y_pred`` (scikit-learn's convention); a class never predicted has
    precision 0, a class never true recall 0 (``zero_division=0``).

    Args:
        y_true: true integer labels ``(N,)``.
        y_pred: predicted integer labels ``(N,)``.
        num_classes: size of the confusion matrix (default: largest label + 1).

    Returns:
        dict: ``accuracy``, ``precision_macro``, ``recall_macro``,
        ``f1_macro`` (floats), ``confusion_matrix`` (int64 ``(K, K)``, rows
        true, columns predicted), ``precision``, ``recall``, ``f1``,
        ``support`` (per-class arrays).
    """
    y_true = check_labels(y_true, what="true labels")
    y_pred = check_labels(y_pred, len(y_true), "predicted labels")
    k = count_classes(y_true, y_pred, num_classes=num_classes)
    if len(y_true) and max(y_true.max(), y_pred.max()) >= k:
        raise ValueError(f"Labels exceed num_classes={k}.")
    cm = np.bincount(y_true * k + y_pred, minlength=k * k).reshape(k, k).astype(np.int64)
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = (predicted > 0) | (support > 0)

    def macro(v):
        return float(v[present].mean()) if present.any() else 0.0

    return {
        "accuracy": float(tp.sum() / len(y_true)) if len(y_true) else 0.0,
        "precision_macro": macro(precision),
        "recall_macro": macro(recall),
        "f1_macro": macro(f1),
        "confusion_matrix": cm,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support.astype(np.int64),
    }


def evaluate_classifier(model, x_test, y_test, num_classes=None, batch_size=256):
    """Classification metrics of a trained model on a (real) test split.

    Args:
        model: a trained ``keras.Model`` (or callable ``batch -> scores``).
        x_test: test images (uint8 or ``[-1, 1]``).
        y_test: test labels.
        num_classes: see :func:`classification_metrics`.
        batch_size: inference batch size.

    Returns:
        The dict of :func:`classification_metrics`.
    """
    x = to_model_range(x_test)
    y = check_labels(y_test, len(x), "test labels")
    probs = predict_proba(model, x, batch_size=batch_size)
    if num_classes is None:
        num_classes = max(probs.shape[-1], count_classes(y))
    return classification_metrics(y, probs.argmax(axis=-1), num_classes=num_classes)


def train_and_evaluate(
    model_fn,
    train_ds,
    x_test,
    y_test,
    epochs=5,
    num_classes=None,
    seed=None,
    verbose=0,
    batch_size=256,
    steps=None,
):
    """Trains a fresh classifier on ``train_ds`` and evaluates it on the test split.

    Args:
        model_fn: see :func:`train_classifier`.
        train_ds: ``tf.data`` of ``(images, labels)`` batches.
        x_test: real test images.
        y_test: real test labels.
        epochs: training epochs.
        num_classes: number of classes (default: the model's outputs).
        seed: seed set before building the model.
        verbose: ``fit`` verbosity.
        batch_size: inference batch size.
        steps: a fixed number of optimizer steps instead of ``epochs``.

    Returns:
        dict of :func:`classification_metrics` (``accuracy``,
        ``precision_macro``, ``recall_macro``, ``f1_macro``,
        ``confusion_matrix``, per-class arrays) plus ``train_seconds`` and
        ``train_steps`` (optimizer steps taken).
    """
    start = time.perf_counter()
    model = train_classifier(
        model_fn, train_ds, epochs=epochs, seed=seed, verbose=verbose, steps=steps
    )
    seconds = time.perf_counter() - start
    metrics = evaluate_classifier(
        model, x_test, y_test, num_classes=num_classes, batch_size=batch_size
    )
    metrics["train_seconds"] = seconds
    metrics["train_steps"] = num_steps(train_ds, epochs, steps)
    return metrics
