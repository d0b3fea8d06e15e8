"""The real-data floor recipe: its quick path, results file and resume."""

import json

from tests.helpers import load_recipe


def test_real_floor_quick_writes_and_resumes(tmp_path, mnist_npz):
    recipe = load_recipe("real_floor")
    argv = ["--data", str(mnist_npz), "--quick", "--out", str(tmp_path / "out")]
    argv += ["--cache-dir", str(tmp_path / "cache")]
    rows = recipe.main(argv)
    assert len(rows) == 1
    row = rows[0]
    assert row["num"] == 200 and row["comparable_to_papers"] is False
    # Two halves of one real distribution: close, but every metric is computed.
    assert 0.0 <= row["fid"] < 50.0
    assert 0.0 <= row["precision"] <= 1.0 and 0.0 <= row["coverage"] <= 1.0
    assert row["classes_covered"] >= 8  # a 1-epoch classifier on 1,000 digits
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved == rows
    assert "train vs test" in (tmp_path / "out" / "results.md").read_text()
    # The same command again reuses the cached features and keeps one row.
    assert len(recipe.main(argv)) == 1
