"""``dfbench compare``: side-by-side table, overlaid plots, paired AUC test joined on video keys."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dfbench.testing import build_synthetic_dataset

TESTING = "dfbench.testing:TESTING_PLUGIN"


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """The oracle (AUC 1) and the constant detector (AUC 0.5) on the same synthetic videos."""
    from dfbench.registry import get_registry
    from dfbench.runner import evaluate

    mp = pytest.MonkeyPatch()
    mp.setenv("DFBENCH_EXTRA_PLUGINS", TESTING)
    tmp = tmp_path_factory.mktemp("cmp")
    # Dataset and crop cache shared with test_leaderboard.py in one session: faces are found once.
    shared = tmp_path_factory.getbasetemp() / "h9-shared"
    mp.setenv("DFBENCH_CACHE", str(shared / "cache"))
    reg = get_registry(refresh=True)
    data = shared / "data"
    if not (data / "manifest.json").exists():
        build_synthetic_dataset(data, n_real=4, n_fake=4, n_frames=6)
    runs = {}
    for det in ("oracle", "constant"):
        evaluate(det, "synthetic", data_root=data, output=tmp / det, progress=False, registry=reg)
        runs[det] = tmp / det
    yield runs
    mp.undo()
    get_registry(refresh=True)


def test_paired_test_finds_the_real_gap(two_runs, tmp_path):
    from dfbench.compare import compare_runs

    rep = compare_runs([two_runs["oracle"], two_runs["constant"]], tmp_path / "cmp", n_bootstrap=300)
    (p,) = rep["paired"]
    assert p["same_videos"] and p["n_common"] == 8 and (p["n_real"], p["n_fake"]) == (4, 4)
    assert p["auc_diff"] == pytest.approx(0.5)
    assert p["significant"] and p["ci95"][0] > 0 and p["p_value"] < 0.05
    assert [r["video"]["auc"] for r in rep["runs"]] == [pytest.approx(1.0), pytest.approx(0.5)]
    for name in ("roc.png", "pr.png", "comparison.json"):
        assert (tmp_path / "cmp" / name).stat().st_size > 1000
    assert (tmp_path / "cmp" / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_against_itself_is_not_a_difference(two_runs):
    from dfbench.compare import compare_runs

    rep = compare_runs([two_runs["oracle"], two_runs["oracle"]], None, n_bootstrap=200)
    (p,) = rep["paired"]
    assert p["auc_diff"] == 0 and not p["significant"] and p["p_value"] == pytest.approx(1.0)
    assert rep["runs"][0]["label"] != rep["runs"][1]["label"]  # duplicates are disambiguated


def test_join_is_on_video_keys_not_row_order(two_runs, tmp_path):
    """Drop videos from one run and shuffle the other: the test uses exactly the shared keys."""
    import shutil

    import pandas as pd

    from dfbench.compare import compare_runs

    part = tmp_path / "partial"
    shutil.copytree(two_runs["constant"], part)
    df = pd.read_parquet(part / "predictions.parquet")
    keys = sorted(df["video_key"].unique())
    keep = [k for k in keys if not k.endswith("_00")]
    df = df[df["video_key"].isin(keep)].sample(frac=1.0, random_state=1)
    df.to_parquet(part / "predictions.parquet", index=False)
    rep = compare_runs([two_runs["oracle"], part], None, n_bootstrap=200)
    (p,) = rep["paired"]
    assert not p["same_videos"] and p["n_common"] == len(keep) == 6 and p["auc_diff"] == pytest.approx(0.5)


def test_cli_prints_table_plots_and_test(two_runs, tmp_path):
    from dfbench.cli import cli

    out = tmp_path / "cmp"
    r = CliRunner().invoke(cli, ["compare", str(two_runs["oracle"]), str(two_runs["constant"]), "-o", str(out),
                                 "--bootstrap", "200"])
    assert r.exit_code == 0, r.output
    text = r.output
    assert "video AUC [95% CI]" in text and "videos/s" in text and "videos real/fake" in text
    assert "oracle" in text and "constant" in text and "4/4" in text
    assert "ΔAUC +0.500" in text and "a real difference" in text
    assert str(out / "roc.png") in text and str(out / "pr.png") in text
    r = CliRunner().invoke(cli, ["compare", str(two_runs["oracle"]), str(two_runs["constant"]), "-o", str(out), "--json",
                                 "--bootstrap", "100"])
    assert json.loads(r.output)["paired"][0]["n_common"] == 8


def test_needs_two_finished_runs(two_runs, tmp_path):
    from dfbench.cli import cli

    r = CliRunner().invoke(cli, ["compare", str(two_runs["oracle"])])
    assert r.exit_code == 1 and "at least two" in r.output
    (tmp_path / "empty").mkdir()
    r = CliRunner().invoke(cli, ["compare", str(two_runs["oracle"]), str(tmp_path / "empty")])
    assert r.exit_code == 1 and "results.json" in r.output


def test_compare_writes_an_interactive_page_beside_the_pngs(two_runs, tmp_path):
    from dfbench.compare import compare_runs

    rep = compare_runs([two_runs["oracle"], two_runs["constant"]], tmp_path / "cmp", n_bootstrap=50)
    page = (tmp_path / "cmp" / "comparison.html").read_text()
    assert rep["plots"]["html"] == str(tmp_path / "cmp" / "comparison.html")
    assert page.count('<button type="button" class="lg"') == 4  # two runs x (ROC, PR), each toggleable
    assert "(AUC 100.00)" in page and "(AUC 50.00)" in page and "precision" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # offline


def test_protocol_note_compares_the_core_hash_across_machines(two_runs, tmp_path):
    """The same protocol run elsewhere (other software versions, another copy of the files) has
    another full protocol hash but the same core hash: no 'different protocols' note."""
    import shutil

    from dfbench.compare import compare_runs, format_comparison

    here = json.loads((two_runs["oracle"] / "results.json").read_text())
    assert here["protocol_core_hash"]
    there = tmp_path / "elsewhere"
    shutil.copytree(two_runs["oracle"], there)
    res = json.loads((there / "results.json").read_text())
    res["protocol_hash"] = "f" * 16  # what another machine's versions and file signatures give
    (there / "results.json").write_text(json.dumps(res))
    text = format_comparison(compare_runs([two_runs["oracle"], there], None, n_bootstrap=50))
    assert "different protocol" not in text
    assert text.count(here["protocol_core_hash"][:12]) == 2
    res["protocol_core_hash"] = "e" * 16  # another evaluation protocol: noted
    (there / "results.json").write_text(json.dumps(res))
    text = format_comparison(compare_runs([two_runs["oracle"], there], None, n_bootstrap=50))
    assert "different protocol" in text
