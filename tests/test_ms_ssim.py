"""MS-SSIM and the MS-SSIM diversity score."""

import itertools

import keras
import numpy as np
import pytest
from scipy import signal

from kmgan.metrics import ssim as M


def _np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _smooth_images(n, size=32, channels=3, seed=0):
    """Structured images in [-1, 1]: random low-frequency sinusoid mixtures."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    out = np.zeros((n, size, size, channels), np.float32)
    for i, c in itertools.product(range(n), range(channels)):
        fy, fx, py, px = rng.uniform(0.5, 3.0, 2).tolist() + rng.uniform(0, 6.3, 2).tolist()
        out[i, :, :, c] = 0.8 * np.sin(2 * np.pi * fy * yy + py) * np.cos(2 * np.pi * fx * xx + px)
    return out


def _reference_ms_ssim(a, b, max_val, plan, k1=0.01, k2=0.03):
    """Independent float64 NumPy/SciPy MS-SSIM for one pair (H, W, C) and a scale plan.

    Per channel: 2-D (non-separable) Gaussian window, valid convolution,
    cs at every scale but the last, full SSIM at the last, clipped at 0,
    weighted geometric mean; then the mean over channels.
    """
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    per_channel = []
    for ch in range(a.shape[-1]):
        x, y = a[..., ch], b[..., ch]
        value = 1.0
        for j, (size, sigma, power) in enumerate(plan):
            if j:
                x, y = [
                    np.pad(z, ((0, z.shape[0] % 2), (0, z.shape[1] % 2)), mode="edge")
                    for z in (x, y)
                ]
                x, y = [
                    z.reshape(z.shape[0] // 2, 2, z.shape[1] // 2, 2).mean((1, 3)) for z in (x, y)
                ]
            t = np.arange(size) - (size - 1) / 2
            w = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * sigma**2))
            w /= w.sum()

            def filt(z):
                return signal.convolve2d(z, w[::-1, ::-1], mode="valid")

            mx, my = filt(x), filt(y)
            vx, vy, cxy = filt(x * x) - mx**2, filt(y * y) - my**2, filt(x * y) - mx * my
            cs_map = (2 * cxy + c2) / (vx + vy + c2)
            if j == len(plan) - 1:
                lum = (2 * mx * my + c1) / (mx**2 + my**2 + c1)
                term = np.mean(lum * cs_map)
            else:
                term = np.mean(cs_map)
            value *= max(term, 0.0) ** power
        per_channel.append(value)
    return float(np.mean(per_channel))


# ---------------------------------------------------------------------------
# MS-SSIM
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 32, 32, 3), (3, 28, 28, 1), (2, 180, 184, 3)])
@pytest.mark.parametrize("mode", ["shrink_window", "drop_scales"])
def test_identical_images_give_one(shape, mode):
    x = np.random.default_rng(0).uniform(-1, 1, size=shape).astype("float32")
    np.testing.assert_allclose(_np(M.ms_ssim(x, x, small_images=mode)), 1.0, atol=1e-5)


def test_image_versus_noise_is_well_below_one():
    x = _smooth_images(4)
    noise = np.random.default_rng(1).uniform(-1, 1, size=x.shape).astype("float32")
    values = _np(M.ms_ssim(x, noise))
    assert values.shape == (4,)
    assert np.all(values < 0.3)
    # And similarity falls as the corruption grows.
    rng = np.random.default_rng(2)
    scores = [
        float(
            _np(
                M.ms_ssim(x, np.clip(x + s * rng.normal(size=x.shape), -1, 1).astype("float32"))
            ).mean()
        )
        for s in (0.02, 0.1, 0.5)
    ]
    assert 1.0 > scores[0] > scores[1] > scores[2]


def test_single_image_and_uint8_scale_invariance():
    x = _smooth_images(2)
    value = M.ms_ssim(x[0], x[1])
    assert tuple(_np(value).shape) == ()
    as_u8 = np.round((x + 1) * 127.5).astype(np.uint8)
    via_u8 = _np(M.ms_ssim(as_u8, as_u8[::-1], max_val=255))
    via_unit = _np(M.ms_ssim(as_u8 / 255.0, as_u8[::-1] / 255.0, max_val=1.0))
    np.testing.assert_allclose(via_u8, via_unit, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError):
        M.ms_ssim(x, x[:1])


@pytest.mark.parametrize(
    "shape,mode",
    [
        ((3, 32, 32, 3), "shrink_window"),
        ((3, 28, 28, 1), "shrink_window"),
        ((3, 28, 28, 1), "drop_scales"),
        ((2, 180, 184, 3), "shrink_window"),
    ],
)
def test_matches_independent_numpy_implementation(shape, mode):
    rng = np.random.default_rng(3)
    n, h, w, c = shape
    a = _smooth_images(n, max(h, w), c)[:, :h, :w]
    b = np.clip(a + 0.15 * rng.normal(size=a.shape), -1, 1).astype("float32")
    plan = M.scale_plan(h, w, small_images=mode)
    got = _np(M.ms_ssim(a, b, small_images=mode))
    want = [_reference_ms_ssim(a[i], b[i], 2.0, plan) for i in range(n)]
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)


def test_backend_tensors_and_numpy_give_the_same_values():
    a = _smooth_images(3)
    b = np.clip(a + 0.2 * np.random.default_rng(6).normal(size=a.shape), -1, 1).astype("float32")
    compiled = _np(M.ms_ssim(a, b))  # NumPy in: cached compiled model
    eager = _np(M.ms_ssim(keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(b)))
    np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        _np(M.ssim(a, b)),
        _np(M.ssim(keras.ops.convert_to_tensor(a), keras.ops.convert_to_tensor(b))),
        rtol=1e-5,
        atol=1e-6,
    )


def test_scale_plan_for_small_images():
    plan = M.scale_plan(32, 32)
    assert [p[0] for p in plan] == [11, 11, 8, 4, 2]
    assert [p[2] for p in plan] == list(M.MSSSIM_WEIGHTS)
    assert plan[2][1] == pytest.approx(1.5 * 8 / 11)
    assert [p[0] for p in M.scale_plan(28, 28)] == [11, 11, 7, 4, 2]
    dropped = M.scale_plan(32, 32, small_images="drop_scales")
    assert len(dropped) == 2 and sum(p[2] for p in dropped) == pytest.approx(1.0)
    assert len(M.scale_plan(64, 64, small_images="drop_scales")) == 3
    assert M.scale_plan(176, 176) == M.scale_plan(176, 176, small_images="error")
    assert len(M.scale_plan(176, 176)) == 5
    with pytest.raises(ValueError, match="too small"):
        M.scale_plan(32, 32, small_images="error")
    with pytest.raises(ValueError):
        M.scale_plan(32, 32, small_images="bogus")


def test_agrees_with_tensorflow():
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(4)
    # Big enough for 5 scales of an 11-px window; odd sizes exercise the padding.
    a = rng.uniform(0, 1, size=(2, 180, 184, 3)).astype("float32")
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype("float32")
    np.testing.assert_allclose(
        _np(M.ms_ssim(a, b, max_val=1.0)),
        tf.image.ssim_multiscale(a, b, 1.0).numpy(),
        rtol=1e-4,
        atol=1e-5,
    )
    # Small images with dropped scales = TF with the renormalised power factors.
    small_a, small_b = a[:, :32, :32], b[:, :32, :32]
    powers = [p for _, _, p in M.scale_plan(32, 32, small_images="drop_scales")]
    np.testing.assert_allclose(
        _np(M.ms_ssim(small_a, small_b, max_val=1.0, small_images="drop_scales")),
        tf.image.ssim_multiscale(small_a, small_b, 1.0, power_factors=powers).numpy(),
        rtol=1e-4,
        atol=1e-5,
    )
    # Single-scale SSIM.
    np.testing.assert_allclose(
        _np(M.ssim(small_a, small_b, max_val=1.0)),
        tf.image.ssim(small_a, small_b, 1.0).numpy(),
        rtol=1e-4,
        atol=1e-5,
    )


# ---------------------------------------------------------------------------
# Diversity
# ---------------------------------------------------------------------------


def test_diversity_of_copies_is_one():
    x = np.repeat(_smooth_images(1), 6, axis=0)
    assert M.ms_ssim_diversity(x) == pytest.approx(1.0, abs=1e-5)
    assert M.ms_ssim_diversity(x, num_pairs=7, batch_size=4) == pytest.approx(1.0, abs=1e-5)


def test_diversity_of_noise_is_low():
    x = np.random.default_rng(5).uniform(-1, 1, size=(12, 32, 32, 3)).astype("float32")
    assert M.ms_ssim_diversity(x, batch_size=32) < 0.1


def test_diversity_is_mean_over_distinct_pairs():
    x = _smooth_images(7)
    n = len(x)
    i, j = np.triu_indices(n, k=1)
    brute = _np(M.ms_ssim(x[i], x[j])).mean()
    assert M.ms_ssim_diversity(x, batch_size=8) == pytest.approx(brute, rel=1e-5)
    # Random subsets: distinct unordered pairs, reproducible by seed.
    rng = np.random.default_rng(0)
    si, sj = M._pair_indices(n, 15, rng)
    assert np.all(si < sj) and np.all(sj < n)
    assert len(set(zip(si.tolist(), sj.tolist()))) == 15
    for total in (2, 5, 40):
        ai, aj = M._pair_indices(total, total * (total - 1) // 2 - 1, np.random.default_rng(1))
        assert np.all(ai < aj) and len(set(zip(ai.tolist(), aj.tolist()))) == len(ai)
    d1 = M.ms_ssim_diversity(x, num_pairs=10, seed=3, batch_size=8)
    d2 = M.ms_ssim_diversity(x, num_pairs=10, seed=3, batch_size=8)
    assert d1 == d2
    with pytest.raises(ValueError):
        M.ms_ssim_diversity(x[:1])
