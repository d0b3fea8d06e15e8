"""Pretrained weights Keras publishes: fetched once, never replaced by random ones.

Used by the ImageNet evaluators (`kmgan.evaluators`) and the ImageNet
InceptionV3 of IS/FID (`kmgan.metrics.inception`). Where the file can be
neither found in `~/.keras/models/` nor downloaded, the error names the
file, its URL and how to pass a local copy.
"""

import keras

__all__ = ["fetch_keras_weights"]


def fetch_keras_weights(fname, url, what, local_copy, error=RuntimeError, file_hash=None):
    """Path of a Keras-published weights file in `~/.keras/models/`, downloading it once.

    Args:
        fname: the file name.
        url: its full URL.
        what: what the weights are and are for, e.g. "ImageNet MobileNetV2
            weights for the evaluator" (for the error message).
        local_copy: the call that takes a local copy of the file instead
            (for the error message).
        error: the exception class raised when the file cannot be had.
        file_hash: its expected hash (checked by `keras.utils.get_file`),
            or None.

    Returns:
        The local path of the file.

    Raises:
        error: when the file is not cached and cannot be downloaded intact.
    """
    try:
        return keras.utils.get_file(fname, url, cache_subdir="models", file_hash=file_hash)
    except Exception as err:  # no network, URL failure, corrupted download
        raise error(
            f"Could not obtain the {what} ({type(err).__name__}: {err}).\n"
            f"Fetch the file {fname} on a machine with network access from\n  {url}\n"
            f"and either put it in ~/.keras/models/ or pass its path: {local_copy}. "
            "kmgan never falls back to random weights when pretrained ones were asked for."
        ) from err
