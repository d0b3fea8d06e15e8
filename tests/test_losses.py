"""Each adversarial loss matches its formula on fixed logits."""

import numpy as np
import pytest
from keras import ops

from kmgan import losses

REAL = np.array([2.0, -1.0, 0.5, 3.0], "float32")
FAKE = np.array([-2.0, 0.3, 1.5, -0.7], "float32")


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def value(x):
    return float(ops.convert_to_numpy(x))


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_discriminator(smoothing):
    t = 1.0 - smoothing
    expected = np.mean(-(t * np.log(sig(REAL)) + (1 - t) * np.log(1 - sig(REAL)))) + np.mean(
        -np.log(1 - sig(FAKE))
    )
    for name in ("minimax", "non_saturating"):
        got = losses.get(name, smoothing).discriminator(REAL, FAKE)
        np.testing.assert_allclose(value(got), expected, rtol=1e-5)


def test_generator_losses():
    cases = {
        "minimax": np.mean(np.log(1 - sig(FAKE))),
        "non_saturating": np.mean(-np.log(sig(FAKE))),
        "least_squares": np.mean(0.5 * (FAKE - 1) ** 2),
        "hinge": np.mean(-FAKE),
        "wasserstein": np.mean(-FAKE),
    }
    for name, expected in cases.items():
        np.testing.assert_allclose(value(losses.get(name).generator(FAKE)), expected, rtol=1e-5)


def test_least_squares_hinge_wasserstein_discriminators():
    np.testing.assert_allclose(
        value(losses.get("least_squares", 0.1).discriminator(REAL, FAKE)),
        0.5 * (np.mean((REAL - 0.9) ** 2) + np.mean(FAKE**2)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        value(losses.get("hinge").discriminator(REAL, FAKE)),
        np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        value(losses.get("wasserstein").discriminator(REAL, FAKE)),
        np.mean(FAKE) - np.mean(REAL),
        rtol=1e-5,
    )


def test_logits_of_shape_batch_by_one():
    loss = losses.get("non_saturating")
    np.testing.assert_allclose(
        value(loss.discriminator(REAL[:, None], FAKE[:, None])),
        value(loss.discriminator(REAL, FAKE)),
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="Unknown loss"):
        losses.get("nonsense")
    with pytest.raises(ValueError, match="no meaning"):
        losses.get("hinge", 0.1)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        losses.get("minimax", 1.0)
