"""The ring recipe: its table and JSON, the numbers' ranges, and resume."""

import json

import pytest

from tests.helpers import load_recipe

#: Tiny settings: the whole path (every kind of game) in seconds.
TINY = ["--steps", "60", "--batch-size", "32", "--width", "8", "--d-width", "8"]
TINY += ["--num-generators", "2", "--num-discriminators", "2"]
MODELS = ("gan", "gman-mean", "mgan", "madgan")


def run_tiny(recipe, out, models, seeds, extra=()):
    argv = ["--quick", *TINY, "--models", ",".join(models), "--seeds", str(seeds)]
    return recipe.main([*argv, "--out", str(out), *extra])


def check_row(row, out):
    assert 0 <= row["modes_covered"] <= 8
    assert 0.0 <= row["high_quality"] <= 1.0
    assert row["kl_to_uniform"] is None or 0.0 <= row["kl_to_uniform"] <= 2.08  # log 8
    assert (row["modes_covered"] == 0) == (row["kl_to_uniform"] is None)
    assert row["g_params"] > 0 and row["d_params"] > 0
    assert row["cpu_seconds"] > 0 and row["seconds"] > 0
    assert (out / f"{row['model']}_seed{row['seed']}.png").stat().st_size > 0


def test_ring_quick_writes_table_and_json_and_resumes(tmp_path, monkeypatch):
    recipe = load_recipe("ring")
    out = tmp_path / "ring"
    rows = run_tiny(recipe, out, MODELS, seeds=1)
    assert [(r["model"], r["seed"]) for r in rows] == [(m, 0) for m in MODELS]
    for row in rows:
        check_row(row, out)
    by_model = {r["model"]: r for r in rows}
    # K = 2 generators and N = 2 discriminators: more parameters than the GAN's.
    assert by_model["mgan"]["g_params"] > by_model["gan"]["g_params"]
    assert by_model["gman-mean"]["d_params"] > by_model["gan"]["d_params"]
    saved = json.loads((out / "results.json").read_text())
    assert saved["runs"] == rows
    assert saved["settings"]["steps"] == 60 and saved["settings"]["num_generators"] == 2
    table = (out / "results.md").read_text()
    for label in ("| GAN |", "| GMAN (N=2, mean) |", "| MGAN (K=2) |", "| MAD-GAN (K=2) |"):
        assert label in table

    trained = []
    real_run = recipe.run

    def counting_run(name, seed, args):
        trained.append((name, seed))
        return real_run(name, seed, args)

    monkeypatch.setattr(recipe, "run", counting_run)
    # The same command again: nothing trains, the same rows come back.
    assert run_tiny(recipe, out, MODELS, seeds=1) == rows
    assert trained == []
    # A seed more for the GAN: only that run trains; the table shows both seeds.
    more = run_tiny(recipe, out, ["gan"], seeds=2)
    assert trained == [("gan", 1)]
    assert more[:4] == rows and len(more) == 5
    check_row(more[4], out)
    assert len(json.loads((out / "results.json").read_text())["runs"]) == 5
    gan = [by_model["gan"], more[4]]
    per_seed = ", ".join(f"{r['modes_covered']} / {100 * r['high_quality']:.0f}" for r in gan)
    assert f"| 2 | {per_seed} |" in (out / "results.md").read_text()
    # Other settings in the same folder are refused, and nothing trains.
    with pytest.raises(ValueError, match="other settings .*steps"):
        run_tiny(recipe, out, ["gan"], seeds=1, extra=["--steps", "70"])
    assert trained == [("gan", 1)]


def test_ring_rejects_unknown_model(tmp_path):
    with pytest.raises(ValueError, match="Unknown model 'wgan'"):
        run_tiny(load_recipe("ring"), tmp_path, ["gan", "wgan"], seeds=1)
