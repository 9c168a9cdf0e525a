"""Cross-dataset protocol presets (issue 17 item 2): ``dfbench suite NAME -d DETECTOR`` runs one
detector over a paper's datasets and prints the paper's numbers beside the measured ones."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from dfbench.suites import SUITES, Suite, SuiteEntry, format_suite, run_suite
from dfbench.testing import build_synthetic_dataset

LEADERBOARDS = os.path.join(os.path.dirname(__file__), "..", "leaderboards")


@pytest.fixture
def no_dataset_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("DFBENCH_") and key.endswith("_ROOT"):
            monkeypatch.delenv(key)


def test_presets_cover_the_papers_lists():
    assert [e.dataset for e in SUITES["laanet-cross"].entries] == ["ffpp_raw", "celebdf_v2", "dfw", "dfd", "dfdcp"]
    assert [e.dataset for e in SUITES["sbi-cross"].entries] == ["celebdf_v2", "dfd", "dfdc", "dfdcp", "ffiw"]
    dfb = [e.column for e in SUITES["dfb-cross"].entries]
    assert dfb == ["FF++ c23", "FF++ c40", "CDFv1", "CDFv2", "DF-1.0", "DFD", "DFDC", "DFDCP", "FSh", "UADFV"]


def test_cli_without_data_lists_reported_numbers_and_what_is_missing(testing_registry, no_dataset_env, tmp_path):
    from dfbench.cli import cli

    res = CliRunner().invoke(cli, ["suite", "laanet-cross", "-d", "constant", "-o", str(tmp_path),
                                   "--leaderboard", LEADERBOARDS])
    assert res.exit_code == 1
    out = res.stdout
    # LAA-Net's "DFDC" column is the preview: run on dfdcp, reported number from its README.
    dfdc_row = next(line for line in out.splitlines() if line.startswith("DFDC "))
    assert "dfdcp" in dfdc_row and "0.8694" in dfdc_row and "0.9770" in dfdc_row
    assert "0.9540" in out and "0.8003" in out and "0.9843" in out and "0.9996" in out
    assert "no data: --data-root celebdf_v2=DIR or DFBENCH_CELEBDF_V2_ROOT" in out
    assert not list(tmp_path.iterdir())  # nothing was run, no detector built for absent data


def test_dfb_suite_reads_the_family_entries_and_says_frame_level(testing_registry, no_dataset_env, tmp_path):
    report = run_suite("dfb-cross", "recce_gf.demo", output=tmp_path, leaderboard_root=LEADERBOARDS)
    assert report["reported_id"] == "recce.dfb"
    by_col = {r["column"]: r for r in report["rows"]}
    assert by_col["CDFv2"]["reported_auc"] == pytest.approx(0.7319)
    assert by_col["FSh"]["dataset"] == "ffpp_c23" and by_col["FSh"]["options"] == {"methods": ["FaceShifter"]}
    assert by_col["FSh"]["reported_auc"] is not None  # read from leaderboards/faceshifter
    assert "reported at frame level" in "\n".join(format_suite(report))


def test_suite_measures_beside_reported_and_keeps_going_past_absent_data(testing_registry, no_dataset_env, tmp_path):
    data = build_synthetic_dataset(tmp_path / "synthetic")
    lb = tmp_path / "lb" / "synthetic" / "video_train-x"
    lb.mkdir(parents=True)
    (lb / "paper_model.json").write_text(json.dumps({
        "reported": {"metrics": {"auc": 0.91}, "source": "a paper's table"},
        "protocol_info": {"level": "video"},
    }))
    suite = Suite("toy", "a paper", "video_train-x",
                  (SuiteEntry("Toy", "synthetic"), SuiteEntry("CDF", "celebdf_v2")), "paper_model")
    report = run_suite(suite, "oracle", output=tmp_path / "runs", data_roots={"synthetic": str(data)},
                       leaderboard_root=tmp_path / "lb", progress=False)
    toy, cdf = report["rows"]
    assert toy["measured_auc"] == 1.0 and toy["reported_auc"] == 0.91 and (toy["n_real"], toy["n_fake"]) == (3, 3)
    assert cdf["error"].startswith("no data") and "measured_auc" not in cdf
    table = "\n".join(format_suite(report))
    assert "1.0000" in table and "0.9100" in table and "a paper's table" in table
