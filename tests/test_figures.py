"""Robustness figures in the leaderboard's style: small multiples as a PNG and an interactive page."""

from __future__ import annotations

import json

import cv2
from click.testing import CliRunner

from dfbench.cli import cli
from dfbench.figures import robustness_figures

DOC = {
    "detector": {"id": "oracle"}, "dataset": {"id": "synthetic", "split": "test"}, "clean_auc": 0.97,
    "robustness": {"saturation": {"1": 0.95, "3": 0.9, "5": 0.8}, "pixel": {"1": 0.9, "5": 0.6},
                   "compression": {"1": 0.93, "5": None}},
}


def test_small_multiples_png_and_html(tmp_path):
    out = robustness_figures(DOC, tmp_path, "oracle on synthetic/test")
    img = cv2.imread(out["png"])
    assert img is not None and img.shape[1] > img.shape[0] > 300  # three panels side by side, 150 dpi
    page = (tmp_path / "robustness.html").read_text()
    # one panel per type, named as `dfbench list corruptions` names them, in the catalogue's order
    titles = [t.split(">")[1] for t in page.split('<text class="ptitle"')[1:]]
    assert [t.split("<")[0] for t in titles] == ["saturation", "pixelation", "compression"]
    assert "clean AUC 97.0" in page and "pixelation level 5: AUC 60.0" in page
    assert "compression level 1: AUC 93.0" in page and "compression level 5" not in page  # undefined: no point


def test_cli_redraws_a_robustness_directory_and_refuses_others(tmp_path):
    (tmp_path / "robustness.json").write_text(json.dumps(DOC))
    res = CliRunner().invoke(cli, ["figures", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "robustness_grid.png").stat().st_size > 5000 and (tmp_path / "robustness.html").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(cli, ["figures", str(empty)])
    assert res.exit_code != 0 and "robustness.json" in res.output + str(res.exception)
