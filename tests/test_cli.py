"""The kmgan command: train, sample and battle on data that needs no download."""

import json
import os

import keras
import numpy as np

from kmgan import cli
from tests.helpers import train_quick


def test_train_sample_battle(tmp_path, capsys):
    runs = {}
    for game in ("gan", "gman"):
        options = ["--discriminators", "2", "--latent-dim", "4", "--batch-size", "32"]
        runs[game] = train_quick(str(tmp_path / game), game, "ring", *options)

    grid = str(tmp_path / "points.png")
    cli.main(
        ["sample", os.path.join(runs["gman"], "generator.keras"), "--num", "50", "--out", grid]
    )
    assert os.path.getsize(grid) > 1000

    capsys.readouterr()
    cli.main(
        [
            "battle",
            os.path.join(runs["gan"], "game.keras"),
            os.path.join(runs["gman"], "game.keras"),
            "--data",
            "ring",
            "--max-examples",
            "256",
        ]
    )
    printed = capsys.readouterr().out
    report = json.loads(printed[printed.index("{") :])
    assert (report["M1"], report["M2"]) == ("gan", "gman")
    assert report["winner"] in ("gan", "gman", "tie")
    assert set(report) >= {"r_test", "r_samples", "table"}
    game = keras.saving.load_model(os.path.join(runs["gman"], "game.keras"))
    assert game.num_discriminators == 2
    assert game.discriminate(np.zeros((3, 2), "float32")).shape == (3,)
