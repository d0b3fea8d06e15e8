"""ControlGAN: every player moves, the gamma_t rule, the classifier sees only
real data, augmentation choices, Table 1 defaults."""

import keras
import numpy as np
import pytest
from keras import layers
from keras import ops

from kmgan.games.controlgan import ControlGAN
from kmgan.games.controlgan import default_augmentation
from kmgan.games.controlgan import paper_adam
from tests.helpers import SHAPE
from tests.helpers import adam
from tests.helpers import snapshot
from tests.helpers import tiny_discriminator
from tests.helpers import tiny_generator
from tests.helpers import tiny_players
from tests.helpers import toy_data


def test_every_player_moves_under_fit():
    steps, d_steps = 3, 2
    model = ControlGAN(*tiny_players(), d_steps=d_steps, gamma_rate=1.0, gamma_alpha=0.0, seed=0)
    model.compile(adam(), adam(), adam())
    x, y = toy_data(steps * 8)
    before = {p: snapshot(vs) for p, vs in model.player_variables().items()}
    u_before = snapshot([v for v in model.discriminator.non_trainable_variables])
    aug_before = snapshot(model.augmentation.non_trainable_variables)
    history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)

    assert int(model.optimizer.iterations.numpy()) == steps
    expected_steps = {"discriminator": steps * d_steps, "classifier": steps, "generator": steps}
    for player, variables in model.player_variables().items():
        inner = model.optimizer[player]
        assert int(inner.iterations.numpy()) == expected_steps[player], player
        moments = [v for v in inner.variables if "momentum" in v.path]
        assert moments and all(np.abs(v.numpy()).sum() > 0 for v in moments), player
        moved = [not np.allclose(a, b) for a, b in zip(before[player], snapshot(variables))]
        assert all(moved), player
    # Spectral-norm vectors and the augmentation's seeds are carried state.
    u_after = snapshot(model.discriminator.non_trainable_variables)
    assert all(not np.allclose(a, b) for a, b in zip(u_before, u_after))
    aug_after = snapshot(model.augmentation.non_trainable_variables)
    assert any(not np.array_equal(a, b) for a, b in zip(aug_before, aug_after))
    # alpha = 0, r = 1: gamma_t jumps to its cap.
    np.testing.assert_allclose(float(ops.convert_to_numpy(model.gamma)), 0.1, rtol=1e-6)
    logs = history.history
    assert set(ControlGAN.log_names) <= set(logs) and "score" not in logs
    assert all(np.isfinite(logs[name][-1]) for name in ControlGAN.log_names)
    assert logs["gp"][-1] >= 0.0
    p = ops.convert_to_numpy(model.real_probability(x[:4]))
    assert p.shape == (4,) and np.all((p >= 0) & (p <= 1))


def test_classifier_learns_from_real_data_only():
    # Two games that differ only in their generators: the classifier (trained
    # on augmented real data alone) must end with the same weights.
    x, y = toy_data(16)
    weights = []
    for g_seed in (0, 100):
        model = ControlGAN(*tiny_players(g_seed), d_steps=1, seed=4)
        model.compile(adam(), adam(), adam())
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        weights.append(snapshot(model.classifier.trainable_variables))
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_gamma_rule():
    model = ControlGAN(*tiny_players(), gamma_rate=1e-3, gamma_alpha=1.0, gamma_max=0.1)
    step = lambda g, fake, real: float(ops.convert_to_numpy(model.next_gamma(g, fake, real)))
    np.testing.assert_allclose(step(0.05, 2.0, 1.5), 0.05 + 1e-3 * 0.5, rtol=1e-6)
    np.testing.assert_allclose(step(0.05, 1.0, 1.5), 0.05 - 1e-3 * 0.5, rtol=1e-6)
    assert step(0.0, 0.1, 5.0) == 0.0  # never negative
    assert step(0.0999, 9.0, 0.0) == pytest.approx(0.1)  # capped at gamma_max
    assert float(ops.convert_to_numpy(model.gamma)) == 0.0  # gamma_0
    assert not model.gamma.trainable
    assert all(model.gamma is not v for vs in model.player_variables().values() for v in vs)


