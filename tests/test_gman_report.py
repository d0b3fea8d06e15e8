"""The GMAN report's recipe: its GAM table, and its resume across sessions."""

import json

import pytest

from kmgan import callbacks
from tests.helpers import load_recipe


class _StopOnce(callbacks.SampleGrid):
    """A SampleGrid that interrupts the first training it sees, at its first epoch end."""

    fired = False

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if not _StopOnce.fired:
            _StopOnce.fired = True
            raise KeyboardInterrupt("simulated machine stop")


def test_gman_report_table_resumes_and_reloads(tmp_path, mnist_npz, monkeypatch):
    recipe = load_recipe("gman_report")
    out = tmp_path / "out"
    argv = ["--dataset", str(mnist_npz), "--epochs", "2", "--base-filters", "8"]
    argv += ["--max-examples", "200", "--test-examples", "100", "--out", str(out)]
    argv += ["--pairs", "dcgan-dcgman"]  # the GMAN pair takes as long again

    monkeypatch.setattr(callbacks, "SampleGrid", _StopOnce)
    with pytest.raises(KeyboardInterrupt):
        recipe.main(argv)
    dcgan = out / "mnist_5k" / "dcgan"
    assert json.loads((dcgan / "run.json").read_text())["status"] == "training"
    assert not (dcgan / "game.keras").exists()

    recipe.main(argv)  # DCGAN resumes at epoch 2; DCGMAN trains
    progress = json.loads((dcgan / "progress.json").read_text())
    assert progress["sessions"] == [
        {"start_epoch": 0, "end_epoch": 1},
        {"start_epoch": 1, "end_epoch": 2},
    ]
    rows = json.loads((out / "gam_table.json").read_text())
    assert [r["battle"] for r in rows] == ["DCGAN vs DCGMAN"]
    for r in rows:
        assert r["report"] is None  # the report has no row for the 5k subset
        assert r["winner"] in r["battle"].split(" vs ") + ["tie"]
        cells = r["table"]
        assert {k: set(v) for k, v in cells.items()} == {"0": {"0", "1"}, "1": {"0", "1"}}
        for row in cells.values():
            for cell in row.values():
                assert 0.0 <= cell["samples"] <= 1.0 and 0.0 <= cell["real"] <= 1.0
    table = (out / "gam_table.md").read_text()
    assert "D of DCGMAN" in table and "D of DCGAN" in table

    recipe.main(argv)  # everything is trained: reloaded, the same battles
    assert json.loads((dcgan / "progress.json").read_text()) == progress
    assert json.loads((out / "gam_table.json").read_text()) == rows


def test_gman_report_refuses_other_settings(tmp_path, mnist_npz):
    recipe = load_recipe("gman_report")
    state = tmp_path / "mnist_5k" / "dcgan"
    state.mkdir(parents=True)
    (state / "run.json").write_text(json.dumps({"status": "trained", "settings": {"epochs": 99}}))
    argv = ["--dataset", str(mnist_npz), "--epochs", "1", "--out", str(tmp_path)]
    argv += ["--pairs", "dcgan-dcgman"]
    with pytest.raises(ValueError, match="other settings"):
        recipe.main(argv)


def test_gman_report_refuses_unknown_pairs(mnist_npz):
    recipe = load_recipe("gman_report")
    with pytest.raises(SystemExit):
        recipe.main(["--dataset", str(mnist_npz), "--pairs", "gan-dcgman"])


def test_report_numbers_match_figure_13():
    recipe = load_recipe("gman_report")
    assert recipe.REPORT[("mnist", "GAN vs GMAN")] == (1.21, 1.02, "GMAN")
    assert recipe.REPORT[("mnist", "DCGAN vs DCGMAN")] == (0.95, 1.10, "DCGMAN")
