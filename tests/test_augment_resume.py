"""`augment.run_sweep` resumes: finished cells are skipped, other settings refused."""

import json

import numpy as np
import pytest

from kmgan import augment as A
from tests.test_augment import _StubFeatures
from tests.test_augment import _tiny_conditional
from tests.test_augment import _tiny_multi


class _Interrupted(Exception):
    pass


class _Classifiers:
    """`model_fn` counting the classifiers built; raises on build number `stop_at`."""

    def __init__(self, stop_at=None):
        self.built, self.stop_at = 0, stop_at

    def __call__(self):
        self.built += 1
        if self.built == self.stop_at:
            raise _Interrupted()
        return A.simple_cnn((28, 28, 1), 10, blocks=1, base_filters=4, dense_units=0, dropout=0.0)


def _data():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (200, 28, 28, 1), dtype=np.uint8)
    y = np.arange(200) % 10
    return (x[:160], y[:160]), (x[160:], y[160:])


_GENERATORS = {}


def _generators():
    """The same two tiny generators for every sweep of the module."""
    if not _GENERATORS:
        _GENERATORS["cgan"] = A.sampler_from_model(_tiny_conditional(), name="cgan")
        _GENERATORS["madgan"] = A.sampler_from_model(_tiny_multi(), name="madgan")
    return _GENERATORS


def _sweep(out, model_fn, subsets, **overrides):
    conditional = _generators()["cgan"]

    def per_subset(x, y, seed, fraction):  # "trains" a generator on this subset
        subsets.append(fraction)
        return conditional

    settings = dict(
        methods={
            "none": None,
            "noise": "noise",
            "cgan_subset": A.PerSubset(per_subset, name="cgan_subset"),
            "madgan": _generators()["madgan"],
        },
        real_fractions=(1.0, 0.5),
        generated_ratios=(0, 1),
        seeds=(0,),
        epochs=1,
        out_dir=str(out),
        batch_size=40,
        threshold=0.12,
        model_fn=model_fn,
        features=_StubFeatures(),
        metric_samples=20,
        diversity_pairs=5,
        max_draw_factor=3,
        log=None,
    )
    settings.update(overrides)
    real, test = _data()
    return A.run_sweep(real, test, **settings)


def _table(rows):
    return [
        (r["method"], r["real_fraction"], r["generated_ratio"], r["n_real"], r["n_generated"])
        for r in rows
    ]


def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path):
    # Per subset: none, noise, cgan_subset at 1x, the auxiliary and madgan at 1x.
    out, subsets = tmp_path / "sweep", []
    with pytest.raises(_Interrupted):  # stops while f=0.5's noise classifier is built
        _sweep(out, _Classifiers(stop_at=7), subsets)
    assert subsets == [1.0]
    assert {p.name for p in (out / "cells").iterdir()} == {
        "real-data-metrics.json",
        "none_seed0_fraction1.json",
        "noise_seed0_fraction1.json",
        "cgan_subset_seed0_fraction1.json",
        "madgan_seed0_fraction1.json",
        "none_seed0_fraction0.5.json",
    }
    assert (out / "results.md").exists()  # the partial report

    resumed = _Classifiers()
    rows = _sweep(out, resumed, subsets)
    assert resumed.built == 4  # noise, cgan_subset, the auxiliary and madgan at f=0.5
    assert subsets == [1.0, 0.5]
    fresh = _sweep(tmp_path / "fresh", _Classifiers(), [])
    assert _table(rows) == _table(fresh)
    methods = {r["method"] for r in rows}
    assert methods == {"none", "noise", "cgan_subset", "madgan"}

    again = _Classifiers()
    repeated = _sweep(out, again, subsets)
    assert again.built == 0 and subsets == [1.0, 0.5]
    assert _table(repeated) == _table(rows)
    for old, new in zip(rows, repeated):
        assert new["accuracy"] == old["accuracy"] and new["f1_macro"] == old["f1_macro"]
        np.testing.assert_array_equal(new["confusion_matrix"], old["confusion_matrix"])
        assert np.isnan(new["kept_fraction"]) == np.isnan(old["kept_fraction"])
    md = (out / "results.md").read_text()
    assert "Confidence filter" in md and "| madgan |" in md
    # Metrics of the first seed: a per-subset generator at every fraction, others once.
    data = json.loads((out / "results.json").read_text())
    measured = {(r["method"], r["real_fraction"]) for r in data["generative_metrics"]}
    assert measured == {
        ("real data", 1.0),
        ("cgan_subset", 1.0),
        ("cgan_subset", 0.5),
        ("madgan", 1.0),
    }
    assert (out / "samples_cgan_subset_fraction0.5.png").exists()


