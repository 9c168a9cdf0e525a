"""The runner end to end: known AUCs through the CLI, failures recorded, kill -9 then resume."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from dfbench.testing import build_synthetic_dataset

DFBENCH = [sys.executable, "-m", "dfbench.cli"]


def _env(tmp_path):
    env = dict(os.environ)
    env["DFBENCH_EXTRA_PLUGINS"] = "dfbench.testing:TESTING_PLUGIN"
    env["DFBENCH_CACHE"] = str(tmp_path / "cache")
    return env


def _run(tmp_path, *args):
    return subprocess.run(DFBENCH + ["run", *args, "--json"], env=_env(tmp_path), capture_output=True, text=True)


@pytest.fixture(scope="module")
def broken_dataset(tmp_path_factory):
    return build_synthetic_dataset(tmp_path_factory.mktemp("syn") / "data", n_real=3, n_fake=3, broken=True)


@pytest.mark.parametrize("detector,auc", [("constant", 0.5), ("oracle", 1.0)])
def test_reference_detectors_through_the_cli(tmp_path, broken_dataset, detector, auc):
    proc = _run(tmp_path, "-d", detector, "-s", "synthetic", "--data-root", str(broken_dataset), "-o", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout)
    assert res["metrics"]["video"]["auc"] == pytest.approx(auc)
    assert res["counts"]["videos_scored"] == 6
    # Every broken file is listed with its reason; the others are scored.
    reasons = {f["key"].rsplit("/", 1)[1]: f["reason"] for f in res["failures"]}
    assert set(reasons) == {"zero_bytes", "truncated", "notes", "no_face"}
    assert "zero-byte" in reasons["zero_bytes"] and "no face" in reasons["no_face"]
    assert res["counts"]["videos_failed"] == 4
    for key in ("schema_version", "protocol_hash", "env", "throughput", "per_method", "detector", "dataset"):
        assert key in res
    assert res["throughput"]["peak_rss_mb"] > 0 and res["throughput"]["model_frames_per_s"] > 0
    written = json.loads((tmp_path / "run" / "results.json").read_text())
    assert written["metrics"] == res["metrics"]
    pred = pd.read_parquet(tmp_path / "run" / "predictions.parquet")
    assert list(pred.columns) == ["video_key", "frame_index", "label", "method", "logit"]
    assert pred["video_key"].nunique() == 6


def test_failures_are_shown_on_screen(tmp_path, broken_dataset):
    proc = subprocess.run(DFBENCH + ["run", "-d", "constant", "-s", "synthetic", "--data-root", str(broken_dataset),
                                     "-o", str(tmp_path / "run")], env=_env(tmp_path), capture_output=True, text=True)
    assert proc.returncode == 0
    assert "zero_bytes" in proc.stdout and "truncated" in proc.stdout and "no face" in proc.stdout


def test_kill_9_then_resume_gives_identical_results(tmp_path):
    data = build_synthetic_dataset(tmp_path / "data", n_real=6, n_fake=6, n_frames=12)
    args = ["-d", "oracle", "-s", "synthetic", "--data-root", str(data), "--no-cache"]
    clean = _run(tmp_path, *args, "-o", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr[-2000:]

    out = tmp_path / "killed"
    proc = subprocess.Popen(DFBENCH + ["run", *args, "-o", str(out)], env=_env(tmp_path),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = out / "predictions.partial.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:
        if partial.exists() and partial.read_text().count("\n") >= 3:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_done = partial.read_text().count("\n")
    assert 1 <= n_done < 12, "the run must be killed before it ends for this test to mean anything"
    assert not (out / "results.json").exists()

    resumed = _run(tmp_path, *args, "-o", str(out))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = json.loads(clean.stdout), json.loads(resumed.stdout)
    for key in ("metrics", "per_method", "counts", "failures", "protocol_hash"):
        assert a[key] == b[key], key
    pa = pd.read_parquet(tmp_path / "clean" / "predictions.parquet")
    pb = pd.read_parquet(out / "predictions.parquet")
    pd.testing.assert_frame_equal(pa, pb)


def test_limit_and_missing_face_policy_are_in_the_protocol(tmp_path, broken_dataset):
    proc = _run(tmp_path, "-d", "oracle", "-s", "synthetic", "--data-root", str(broken_dataset),
                "--limit", "4", "--missing-face", "score_half", "-o", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout)
    assert res["counts"]["videos"] == 4
    assert res["protocol"]["missing_face"] == "score_half"
    assert res["protocol"]["dataset"]["subset"]["limit"] == 4


def test_warm_cache_reuses_crops(tmp_path, broken_dataset):
    first = _run(tmp_path, "-d", "oracle", "-s", "synthetic", "--data-root", str(broken_dataset), "-o", str(tmp_path / "a"))
    second = _run(tmp_path, "-d", "oracle", "-s", "synthetic", "--data-root", str(broken_dataset), "-o", str(tmp_path / "b"))
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["metrics"] == b["metrics"]
    # The first run caches the crops of every decodable video (the faceless one too: its "no face"
    # result is reused); the second run reads all of them and decodes nothing.
    assert a["throughput"]["crop_cache_hits"] == 0
    assert b["throughput"]["crop_cache_hits"] == b["counts"]["videos_scored"] + 1 == 7
    assert b["throughput"]["seconds"]["decode"] == 0


def test_unknown_names_and_missing_roots_give_actionable_errors(tmp_path):
    proc = _run(tmp_path, "-d", "oracel", "-s", "synthetic", "--data-root", str(tmp_path))
    assert proc.returncode != 0 and "oracle" in proc.stderr and "did you mean" in proc.stderr.lower()
    proc = _run(tmp_path, "-d", "oracle", "-s", "ffpp_c23")
    assert proc.returncode != 0 and "--data-root" in proc.stderr and "DFBENCH_FFPP_C23_ROOT" in proc.stderr
