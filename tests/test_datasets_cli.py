"""Acceptance: ``dfbench index DATASET --json`` on a miniature of each official layout returns
exactly the official split membership and labels, and planted broken/missing videos are listed.

The CLI runs in-process against a registry holding only the built-in dataset plugin, so these
tests do not depend on which other plugins happen to be installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dfbench import registry as registry_module
from dfbench.datasets import miniature, plugin
from dfbench.plugins import get_plugin_manager
from dfbench.registry import Registry

SPLITS = Path(__file__).resolve().parents[2] / "shared" / "data" / "ffpp_splits"


@pytest.fixture()
def index_cli(monkeypatch):
    monkeypatch.setattr(
        registry_module,
        "_default",
        Registry(get_plugin_manager(load_entrypoints=False, extra_plugins=[plugin])),
    )
    from dfbench.cli import cli

    def run(*args: str) -> tuple[int, list[dict] | None, str]:
        result = CliRunner().invoke(cli, ["index", *args, "--json"])
        try:
            rows = json.loads(result.stdout)
        except ValueError:
            rows = None
        return result.exit_code, rows, result.output

    return run


def _as_labels(rows: list[dict]) -> dict[str, int]:
    assert {tuple(sorted(r)) for r in rows} == {("key", "label", "method", "path")}
    out = {r["key"]: r["label"] for r in rows}
    assert len(out) == len(rows)
    return out


def test_cli_index_ffpp_four_methods_is_140_plus_560(index_cli, tmp_path):
    mini = miniature.make_ffpp(tmp_path, SPLITS, methods=miniature.FFPP_METHODS[:4])
    code, rows, out = index_cli("ffpp", "--data-root", str(tmp_path), "--split", "test")
    assert code != 0 and "--allow-partial" in out and rows is None  # one Deepfakes video is missing
    code, rows, _ = index_cli("ffpp", "--data-root", str(tmp_path), "--allow-partial")
    assert code == 0
    labels = _as_labels(rows)
    assert labels == mini.expected["test"]
    assert sum(labels.values()) == 560 and len(labels) - sum(labels.values()) == 140
    assert mini.missing <= set(labels) and mini.broken <= set(labels)


def test_cli_index_celebdf_dfd_dfdc_dfw(index_cli, tmp_path):
    cdf = miniature.make_celebdf(tmp_path / "cdf")
    code, rows, _ = index_cli("cdf", "--data-root", str(cdf.root), "--allow-partial")
    assert code == 0 and _as_labels(rows) == cdf.expected["test"]

    dfd = miniature.make_dfd(tmp_path / "ff")
    code, rows, _ = index_cli("dfd", "--data-root", str(dfd.root), "--allow-partial")
    assert code == 0 and _as_labels(rows) == dfd.expected["test"]

    dfdc = miniature.make_dfdc(tmp_path / "dfdc")
    for split in ("train", "val", "test"):
        code, rows, _ = index_cli(
            "dfdc", "--data-root", str(dfdc.root), "--split", split, "--allow-partial"
        )
        assert code == 0 and _as_labels(rows) == dfdc.expected[split]

    dfw = miniature.make_dfw(tmp_path / "dfw")
    code, rows, _ = index_cli("dfw", "--data-root", str(dfw.root), "--option", "extract=true")
    assert code == 0 and _as_labels(rows) == dfw.expected["test"]
    code, rows, _ = index_cli("dfw", "--data-root", str(dfw.root), "--split", "train")
    assert code == 0 and _as_labels(rows) == dfw.expected["train"]


def test_miniature_trees_live_in_dfbench_testing_and_old_import_still_works():
    """Issue 13 item 5: fixtures move under dfbench.testing; the old path is the same module."""
    import importlib

    import dfbench.testing as testing_pkg

    new = importlib.import_module("dfbench.testing.miniature")
    old = importlib.import_module("dfbench.datasets.miniature")
    assert old is new and testing_pkg.miniature is new
    assert new.__file__.replace("\\", "/").endswith("dfbench/testing/miniature.py")
    for name in ("Miniature", "make_ffpp", "make_dfd", "make_celebdf", "make_dfdc", "make_dfw", "make_hf"):
        assert getattr(old, name) is getattr(new, name)