def test_other_settings_are_refused_before_training(tmp_path):
    out, subsets = tmp_path / "sweep", []
    _sweep(out, _Classifiers(), subsets, methods={"none": None}, real_fractions=(1.0,))
    counter = _Classifiers()
    with pytest.raises(ValueError, match="epochs"):
        _sweep(out, counter, subsets, methods={"none": None}, real_fractions=(1.0,), epochs=2)
    assert counter.built == 0
    rerun = _Classifiers()
    _sweep(
        out, rerun, subsets, methods={"none": None}, real_fractions=(1.0,), epochs=2, resume=False
    )
    assert rerun.built == 1


# ---------------------------------------------------------------------------
# kmgan augment: resume flags, MAD-GAN layout, the 2015 FID network
# ---------------------------------------------------------------------------


def _npz(tmp_path):
    (x_train, y_train), (x_test, y_test) = _data()
    path = tmp_path / "digits.npz"
    np.savez(path, x_train=x_train[..., 0], y_train=y_train, x_test=x_test[..., 0], y_test=y_test)
    return str(path)


@pytest.mark.parametrize(
    "flags, resume", [([], True), (["--no-resume"], False), (["--retrain"], False)]
)
def test_augment_command_resumes_unless_told_not_to(tmp_path, captured, flags, resume):
    from kmgan import augment_cli

    argv = ["--data", _npz(tmp_path), "--methods", "none", "--out", str(tmp_path / "o")]
    augment_cli.run_args(augment_cli.build_parser().parse_args(argv + flags), log=lambda *a: None)
    (config,) = captured
    assert config.resume is resume
    assert config.run_settings["classifier"] == "mnist"
    assert config.run_settings["madgan_layout"] == "shared"


def test_madgan_layout_reaches_the_game(monkeypatch, tmp_path):
    from kmgan import augment_cli
    from kmgan.games import registry

    built = []

    def build(name, shape, **options):
        built.append((name, options))
        raise _Interrupted()

    monkeypatch.setattr(registry, "build", build)
    for layout, want in (("first", {"generators": "first"}), ("shared", {})):
        argv = ["--data", "unused", "--madgan-layout", layout, "--madgan-generators", "3"]
        args = augment_cli.build_parser().parse_args(argv)
        with pytest.raises(_Interrupted):
            augment_cli.train_madgan(_data()[0], 10, args, str(tmp_path / "m.keras"), log=None)
        name, options = built[-1]
        assert name == "madgan" and options["num_generators"] == 3
        assert {k: v for k, v in options.items() if k == "generators"} == want


def test_inception_spec_picks_the_2015_network(monkeypatch):
    import importlib

    from kmgan import augment_cli

    inception_2015 = importlib.import_module("kmgan.metrics.inception_2015")
    made = []
    monkeypatch.setattr(inception_2015, "inception_2015", lambda path=None: made.append(path))
    monkeypatch.delenv(inception_2015.ENV_VAR, raising=False)
    augment_cli.resolve_inception("inception2015", log=lambda *a: None)
    augment_cli.resolve_inception("/some/where/fid_inception.pt", log=lambda *a: None)
    assert made == [None, "/some/where/fid_inception.pt"]
    monkeypatch.setenv(inception_2015.ENV_VAR, "/x.pt")
    augment_cli.resolve_inception("auto", log=lambda *a: None)
    assert made[-1] is None and len(made) == 3
    assert augment_cli.resolve_inception("none", log=lambda *a: None) is None


def test_gda_recipe_quick_resumes(mnist_npz, tmp_path, capsys):
    """`recipes/gda.py --quick` (the CI path): a second run trains nothing."""
    from tests.helpers import load_recipe

    gda = load_recipe("gda")
    argv = ["--quick", "--datasets", str(mnist_npz), "--real-fractions", "0.1"]
    argv += ["--inception", "none", "--out", str(tmp_path)]
    assert gda.main(argv) == 0
    first = capsys.readouterr().out
    assert "madgan: training K=10 generators (first layers)" in first
    assert ": training" in first and "training the auxiliary" in first
    results = (tmp_path / "mnist_5k" / "results.csv").read_text()
    assert gda.main(argv) == 0
    second = capsys.readouterr().out
    assert ": training" not in second and "training the auxiliary" not in second
    assert second.count("finished before") == 7  # real data, none, 3 families, cgan, madgan
    assert (tmp_path / "mnist_5k" / "results.csv").read_text() == results