def test_defaults_are_the_papers():
    model = ControlGAN(*tiny_players())
    assert model.loss.name == "hinge" and model.gp_weight == 10.0
    assert model.d_steps == 5 and model.c_steps == 1
    assert model.gamma_max == 0.1 and model.fake_labels == "uniform"
    model.compile()
    for player, lr, boundary in (
        ("discriminator", 4e-4, 5 * 50_000),
        ("generator", 2e-4, 50_000),
        ("classifier", 2e-4, 50_000),
    ):
        opt = model.optimizer[player]
        assert isinstance(opt, keras.optimizers.Adam)
        assert opt.beta_1 == 0.0 and opt.beta_2 == 0.9
        schedule = opt._learning_rate
        rate = lambda step: float(ops.convert_to_numpy(schedule(step)))
        assert rate(0) == pytest.approx(lr) and rate(boundary) == pytest.approx(lr)
        assert rate(boundary + 1) == pytest.approx(lr / 2)
    constant = paper_adam(1e-3, halve_after=None)
    assert float(ops.convert_to_numpy(constant.learning_rate)) == pytest.approx(1e-3)


def test_augmentation_choices():
    rgb = default_augmentation((8, 8, 3), seed=0)
    assert [type(l).__name__ for l in rgb.layers] == ["RandomFlip", "RandomTranslation"]
    grey = default_augmentation((8, 8, 1), seed=0)
    assert [type(l).__name__ for l in grey.layers] == ["RandomTranslation"]
    x = np.random.default_rng(0).uniform(-1, 1, (4,) + SHAPE).astype("float32")
    assert tuple(ops.shape(rgb(x, training=True))) == x.shape

    none = ControlGAN(*tiny_players(), augmentation=None)
    np.testing.assert_array_equal(ops.convert_to_numpy(none.augment(x)), x)
    custom = ControlGAN(*tiny_players(), augmentation=[layers.RandomFlip("vertical", seed=1)])
    assert tuple(ops.shape(custom.augment(x))) == x.shape
    with pytest.raises(TypeError, match="Keras layer"):
        ControlGAN(*tiny_players(), augmentation=lambda images: images)
    with pytest.raises(ValueError, match="class logits"):
        ControlGAN(tiny_generator(), tiny_discriminator(), tiny_discriminator())


def test_keras_cv_augmentation_if_installed():
    keras_cv = pytest.importorskip("keras_cv")
    model = ControlGAN(*tiny_players(), augmentation=keras_cv.layers.RandomFlip("horizontal"))
    x = np.zeros((2,) + SHAPE, "float32")
    assert tuple(ops.shape(model.augment(x))) == x.shape


@pytest.mark.parametrize("game", ["controlgan", "scoregan"])
def test_builder_classifier_keeps_table_1_size_at_any_width(game):
    # A classifier scaled down with the GAN (4-16 channels at width 32) learnt
    # MNIST too slowly for gamma_t to rise: the generator ignored the labels.
    from kmgan import evaluators
    from kmgan.games import registry

    def stage_widths(model):
        return sorted(
            {layer.filters for layer in model.classifier.layers if hasattr(layer, "filters")}
        )

    def build(shape, **options):
        if game == "scoregan":
            head = keras.Sequential(
                [keras.Input(shape), layers.Flatten(), layers.Dense(10, "softmax")]
            )
            options["evaluator"] = evaluators.frozen(head)
        return registry.build(game, shape, num_classes=10, **options)

    small = build((28, 28, 1), base_filters=8)
    assert stage_widths(small) == [32, 64, 128]  # Table 1's, less one stage at 28x28
    wide = build((32, 32, 3), base_filters=16)
    assert stage_widths(wide) == [32, 64, 128]  # (32, 64, 128, 128)
    chosen = build((28, 28, 1), base_filters=8, classifier_widths=[8, 16])
    assert stage_widths(chosen) == [8, 16]
