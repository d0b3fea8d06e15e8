"""The multi-generator recipes run end to end (tiny configurations).

recipes/mode_coverage.py, mgan_cifar10.py, megan_cifar10.py and
madgan_images.py: each main() runs under the current backend with the
smallest step / epoch / seed budget and writes its outputs (table, JSON,
PNGs, `.keras` sampler). No quality is asserted here: that is what the
recipes measure.
"""

import json

import keras
import numpy as np
import pytest

import kmgan  # noqa: F401 - registers the layers a saved sampler needs
from kmgan.samplers import expert_grid
from tests.helpers import load_recipe

TINY_2D = [
    "--seeds",
    "1",
    "--steps",
    "10",
    "--batch-size",
    "32",
    "--width",
    "16",
    "--num-generators",
    "2",
    "--num-discriminators",
    "2",
    "--gate-encoding",
    "2",
    "--gate-units",
    "4",
    "--specialization-samples",
    "40",
]


def test_mode_coverage_ring_writes_table_json_and_pngs(tmp_path):
    recipe = load_recipe("mode_coverage")
    rows = recipe.main(["--datasets", "ring", "--out", str(tmp_path)] + TINY_2D)
    assert sorted(r["game"] for r in rows) == sorted(recipe.GAMES)
    table = (tmp_path / "results.md").read_text()
    for game in recipe.GAMES:
        assert f"| {game} |" in table
    assert "PacGAN4 (PacGAN table 1) | 7.8 | 95.9%" in table
    saved = json.loads((tmp_path / "results.json").read_text())
    assert len(saved["runs"]) == len(recipe.GAMES)
    gan = next(r for r in rows if r["game"] == "gan")
    for r in rows:  # equal size: every side within 10% of the GAN's
        assert abs(r["g_params"] - gan["g_params"]) <= 0.1 * gan["g_params"], r
        assert abs(r["d_params"] - gan["d_params"]) <= 0.1 * gan["d_params"], r
        assert 0 <= r["modes_covered"] <= 8 and 0.0 <= r["high_quality"] <= 1.0
    for game in recipe.MULTI:
        assert (tmp_path / f"specialization_ring_{game}_seed0.png").stat().st_size > 0


def test_mode_coverage_report_merges_saved_runs(tmp_path):
    recipe = load_recipe("mode_coverage")
    args = vars(recipe.parse(["--out", str(tmp_path)]))

    def saved(dataset, scores):
        runs = [
            {
                "game": g,
                "dataset": dataset,
                "seed": s,
                "seconds": 1.0,
                "steps": 5,
                "g_params": 10,
                "d_params": 20,
                "widths": [4, 4],
                "modes_covered": m,
                "high_quality": hq,
                "kl_to_uniform": 0.5,
                "num_modes": 8,
            }
            for g, s, m, hq in scores
        ]
        path = tmp_path / f"{dataset}.json"
        path.write_text(json.dumps({"args": args, "wall_seconds": 3.0, "runs": runs}))
        return str(path)

    ring = saved("ring", [("gan", 0, 8, 0.9), ("gan", 1, 6, 0.7), ("mgan", 0, 8, 1.0)])
    grid = saved("grid", [("madgan", 0, 20, 0.5)])
    recipe.main(["--report", ring, grid, "--out", str(tmp_path / "merged")])
    table = (tmp_path / "merged" / "results.md").read_text()
    assert "| gan | 7.0 ± 1.0 | 80.0 ± 10.0% | 0.50 ± 0.00 | 10 | 20 | 1 | 2 |" in table
    assert "| mgan | 8.0 ± 0.0 | 100.0 ± 0.0% |" in table
    assert "| madgan | 20.0 ± 0.0 | 50.0 ± 0.0% |" in table
    assert "seeds 0..1 (3 runs)" in table and "### Grid of 25" in table


