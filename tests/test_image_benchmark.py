"""The image benchmark recipe: its quick path, resume, skip, report and refusals.

One multi-generator game (MGAN) and one conditional game (cGAN) run the
whole path on `--quick` settings: trained, stopped by `--time-limit 0` after
their first epoch's backup, resumed, evaluated, skipped when finished,
evaluated again without training when only the result is missing, and
merged into one table from separate invocations.
"""

import json
import os

import pytest

from kmgan import io as kio
from tests.helpers import load_recipe


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("image_benchmark")


@pytest.fixture
def argv(tmp_path):
    def make(*extra):
        return [
            "--quick",
            "--out",
            str(tmp_path / "out"),
            "--cache-dir",
            str(tmp_path / "cache"),
            *extra,
        ]

    return make


def _run_dir(tmp_path, variant):
    (dataset,) = [d for d in os.listdir(tmp_path / "out") if (tmp_path / "out" / d).is_dir()]
    return tmp_path / "out" / dataset / variant


def _read(path):
    return json.loads(path.read_text())


def test_quick_stops_resumes_skips_and_merges(recipe, argv, tmp_path, capsys):
    # A time limit of 0 stops the run at the end of its first epoch, backup kept.
    assert recipe.main(argv("--variants", "mgan", "--time-limit", "0")) == []
    mgan = _run_dir(tmp_path, "mgan")
    assert (mgan / "backup" / "latest.weights.h5").exists()
    assert _read(mgan / "run.json")["status"] == "training"
    assert _read(mgan / "progress.json")["epochs_done"] == 1
    assert not (mgan / "sampler.keras").exists()
    capsys.readouterr()
    assert recipe.main(argv("--variants", "mgan", "--report")) == []
    assert "mgan: epoch 1 of 2 backed up" in capsys.readouterr().out

    # The same command without the limit continues from epoch 1, then evaluates.
    rows = recipe.main(argv("--variants", "mgan"))
    state = _read(mgan / "run.json")
    assert state["status"] == "trained"
    assert state["sessions"] == [
        {"start_epoch": 0, "end_epoch": 1},
        {"start_epoch": 1, "end_epoch": 2},
    ]
    assert state["settings"]["steps"] == 16 and state["g_params"] > 0 < state["d_params"]
    assert not (mgan / "backup").exists()
    (row,) = rows
    assert row["variant"] == "mgan" and row["comparable_to_papers"] is False
    assert row["steps"] == 16 and row["num_generated"] == 200
    assert row["distinct_dominant"] <= row["num_generators"] == 3
    assert 0.0 <= row["coverage"] <= 1.0 and row["fid"] >= 0.0
    assert 0.0 < row["ms_ssim"]["within"] <= 1.0 and 0.0 < row["ms_ssim"]["between"] <= 1.0
    assert (tmp_path / "out" / row["grid"]).exists()

    # Finished: skipped, nothing retrained or rescored.
    result = mgan / "result-domain.json"
    stamp = result.stat().st_mtime_ns
    capsys.readouterr()
    recipe.main(argv("--variants", "mgan"))
    assert "done; skipped" in capsys.readouterr().out
    assert result.stat().st_mtime_ns == stamp
    assert len(_read(mgan / "progress.json")["sessions"]) == 2

    # A second invocation adds the conditional game; --report merges both.
    rows = recipe.main(argv("--variants", "cgan"))
    cgan = _run_dir(tmp_path, "cgan")
    assert {r["variant"] for r in rows} == {"mgan", "cgan"}
    (cond,) = [r for r in rows if r["variant"] == "cgan"]
    assert 0.0 <= cond["label_accuracy"] <= 1.0 and 0.0 <= cond["cas"] <= 1.0
    scores = cond["ms_ssim"]
    assert set(scores["per_class"]) == set(scores["real_per_class"])
    assert len(scores["per_class"]) > 1
    gaps = [scores["per_class"][c] - scores["real_per_class"][c] for c in scores["per_class"]]
    assert scores["max_abs_gap"] == pytest.approx(max(map(abs, gaps)))
    rows = recipe.main(argv("--variants", "mgan,cgan", "--report"))
    assert {r["variant"] for r in rows} == {"mgan", "cgan"}
    table = (tmp_path / "out" / "results.md").read_text()
    assert "MGAN K=3" in table and "cGAN" in table and "not comparable to papers" in table
    assert _read(tmp_path / "out" / "results.json") == rows

    # A row scored before the MS-SSIM diversity existed gets it, and only it, added.
    result = cgan / "result-domain.json"
    before = _read(result)
    kio.atomic_write_json(result, {k: v for k, v in before.items() if k != "ms_ssim"})
    capsys.readouterr()
    recipe.main(argv("--variants", "cgan"))
    assert "MS-SSIM diversity added" in capsys.readouterr().out
    after = _read(result)
    assert after.pop("diversity_wall_s") >= 0.0 and after == before
    # Without its sampler a row stays as it is.
    kio.atomic_write_json(result, {k: v for k, v in before.items() if k != "ms_ssim"})
    os.rename(cgan / "sampler.keras", cgan / "kept.keras")
    recipe.main(argv("--variants", "cgan"))
    assert "done; skipped" in capsys.readouterr().out and "ms_ssim" not in _read(result)
    os.rename(cgan / "kept.keras", cgan / "sampler.keras")

    # Trained but not evaluated: evaluated again without training.
    os.remove(cgan / "result-domain.json")
    capsys.readouterr()
    recipe.main(argv("--variants", "cgan"))
    assert "trained; evaluating" in capsys.readouterr().out
    assert len(_read(cgan / "progress.json")["sessions"]) == 1
    assert (cgan / "result-domain.json").exists()

    # Other settings in the same directory are refused, before any training.
    with pytest.raises(ValueError, match="other settings"):
        recipe.main(argv("--variants", "cgan", "--steps", "8"))


