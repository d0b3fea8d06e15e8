"""Diversity measures: distinct dominant classes, MS-SSIM between generators, per class."""

import numpy as np
import pytest

from kmgan.games.madgan import MADGAN
from kmgan.metrics import diversity
from kmgan.metrics import ms_ssim
from kmgan.metrics import ms_ssim_diversity
from kmgan.nets import multi


def _smooth(n, seed, size=28):
    """Structured images in [-1, 1] (low-frequency sinusoid mixtures)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size), indexing="ij")
    out = np.zeros((n, size, size, 1), np.float32)
    for i in range(n):
        fy, fx = rng.uniform(0.5, 3.0, 2)
        py, px = rng.uniform(0, 6.3, 2)
        out[i, :, :, 0] = 0.8 * np.sin(2 * np.pi * fy * yy + py) * np.cos(2 * np.pi * fx * xx + px)
    return out


def _brightness_classifier(x):
    """3 classes by mean pixel: < -0.3, in between, > 0.3 (one-hot scores)."""
    m = np.asarray(x).reshape(len(x), -1).mean(axis=1)
    return np.eye(3)[np.digitize(m, [-0.3, 0.3])]


def test_distinct_dominant_classes_from_samples():
    n = 6
    levels = [-0.8, 0.0, 0.8, 0.8]  # generators 2 and 3 both make class 2
    samples = np.stack([np.full((n, 4, 4, 1), v, np.float32) for v in levels])
    samples[0, :2] = 0.8  # a third of generator 0's samples fall in class 2
    report = diversity.generator_distinctness(samples, _brightness_classifier, num_classes=3)
    np.testing.assert_array_equal(report["dominant"], [0, 1, 2, 2])
    assert report["distinct_dominant"] == 3 and report["num_generators"] == 4
    np.testing.assert_allclose(report["dominant_share"], [4 / 6, 1, 1, 1])
    np.testing.assert_array_equal(report["counts"][0], [4, 0, 2])
    assert report["classes_covered"] == 3


def test_distinctness_samples_a_game_and_its_sampler_alike():
    k = 3
    g = multi.madgan_mlp_generator(k, latent_dim=4, hidden_units=(8,), seed=0)
    game = MADGAN(g, multi.madgan_mlp_discriminator(k, hidden_units=(8,), seed=1), seed=0)

    def sign_classifier(x):
        x = np.asarray(x)
        return np.stack([x[:, 0], -x[:, 0]], axis=1)

    from_game = diversity.generator_distinctness(
        game, sign_classifier, num_per_generator=20, num_classes=2, seed=3
    )
    from_sampler = diversity.generator_distinctness(
        game.export_sampler(), sign_classifier, num_per_generator=20, num_classes=2, seed=3
    )
    np.testing.assert_array_equal(from_game["counts"], from_sampler["counts"])
    assert from_game["counts"].sum() == k * 20


def test_cross_generator_ms_ssim_copies_and_distinct_generators():
    base = _smooth(2, seed=0)
    base[1] = 0.7 * base[0] + 0.3 * base[1]  # related images: MS-SSIM well above 0
    copies = np.stack([base] * 3)  # every generator draws the same image for the same z
    out = diversity.cross_generator_ms_ssim(copies, num_pairs=8, batch_size=4)
    np.testing.assert_allclose(out["between"], 1.0, rtol=1e-5)
    # n = 2: every within pair is (z_0, z_1) of one generator
    want = float(np.asarray(ms_ssim(base[:1], base[1:]))[0])
    assert 0.1 < want < 0.99
    np.testing.assert_allclose(out["within"], want, rtol=1e-5)
    np.testing.assert_allclose(out["ratio"], 1.0 / want, rtol=1e-5)
    distinct = np.stack([_smooth(2, seed=s) for s in (1, 2, 3)])
    apart = diversity.cross_generator_ms_ssim(distinct, num_pairs=8, batch_size=4)
    assert apart["between"] < 0.9


def test_per_class_ms_ssim():
    one = _smooth(1, seed=4)
    images = np.concatenate([np.repeat(one, 3, axis=0), _smooth(4, seed=5), _smooth(1, seed=6)])
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 2])  # class 2 has one image: left out
    out = diversity.per_class_ms_ssim(images, labels, num_pairs=None, batch_size=8)
    assert sorted(out["per_class"]) == [0, 1]
    np.testing.assert_allclose(out["per_class"][0], 1.0, rtol=1e-5)  # a collapsed class
    want = ms_ssim_diversity(images[3:7], num_pairs=None, batch_size=8)
    np.testing.assert_allclose(out["per_class"][1], want, rtol=1e-6)
    np.testing.assert_allclose(out["mean"], (1.0 + want) / 2, rtol=1e-5)


def test_diversity_errors():
    with pytest.raises(ValueError, match="labels"):
        diversity.per_class_ms_ssim(_smooth(3, 0), [0, 1])
    with pytest.raises(ValueError, match="2 or more"):
        diversity.per_class_ms_ssim(_smooth(2, 0), [0, 1])
    with pytest.raises(ValueError, match="2 generators"):
        diversity.cross_generator_ms_ssim(np.stack([_smooth(2, 0)]))
    with pytest.raises(ValueError, match=r"\(K, n"):
        diversity.generator_distinctness(np.zeros((3, 2)), _brightness_classifier)
