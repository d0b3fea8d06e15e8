"""recipes/megan_images.py: its quick path, its results file, skipping and resuming runs."""

import json

import keras
import pytest

from tests.helpers import load_recipe


class Interrupted(Exception):
    """Stands for a kill after the first epoch's backup."""


class StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            raise Interrupted()


def quick_argv(out, mnist_npz, runs):
    return [
        "--quick",
        "--data",
        str(mnist_npz),
        "--runs",
        runs,
        "--out",
        str(out),
        "--cache-dir",
        str(out.parent / "domain"),
    ]


def test_quick_writes_rows_and_skips_finished_runs(tmp_path, mnist_npz, capsys):
    recipe = load_recipe("megan_images")
    argv = quick_argv(tmp_path / "out", mnist_npz, "dcgan,megan-detached")
    rows = recipe.main(argv)
    assert [r["run"] for r in rows] == ["dcgan", "megan-detached"]
    dcgan, megan = rows
    assert "experts" not in dcgan
    k = 4  # --quick's experts
    assert len(megan["experts"]["confidence"]) == k and 1 <= megan["experts"]["distinct"] <= k
    assert all(0.0 <= c <= 1.0 for c in megan["experts"]["confidence"])
    assert sum(megan["gated"]["usage"]) == 200  # --quick's mixture samples
    for r in rows:
        assert r["steps"] == 2 * (256 // 32)  # 2 epochs of 256 digits, batch 32
        assert r["classifier_fid"] >= 0.0 and 0.0 <= r["mixture_confidence"] <= 1.0
    assert (tmp_path / "out" / "megan-detached" / "experts.png").stat().st_size > 0
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved == rows
    assert "| megan-detached | 16 |" in (tmp_path / "out" / "results.md").read_text()
    # Again: both runs are found finished and not trained again.
    capsys.readouterr()
    assert recipe.main(argv) == rows
    assert capsys.readouterr().out.count("done, skipped") == 2


def test_stopped_run_resumes_to_the_uninterrupted_state(tmp_path, mnist_npz):
    recipe = load_recipe("megan_images")
    whole = recipe.main(quick_argv(tmp_path / "whole", mnist_npz, "megan-paper"))[0]
    argv = quick_argv(tmp_path / "resumed", mnist_npz, "megan-paper")
    with pytest.raises(Interrupted):
        recipe.main(argv, callbacks=[StopAfterFirstEpoch()])
    assert not (tmp_path / "resumed" / "results.json").exists()
    resumed = recipe.main(argv)[0]
    assert resumed["state"] == whole["state"]  # weights, optimizer and noise state
    for key in ("steps", "d_loss", "experts", "gated", "classifier_fid"):
        assert resumed[key] == whole[key], key
