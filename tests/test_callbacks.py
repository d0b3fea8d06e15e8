"""Keras callbacks with games: resume, NaN, logging, sample grids."""

import os

import keras
import numpy as np
import pytest

import kmgan
from kmgan.callbacks import GeneratorCheckpoint
from kmgan.callbacks import SampleGrid
from tests.helpers import make_gman
from tests.helpers import tiny_mlp


class Interrupt(Exception):
    pass


class StopAfterEpoch(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise Interrupt()


def full_state(model):
    state = [v.numpy().copy() for v in model.variables]
    state += [v.numpy().copy() for v in model.optimizer.variables]
    return state


class RecordState(keras.callbacks.Callback):
    def __init__(self, when):
        super().__init__()
        self.when = when
        self.state = None
        self.first_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        if self.when == "epoch_end":
            self.state = full_state(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        if self.when == "train_begin" and self.first_epoch is None:
            self.first_epoch = epoch
            self.state = full_state(self.model)


def fresh_model():
    keras.utils.set_random_seed(11)
    model = make_gman(2, aggregator="auto", seed=5)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    return model


def test_backup_and_restore_resumes_exactly(tmp_path):
    x = np.random.default_rng(0).normal(size=(64, 2)).astype("float32")
    backup = str(tmp_path / "backup")

    # Reference: three epochs without interruption.
    reference = fresh_model()
    reference.fit(x, batch_size=16, epochs=3, shuffle=False, verbose=0)

    # Interrupted after epoch index 1 (two epochs done), then resumed.
    model = fresh_model()
    saved = RecordState("epoch_end")
    with pytest.raises(Interrupt):
        model.fit(
            x,
            batch_size=16,
            epochs=3,
            shuffle=False,
            verbose=0,
            callbacks=[keras.callbacks.BackupAndRestore(backup), saved, StopAfterEpoch(1)],
        )
    resumed = fresh_model()
    loaded = RecordState("train_begin")
    resumed.fit(
        x,
        batch_size=16,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(backup), loaded],
    )
    assert loaded.first_epoch == 2
    assert len(loaded.state) == len(saved.state)
    for a, b in zip(saved.state, loaded.state):
        np.testing.assert_array_equal(a, b)
    # Optimizer iterations of every player, and the noise state, came back:
    # the resumed run ends where the uninterrupted one does.
    for a, b in zip(full_state(reference), full_state(resumed)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_terminate_on_nan_keeps_last_good_generator(tmp_path):
    # Linear discriminators: a NaN input reaches the logits (some backends'
    # ReLU maps NaN to 0).
    linear = [
        keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)], name=f"d{i}") for i in range(2)
    ]
    model = kmgan.GMAN(tiny_mlp(4, 2, "g"), linear, seed=0)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    x = np.random.default_rng(0).normal(size=(96, 2)).astype("float32")
    x[20] = np.nan  # poisons the second batch of the second fit's first epoch
    good = np.random.default_rng(1).normal(size=(48, 2)).astype("float32")
    ckpt = GeneratorCheckpoint(str(tmp_path / "g_{epoch:02d}.keras"))
    model.fit(good, batch_size=16, epochs=1, verbose=0, callbacks=[ckpt])
    history = model.fit(
        x,
        batch_size=16,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.TerminateOnNaN(), ckpt],
    )
    assert len(history.history["d_loss"]) == 1  # stopped in the first epoch
    assert ckpt.saved == [str(tmp_path / "g_01.keras")]
    g = keras.saving.load_model(ckpt.saved[-1], safe_mode=True)
    out = g.predict(np.zeros((4, 4), "float32"), verbose=0)
    assert np.all(np.isfinite(out))


def test_csv_logger_and_tensorboard(tmp_path):
    model = make_gman(2)
    model.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    x = np.random.default_rng(0).normal(size=(32, 2)).astype("float32")
    csv = tmp_path / "log.csv"
    model.fit(
        x,
        batch_size=16,
        epochs=2,
        verbose=0,
        callbacks=[
            keras.callbacks.CSVLogger(str(csv)),
            keras.callbacks.TensorBoard(str(tmp_path / "tb")),
        ],
    )
    header = csv.read_text().splitlines()[0].split(",")
    assert {"epoch", "d_loss", "g_loss", "d_loss_0", "d_loss_1"} <= set(header)
    assert len(csv.read_text().splitlines()) == 3
    assert any(files for _, _, files in os.walk(tmp_path / "tb"))


def test_sample_grid_images_and_scatter(tmp_path):
    keras.utils.set_random_seed(0)
    layers = keras.layers
    z = keras.Input((4,))
    img = layers.Reshape((4, 4, 1))(layers.Dense(16, activation="tanh")(z))
    g = keras.Model(z, img)
    x = inp = keras.Input((4, 4, 1))
    d = keras.Model(inp, layers.Dense(1)(layers.Flatten()(x)))
    gan = kmgan.GAN(g, d)
    gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    grid = SampleGrid(str(tmp_path / "img"), num_samples=9)
    gan.fit(np.zeros((16, 4, 4, 1), "float32"), batch_size=8, epochs=2, verbose=0, callbacks=[grid])
    assert [os.path.basename(p) for p in grid.written] == ["epoch_001.png", "epoch_002.png"]
    picture = keras.utils.load_img(grid.written[0])
    assert picture.size == (12, 12)

    model = make_gman(1)
    model.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    scatter = SampleGrid(str(tmp_path / "pts"), num_samples=100, reference=np.zeros((10, 2)))
    model.fit(np.zeros((16, 2), "float32"), batch_size=8, epochs=1, verbose=0, callbacks=[scatter])
    assert os.path.getsize(scatter.written[0]) > 1000


