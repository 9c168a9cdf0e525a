"""CLI behaviour users rely on: listings, predict, results show, index, errors, new-plugin."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from dfbench import registry as reg_mod
from dfbench.cli import cli


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.setenv("DFBENCH_EXTRA_PLUGINS", "dfbench.testing:TESTING_PLUGIN")
    reg_mod.get_registry(refresh=True)
    yield CliRunner()
    monkeypatch.delenv("DFBENCH_EXTRA_PLUGINS")
    reg_mod.get_registry(refresh=True)


def test_list_json_and_patterns(runner):
    res = runner.invoke(cli, ["list", "detectors", "--json"])
    assert res.exit_code == 0, res.output
    names = {r["name"] for r in json.loads(res.output)}
    assert {"constant", "oracle"} <= names
    res = runner.invoke(cli, ["list", "corruptions", "sat*"])
    assert "saturation" in res.output and "blur" not in res.output
    res = runner.invoke(cli, ["list", "datasets", "--json"])
    assert {"demo", "cdf" if False else "celebdf_v2", "ffpp_c23"} <= {r["name"] for r in json.loads(res.output)}


def test_plugins_lists_builtins(runner):
    res = runner.invoke(cli, ["plugins", "--json"])
    rows = json.loads(res.output)
    assert {"builtin_datasets", "builtin_corruptions", "builtin_croppers"} <= {r["name"] for r in rows}
    assert all(r["error"] is None for r in rows)


def test_unknown_detector_says_did_you_mean(runner, tmp_path):
    res = runner.invoke(cli, ["run", "-d", "oracl", "-s", "synthetic", "--data-root", str(tmp_path)])
    assert res.exit_code == 1
    assert "Did you mean 'oracle'" in res.output


def test_predict_video_image_and_folder(runner, tmp_path):
    import cv2

    from dfbench.testing import make_face_frames, write_video

    write_video(tmp_path / "media" / "real.mp4", make_face_frames(6, seed=1))
    write_video(tmp_path / "media" / "fake.mp4", make_face_frames(6, fake=True, seed=2))
    cv2.imwrite(str(tmp_path / "media" / "still.png"), make_face_frames(1, fake=True)[0][..., ::-1])
    (tmp_path / "media" / "broken.mp4").write_bytes(b"")
    res = runner.invoke(cli, ["predict", str(tmp_path / "media"), "-d", "oracle", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["path"].rsplit("/", 1)[1]: r for r in json.loads(res.output)}
    assert rows["fake.mp4"]["p_fake"] > 0.9 > 0.1 > rows["real.mp4"]["p_fake"]
    assert rows["still.png"]["p_fake"] > 0.9 and rows["still.png"]["units"] == 1
    assert rows["broken.mp4"]["p_fake"] is None and "zero-byte" in rows["broken.mp4"]["error"]


def test_results_show_and_index(runner, tmp_path):
    from dfbench.testing import build_synthetic_dataset

    data = build_synthetic_dataset(tmp_path / "d", n_real=2, n_fake=2, n_frames=6)
    res = runner.invoke(cli, ["index", "synthetic", "--data-root", str(data), "--json"])
    rows = json.loads(res.output)
    assert [set(r) for r in rows][0] == {"key", "label", "method", "path"} and len(rows) == 4
    res = runner.invoke(cli, ["run", "-d", "oracle", "-s", "synthetic", "--data-root", str(data), "-o", str(tmp_path / "r"), "--no-cache"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["results", "show", str(tmp_path / "r")])
    assert "AUC 1.000" in res.output and "4 scored" in res.output


def test_new_plugin_skeleton_passes_its_own_contract_tests(tmp_path):
    res = CliRunner().invoke(cli, ["new-plugin", "skel", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    root = tmp_path / "dfbench-skel"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
                          cwd=root, capture_output=True, text=True,
                          env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_prepare_for_a_detector_fills_the_cache_that_run_reads(runner, tmp_path, monkeypatch):
    from dfbench.testing import build_synthetic_dataset

    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path / "cache"))
    data = build_synthetic_dataset(tmp_path / "d", n_real=2, n_fake=2, n_frames=6)
    res = runner.invoke(cli, ["prepare", "synthetic", "--data-root", str(data), "-d", "oracle"])
    assert res.exit_code == 0, res.output
    assert "4 processed" in res.output
    res = runner.invoke(cli, ["run", "-d", "oracle", "-s", "synthetic", "--data-root", str(data),
                              "-o", str(tmp_path / "r"), "--json"])
    out = json.loads(res.output[res.output.index("{"):])
    assert out["throughput"]["crop_cache_hits"] == 4 and out["metrics"]["video"]["auc"] == 1.0
    res = runner.invoke(cli, ["prepare", "synthetic", "--data-root", str(data)])
    assert res.exit_code != 0 and "--detector or --cropper" in res.output