def test_mode_coverage_rejects_unmatched_sizes(tmp_path):
    recipe = load_recipe("mode_coverage")
    spec = recipe.Spec("ring", recipe.parse(["--width", "4", "--num-generators", "4"]))
    with pytest.raises(ValueError, match="10%"):
        spec.check(["gan", "megan"])  # the gate alone outweighs a width-4 GAN


@pytest.mark.slow
def test_mode_coverage_stacked_mnist(tmp_path, mnist_npz):
    recipe = load_recipe("mode_coverage")
    classifier = tmp_path / "clf.keras"
    args = [
        "--datasets",
        "stacked",
        "--games",
        "gan,mgan",
        "--seeds",
        "1",
        "--stacked-steps",
        "3",
        "--batch-size",
        "16",
        "--base-filters",
        "8",
        "--image-latent-dim",
        "8",
        "--num-generators",
        "2",
        "--mnist",
        str(mnist_npz),
        "--mnist-limit",
        "512",
        "--classifier-epochs",
        "1",
        "--classifier",
        str(classifier),
        "--stacked-samples",
        "200",
        "--specialization-samples",
        "20",
        "--out",
        str(tmp_path),
    ]
    rows = recipe.main(args)
    assert classifier.exists()
    assert all(r["num_modes"] == 1000 and r["high_quality"] is None for r in rows)
    assert "DCGAN (PacGAN table 3) | 78.9 |  | 4.50" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "specialization_stacked_mgan_seed0.png").exists()
    recipe.main(args)  # the second run loads the saved classifier


TINY_IMAGES = [
    "--quick",
    "--max-examples",
    "32",
    "--batch-size",
    "16",
    "--base-filters",
    "4",
    "--num-generators",
    "2",
    "--latent-dim",
    "8",
    "--grid-columns",
    "3",
]


def _check_image_outputs(out, k, shape):
    grid = out / "experts.png"
    assert grid.stat().st_size > 0
    picture = keras.utils.load_img(grid)
    assert picture.size[1] == k * shape[0]  # one row per generator
    sampler = keras.saving.load_model(out / "sampler.keras")
    samples, rows = expert_grid(sampler, 3, seed=0)
    assert rows == k and samples.shape == (3 * k,) + shape
    assert np.all(np.isfinite(samples))


@pytest.mark.parametrize("name", ["mgan_cifar10", "megan_cifar10"])
def test_cifar_recipes_quick_on_a_random_cifar_shaped_set(name, tmp_path, capsys):
    if name == "megan_cifar10":
        extra = ["--encoding-dim", "2", "--gate-units", "4"]
    else:
        extra = []
    load_recipe(name).main(TINY_IMAGES + extra + ["--out", str(tmp_path)])
    assert "random CIFAR-shaped set" in capsys.readouterr().out
    _check_image_outputs(tmp_path, 2, (32, 32, 3))


def test_madgan_recipe_quick_on_local_mnist(tmp_path, capsys, mnist_npz):
    load_recipe("madgan_images").main(
        TINY_IMAGES + ["--data", str(mnist_npz), "--out", str(tmp_path)]
    )
    assert "mnist_5k.npz" in capsys.readouterr().out
    _check_image_outputs(tmp_path, 2, (28, 28, 1))


def test_mgan_augment_check_prints_the_losses_per_policy(mnist_npz, capsys):
    recipe = load_recipe("mgan_augment_check")
    recipe.main(
        ["--data", str(mnist_npz), "--policies", "none", "translation"]
        + ["--max-examples", "128", "--epochs", "2", "--base-filters", "4"]
    )
    lines = [line for line in capsys.readouterr().out.splitlines() if "c_loss" in line]
    assert [line.split(":")[0] for line in lines] == ["none", "translation"]
    for line in lines:
        assert line.count(",") >= 2  # two epochs of c_loss and d_loss
    recipe.main(
        ["--data", str(mnist_npz), "--policies", "translation", "--augment-classifier"]
        + ["--max-examples", "128", "--epochs", "1", "--base-filters", "4"]
    )
    assert "translation: c_loss" in capsys.readouterr().out