def test_evaluate_every_logs_metrics_and_keeps_the_best_generator(tmp_path):
    from kmgan.callbacks import EvaluateEvery

    model = make_gman(2)
    model.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
    x, _ = kmgan.data.ring_of_gaussians(64, seed=0)
    calls = []

    def distance(m):
        calls.append(1)
        return kmgan.metrics.mean_distance_to_modes(m.sample(200, seed=0), "ring")

    best = str(tmp_path / "best.keras")
    evaluate = EvaluateEvery({"distance": distance}, every=2, best="distance", filepath=best)
    csv = tmp_path / "log.csv"
    history = model.fit(
        x,
        batch_size=16,
        epochs=3,
        verbose=0,
        callbacks=[evaluate, keras.callbacks.CSVLogger(str(csv))],
    )
    values = history.history["distance"]
    assert len(calls) == 2  # epoch 2, and the last epoch
    assert np.isnan(values[0]) and np.isfinite(values[1]) and np.isfinite(values[2])
    assert "distance" in csv.read_text().splitlines()[0]
    assert evaluate.best_value == min(values[1], values[2])
    kept = keras.saving.load_model(best, safe_mode=True)
    assert kept.predict(np.zeros((2, 4), "float32"), verbose=0).shape == (2, 2)
    with pytest.raises(ValueError, match="best"):
        EvaluateEvery({"fid": distance}, best="is")


class _Projection:
    """A fake feature extractor: grey pixels times a fixed random matrix."""

    batch_size = 32
    input_size = 12
    feature_dim = 8
    weights_tag = "projection"
    comparable_to_papers = False
    name = "projection"

    def __init__(self):
        self.matrix = np.random.default_rng(0).normal(size=(144, 8)).astype("float32")

    def __call__(self, images, value_range=None):
        from kmgan.metrics.inception import preprocess_images

        x = preprocess_images(images, value_range).mean(axis=-1)
        return x.reshape(len(x), -1) @ self.matrix, None


def test_evaluate_every_takes_kid_prdc_and_classifier_metrics(tmp_path):
    from kmgan import callbacks
    from kmgan.metrics import domain
    from kmgan.metrics.kid import kid_from_features

    layers = keras.layers
    z = keras.Input((4,))
    g = keras.Model(z, layers.Reshape((12, 12, 1))(layers.Dense(144, activation="tanh")(z)))
    x = inp = keras.Input((12, 12, 1))
    gan = kmgan.GAN(g, keras.Model(inp, layers.Dense(1)(layers.Flatten()(x))))
    gan.compile(keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2))
    real = np.random.default_rng(0).uniform(-1, 1, size=(64, 12, 12, 1)).astype("float32")
    proj = _Projection()
    clf = domain.DomainClassifier(
        domain.classifier_network((12, 12, 1), 10, seed=0), class_distribution=np.ones(10)
    )
    evaluate = callbacks.EvaluateEvery(
        {
            "kid": callbacks.kid_of_samples(
                real, proj, num_samples=60, num_subsets=5, subset_size=50
            ),
            "pr": callbacks.prdc_of_samples(real, proj, num_samples=60),
            "cfid": callbacks.classifier_fid_of_samples(real, clf, num_samples=60),
            "classes": callbacks.classes_covered_of_samples(clf, num_samples=60),
        },
        every=2,
        best="pr_coverage",
        mode="max",
    )
    csv = tmp_path / "log.csv"
    history = gan.fit(
        real,
        batch_size=16,
        epochs=3,
        verbose=0,
        callbacks=[evaluate, keras.callbacks.CSVLogger(str(csv))],
    )
    names = ["kid", "pr_precision", "pr_recall", "pr_density", "pr_coverage", "cfid", "classes"]
    header = csv.read_text().splitlines()[0].split(",")
    for name in names:
        values = history.history[name]
        assert np.isnan(values[0]) and np.isfinite(values[1]) and np.isfinite(values[2]), name
        assert name in header
    assert 0 <= history.history["pr_coverage"][2] <= 1
    assert evaluate.best_value == max(history.history["pr_coverage"][1:])
    # The last epoch's values are the final generator's.
    fake = gan.sample(60, seed=0)
    expected = kid_from_features(proj(real)[0], proj(fake)[0], 5, 50, seed=0)[0]
    np.testing.assert_allclose(history.history["kid"][2], expected, rtol=1e-4)
    assert history.history["classes"][2] == clf.classes_covered(fake)
    np.testing.assert_allclose(
        history.history["cfid"][2], kmgan.metrics.fid(real, fake, features=clf), rtol=1e-4
    )
    with pytest.raises(ValueError, match="pr_coverage"):
        callbacks.EvaluateEvery({"pr": callbacks.prdc_of_samples(real, proj)}, best="pr")
    with pytest.raises(ValueError, match="at least 100"):
        callbacks.kid_of_samples(real, proj, subset_size=100)


@pytest.mark.parametrize("epochs, stopped, done", [(3, True, 1), (1, False, 1)])
def test_training_progress_stops_past_its_deadline_but_not_after_the_last_epoch(
    tmp_path, epochs, stopped, done
):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    path = str(tmp_path / "progress.json")
    progress = kmgan.callbacks.TrainingProgress(path, deadline=0.0)  # long past
    x = np.zeros((8, 2), "float32")
    model.fit(x, x[:, :1], epochs=epochs, batch_size=4, verbose=0, callbacks=[progress])
    assert progress.stopped is stopped
    state = kmgan.io.read_json(path)
    assert state["epochs_done"] == done and state["sessions"] == [
        {"start_epoch": 0, "end_epoch": done}
    ]