def test_damaged_results_json_is_refused(recipe, argv, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text('[{"dataset": "mnist", ')
    with pytest.raises(kio.DamagedFileError, match="results.json"):
        recipe.main(argv("--variants", "dcgan", "--report"))
    with pytest.raises(kio.DamagedFileError, match="results.json"):
        recipe.main(argv("--variants", "dcgan"))
    assert not any(p.is_dir() for p in out.iterdir())  # nothing was trained


def test_variants_and_settings(recipe):
    table = recipe.variants()
    assert len(table) == 14 and list(table)[0] == "dcgan"
    args = recipe.parse_args(["--data", "mnist", "--variants", "madgan-sim,megan"])
    assert args.variant_names == ["madgan-sim", "megan"] and args.base_filters == 32
    assert recipe.build_options(table["madgan-sim"], args, 10) == {
        "num_generators": 10,
        "similarity": 1.0,
        "margin": 1.0,
        "base_filters": 32,
        "seed": 0,
    }
    assert recipe.build_options(table["controlgan"], args, 10)["num_classes"] == 10
    assert recipe.build_options(table["megan-detached"], args, 10)["detach_features"] is True
    with pytest.raises(ValueError, match="Unknown variant"):
        recipe.parse_args(["--data", "mnist", "--variants", "dcgan,nope"])
    assert recipe.dataset_id("../shared/data/fashion_mnist.npz") == "fashion_mnist"
    labels = recipe.balanced_labels(25, 10, seed=0)
    assert sorted(labels.tolist()) == sorted(i % 10 for i in range(25))


def test_table_puts_the_real_floor_first(recipe):
    scores = dict(fid=12.5, kid=0.004, kid_std=0.001, precision=0.7, recall=0.5, density=0.9)
    scores.update(coverage=0.8, classes_covered=10, kl_to_real=0.01)
    floor = dict(scores, dataset="mnist.npz", features="inception-2015", num=10_000, fid=0.5)
    row = dict(scores, dataset="mnist", features="inception-2015", comparable_to_papers=True)
    row.update(variant="cgan", label="cGAN", label_accuracy=0.9, cas=0.8, g_params=10)
    row.update(d_params=20, steps=2811, batch_size=64, train_wall_s=60, eval_wall_s=120)
    row.update(grid="mnist/cgan/samples.png", num_generated=10_000, num_real=10_000)
    row.update(backend="tensorflow", base_filters=32)
    mgan = dict(row, variant="mgan", label="MGAN K=10", distinct_dominant=7, num_generators=10)
    del mgan["label_accuracy"], mgan["cas"]
    table = recipe.markdown([row, mgan], [floor], list(recipe.variants()))
    lines = [x for x in table.splitlines() if x.startswith("| ") and not x.startswith("| ---")]
    assert lines[0].startswith("| game | FID")
    assert lines[1].startswith("| real data (train vs test, 10,000) | 0.50 ")
    assert lines[2].startswith("| MGAN K=10 | 12.50 | 4.00 ± 1.00 |") and "| 7 of 10 |" in lines[2]
    assert lines[3].startswith("| cGAN |") and "| 0.900 | 0.800 |" in lines[3]
    assert "not comparable" not in table
    assert all(line.count("|") == lines[0].count("|") for line in lines)


def test_training_option_modifiers_make_their_own_rows(recipe, argv, tmp_path):
    table = recipe.variants()
    ada = recipe.resolve_variant("dcgan+ada+ema", table)
    assert ada.game == "dcgan" and ada.name == "dcgan+ada+ema"
    assert ada.options == {"augment": "ada", "ema_decay": 0.999, "ema_start": 1000}
    assert ada.label == "DCGAN + ADA + EMA 0.999 from step 1000"
    lower = recipe.resolve_variant("mgan+ema0.99", table)
    assert lower.options["ema_decay"] == 0.99 and lower.options["ema_start"] == 1000
    assert lower.label == "MGAN K={num_generators} + EMA 0.99 from step 1000"
    for unknown in ("dcgan+zoom", "dcgan+ema1.5", "dcgan+ema0.9x"):
        with pytest.raises(ValueError, match="modifiers"):
            recipe.resolve_variant(unknown, table)
    # The whole path: trained with ADA and EMA, the averaged generator scored.
    (row,) = recipe.main(argv("--variants", "dcgan+diffaugment+ema"))
    assert row["variant"] == "dcgan+diffaugment+ema"
    assert row["settings"]["options"]["augment"] == "diffaugment"
    assert (_run_dir(tmp_path, "dcgan+diffaugment+ema") / "sampler.keras").exists()
