"""The robustness grid (``dfbench robustness``) and where corruptions apply in the face pipeline.

Fast tests run the real grid (runner, face detection, corruptions) with the testing plugin's
``oracle`` detector on the tiny ``synthetic`` dataset, 2 types x 2 levels; the demo-dataset
acceptance run is marked ``acceptance`` (it runs in ``make test``).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from dfbench.errors import DfbenchError
from dfbench.robustness import (
    CSV_COLUMNS,
    corruption_error,
    corruption_grid,
    load_robustness,
    parse_levels,
    read_csv,
    run_robustness,
    summarise,
    summary_lines,
)
from dfbench.testing import build_synthetic_dataset

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SUITE = "saturation,compression"  # one frame-scope and one video-scope (codec) type
LEVELS = [1, 5]


# -- pure functions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1-5", [1, 2, 3, 4, 5]),
        ("1,3,5", [1, 3, 5]),
        ("2", [2]),
        ("1-2,5", [1, 2, 5]),
        (None, None),
        ([3, 1, 3], [1, 3]),
    ],
)
def test_parse_levels(text, expected):
    assert parse_levels(text) == expected


@pytest.mark.parametrize("bad", ["x", "5-1", ",", "1-"])
def test_parse_levels_rejects_nonsense_with_an_example(bad):
    with pytest.raises(DfbenchError, match="1-5"):
        parse_levels(bad)


def test_grid_of_the_deeperforensics_suite():
    cells = corruption_grid("df1.0")
    assert len(cells) == 35
    assert {n for n, _ in cells} == {
        "saturation",
        "contrast",
        "block",
        "noise",
        "blur",
        "pixelation",
        "compression",
    }
    assert corruption_grid("df1.0", [2]) == [(n, 2) for n in dict.fromkeys(n for n, _ in cells)]
    assert corruption_grid("blur:3,blur,noise:1", [3, 1]) == [
        ("blur", 3),
        ("blur", 1),
        ("noise", 1),
    ]
    with pytest.raises(DfbenchError, match="no cell"):
        corruption_grid("blur:3", [1])


def _rows(clean, grid):
    rows = [{"type": "clean", "level": 0, "auc": clean}]
    rows += [
        {"type": t, "level": lv, "auc": a} for t, levels in grid.items() for lv, a in levels.items()
    ]
    return rows


def test_summary_aggregates_by_hand():
    rows = _rows(0.9, {"blur": {1: 0.8, 2: 0.6}, "noise": {1: 0.7, 2: 0.7, 3: 0.4}})
    s = summarise(rows)
    assert s["per_type_mean"] == pytest.approx({"blur": 0.7, "noise": 0.6})
    # Overall mean is the mean of the per-type means, so each type weighs the same.
    assert s["mean"] == pytest.approx(0.65)
    assert s["relative_drop"] == pytest.approx((0.9 - 0.65) / 0.9)
    assert s["per_type_relative_drop"]["noise"] == pytest.approx(0.3 / 0.9)
    assert s["robustness"] == {
        "blur": {"1": 0.8, "2": 0.6},
        "noise": {"1": 0.7, "2": 0.7, "3": 0.4},
    }
    assert rows[1]["relative_drop"] == pytest.approx(0.1 / 0.9)
    assert s["clean_auc"] == 0.9 and s["undefined"] == []


def test_undefined_cells_are_listed_not_averaged():
    s = summarise(_rows(0.9, {"blur": {1: 0.8, 2: None}}))
    assert s["per_type_mean"]["blur"] == pytest.approx(0.8)
    assert s["undefined"] == ["blur:2"]


def test_corruption_error_against_a_reference():
    grid = {"blur": {1: 0.9, 2: 0.8}, "noise": {1: 0.6}}
    ref = {
        "detector": {"id": "xception"},
        "robustness": {"blur": {"1": 0.8, "2": 0.6}, "noise": {"1": 0.6}},
    }
    ce = corruption_error(grid, ref)
    assert ce["ce"]["blur"] == pytest.approx((0.1 + 0.2) / (0.2 + 0.4))
    assert ce["ce"]["noise"] == pytest.approx(1.0)
    assert ce["mce"] == pytest.approx((0.5 + 1.0) / 2)
    assert ce["detector"] == "xception"


# -- the real grid ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return build_synthetic_dataset(
        tmp_path_factory.mktemp("rob") / "data", n_real=2, n_fake=2, n_frames=10
    )


@pytest.fixture(scope="module")
def grid(tmp_path_factory, data):
    """One grid run shared by the tests below (it is the expensive part)."""
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("grid")
    mp.setenv("DFBENCH_EXTRA_PLUGINS", "dfbench.testing:TESTING_PLUGIN")
    mp.setenv("DFBENCH_CACHE", str(root / "cache"))
    from dfbench.registry import get_registry

    reg = get_registry(refresh=True)
    doc = run_robustness(
        "oracle",
        "synthetic",
        root / "out",
        suite=SUITE,
        levels=LEVELS,
        data_root=data,
        progress=False,
        registry=reg,
    )
    yield root, doc, reg
    mp.undo()
    get_registry(refresh=True)


def test_grid_writes_csv_summary_and_plot(grid):
    root, doc, _ = grid
    out = root / "out"
    rows = read_csv(out / "robustness.csv")
    assert [(r["type"], r["level"]) for r in rows] == [
        ("clean", 0),
        ("saturation", 1),
        ("saturation", 5),
        ("compression", 1),
        ("compression", 5),
    ]
    assert list(pd.read_csv(out / "robustness.csv").columns) == list(CSV_COLUMNS)
    for r in rows:
        assert (
            r["videos_scored"] == 4 and r["n_real"] == 2 and r["n_fake"] == 2 and r["frames"] == 16
        )
        # Each cell is a normal, resumable run directory with its own results.
        res = json.loads((out / os.path.basename(r["run_dir"]) / "results.json").read_text())
        assert res["metrics"]["video"]["auc"] == r["auc"]
        assert res["protocol_hash"] == r["protocol_hash"]
        if r["type"] != "clean":
            assert res["corruption"] == {
                "name": r["type"],
                "level": r["level"],
                "seed": 0,
                "applied_to": "full frames before face detection",
            }
    assert len({r["protocol_hash"] for r in rows}) == 5

    summary = load_robustness(out)
    assert summary == json.loads(
        json.dumps({k: v for k, v in doc.items() if k != "output_dir"}, default=str)
    )
    assert summary["clean_auc"] == pytest.approx(1.0)  # the oracle separates the synthetic classes
    assert set(summary["robustness"]) == {"saturation", "compression"}
    for t in ("saturation", "compression"):
        aucs = [r["auc"] for r in rows if r["type"] == t]
        assert summary["per_type_mean"][t] == pytest.approx(sum(aucs) / 2)
        assert summary["robustness"][t] == {
            str(r["level"]): r["auc"] for r in rows if r["type"] == t
        }
    assert summary["mean"] == pytest.approx(sum(summary["per_type_mean"].values()) / 2)
    assert summary["relative_drop"] == pytest.approx(
        (summary["clean_auc"] - summary["mean"]) / summary["clean_auc"]
    )
    assert summary["detector"]["id"] == "oracle" and summary["dataset"]["id"] == "synthetic"
    assert (
        summary["levels"] == LEVELS and summary["applied_to"] == "full frames before face detection"
    )

    png = (out / "robustness.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    text = "\n".join(summary_lines(summary))
    assert "saturation" in text and "compression" in text and "clean" in text


def test_grid_writes_the_small_multiples_and_html(grid):
    # The leaderboard-style figures come with every plotted grid, next to robustness.png.
    root, doc, _ = grid
    out = root / "out"
    png = (out / "robustness_grid.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    page = (out / "robustness.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    for t in doc["robustness"]:
        assert t in page
    assert "http://" not in page.replace("http://www.w3.org", "")  # offline: nothing fetched


def test_corruptions_change_what_the_detector_sees(grid):
    root, _, _ = grid
    clean = pd.read_parquet(root / "out" / "clean" / "predictions.parquet")
    for cell in ("saturation-5", "compression-5"):
        other = pd.read_parquet(root / "out" / cell / "predictions.parquet")
        merged = clean.merge(other, on=["video_key", "frame_index"], suffixes=("_c", "_x"))
        assert len(merged) == len(clean)
        assert not np.allclose(merged["logit_c"], merged["logit_x"]), (
            f"{cell} left the crops unchanged"
        )
    # Saturation level 5 removes all chroma: the oracle's green-minus-red signal nearly vanishes.
    sat5 = pd.read_parquet(root / "out" / "saturation-5" / "predictions.parquet")
    assert sat5["logit"].abs().max() < 0.2 * clean["logit"].abs().max()


def test_same_seed_same_numbers_and_resume(grid, data, tmp_path):
    root, doc, reg = grid
    again = run_robustness(
        "oracle",
        "synthetic",
        tmp_path / "again",
        suite=SUITE,
        levels=LEVELS,
        data_root=data,
        progress=False,
        registry=reg,
        cache_dir=tmp_path / "cache",
    )
    numeric = [c for c in CSV_COLUMNS if c != "run_dir"]
    a = pd.read_csv(root / "out" / "robustness.csv")[numeric]
    b = pd.read_csv(tmp_path / "again" / "robustness.csv")[numeric]
    pd.testing.assert_frame_equal(a, b)
    assert again["robustness"] == doc["robustness"]

    # Resuming a finished grid reads every cell back and rewrites identical tables.
    before = (root / "out" / "robustness.csv").read_bytes()
    (root / "out" / "robustness.csv").unlink()
    run_robustness(
        "oracle",
        "synthetic",
        root / "out",
        suite=SUITE,
        levels=LEVELS,
        data_root=data,
        progress=False,
        registry=reg,
    )
    assert (root / "out" / "robustness.csv").read_bytes() == before


def test_cli_with_corrupted_crops_records_the_protocol(grid, data, tmp_path):
    from dfbench.cli import cli

    del grid  # requested for its side effect: the testing plugin is loaded
    out = tmp_path / "crops"
    res = CliRunner().invoke(
        cli,
        [
            "robustness",
            "-d",
            "oracle",
            "-s",
            "synthetic",
            "--data-root",
            str(data),
            "--suite",
            "contrast:1,contrast:5",
            "--corrupt-crops",
            "--no-plot",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "contrast" in res.output and "robustness.csv" in res.output
    summary = load_robustness(out)
    assert summary["applied_to"] == "crops" and summary["levels"] == [1, 5]
    assert not (out / "robustness.png").exists()
    assert not (out / "robustness_grid.png").exists() and not (out / "robustness.html").exists()
    cell = json.loads((out / "contrast-5" / "results.json").read_text())
    assert cell["corruption"]["applied_to"] == "crops"
    assert math.isfinite(summary["mean"])


def test_cli_unknown_corruption_is_a_clean_error(grid, data, tmp_path):
    from dfbench.cli import cli

    res = CliRunner().invoke(
        cli,
        [
            "robustness",
            "-d",
            "oracle",
            "-s",
            "synthetic",
            "--data-root",
            str(data),
            "--suite",
            "blurr",
            "-o",
            str(tmp_path / "x"),
        ],
    )
    assert res.exit_code == 1
    assert "blur" in res.output  # "did you mean"


@pytest.mark.acceptance
def test_demo_dataset_acceptance(tmp_path, monkeypatch):
    monkeypatch.setenv("DFBENCH_EXTRA_PLUGINS", "dfbench.testing:TESTING_PLUGIN")
    from dfbench.cli import cli
    from dfbench.registry import get_registry

    get_registry(refresh=True)
    try:
        args = [
            "robustness",
            "-d",
            "oracle",
            "-s",
            "demo",
            "--suite",
            "df1.0",
            "--levels",
            "2,5",
            "--limit",
            "8",
            "--json",
        ]
        first = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "a")])
        assert first.exit_code == 0, first.output[-3000:]
        second = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "b")])
        assert second.exit_code == 0, second.output[-3000:]
    finally:
        monkeypatch.delenv("DFBENCH_EXTRA_PLUGINS")
        get_registry(refresh=True)
    for d in ("a", "b"):
        assert (tmp_path / d / "robustness.png").stat().st_size > 5000
    numeric = [c for c in CSV_COLUMNS if c != "run_dir"]
    a, b = (pd.read_csv(tmp_path / d / "robustness.csv")[numeric] for d in ("a", "b"))
    assert len(a) == 1 + 7 * 2
    pd.testing.assert_frame_equal(a, b)
    doc = load_robustness(tmp_path / "a")
    assert set(doc["robustness"]) == {
        "saturation",
        "contrast",
        "block",
        "noise",
        "blur",
        "pixelation",
        "compression",
    }
    assert doc["clean_auc"] is not None and doc["mean"] is not None


def test_each_cell_progress_bar_says_which_cell_runs(grid, data, capsys):
    """Issue 18: 35 bars with one label tell nobody which cell is running; each says "cell i/n: type:level"."""
    root, _, reg = grid
    run_robustness("oracle", "synthetic", root / "out", suite=SUITE, levels=LEVELS, data_root=data,
                   progress=True, registry=reg)  # a finished grid: every cell reads back, bars still shown
    err = capsys.readouterr().err
    for label in ("cell 1/5: clean", "cell 2/5: saturation:1", "cell 5/5: compression:5"):
        assert label in err, err[-2000:]
