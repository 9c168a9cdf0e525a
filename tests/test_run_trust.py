"""Numbers a reviewer can trust (issue 12, runner side): missing faces, bad videos, untrained
detectors, run identity, what ran is what is recorded, one writer per run directory."""

import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from dfbench.errors import DfbenchError
from dfbench.testing import _reference_spec, build_synthetic_dataset

DFBENCH = [sys.executable, "-m", "dfbench.cli"]


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    return build_synthetic_dataset(tmp_path_factory.mktemp("trust") / "data", n_real=2, n_fake=2, n_frames=6,
                                   broken=True)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    return build_synthetic_dataset(tmp_path_factory.mktemp("trust") / "clean", n_real=3, n_fake=3, n_frames=6)


def _oracle():
    return _reference_spec("oracle").build("test")


def _eval(reg, data, out, det=None, **kw):
    from dfbench.runner import evaluate

    kw.setdefault("cache_dir", Path(out).parent / "cache")
    return evaluate(det if det is not None else _oracle(), "synthetic", data_root=data, output=out,
                    progress=False, registry=reg, **kw)


def _env(tmp_path, **extra):
    env = dict(os.environ, DFBENCH_EXTRA_PLUGINS="dfbench.testing:TESTING_PLUGIN",
               DFBENCH_CACHE=str(tmp_path / "cache"))
    env.update(extra)
    return env


# -- item 1: missing faces ----------------------------------------------------------------------------

def test_score_half_keeps_a_faceless_video_at_one_half(testing_registry, broken, tmp_path):
    res = _eval(testing_registry, broken, tmp_path / "half", missing_face="score_half")
    assert not any(f["key"].endswith("no_face") for f in res["failures"])
    pred = pd.read_parquet(tmp_path / "half" / "predictions.parquet")
    key = next(k for k in pred["video_key"].unique() if k.endswith("no_face"))
    rows = pred[pred["video_key"] == key]
    assert len(rows) > 0 and (rows["logit"] == 0.0).all()  # p = sigmoid(0) = 0.5, no model call
    mf = res["counts"]["missing_face"]
    assert mf["policy"] == "score_half" and mf["videos_faceless_scored_half"] == 1
    assert mf["units_scored_half"] == len(rows) and mf["videos_failed_no_face"] == 0
    assert res["counts"]["videos_scored"] == 5  # 4 good videos + the faceless one
    assert res["metrics"]["video"]["n_fake"] == 3


def test_skip_fails_a_faceless_video_naming_the_file_and_counts_it(testing_registry, broken, tmp_path):
    res = _eval(testing_registry, broken, tmp_path / "skip", missing_face="skip")
    fail = next(f for f in res["failures"] if f["key"].endswith("no_face"))
    assert fail["kind"] == "no face" and fail["reason"].startswith("no face")
    assert str(broken / "fake" / "no_face.mp4") in fail["reason"]
    assert res["counts"]["missing_face"]["videos_failed_no_face"] == 1
    # Buckets by reason, never by file path (decode errors start with the path).
    assert res["failure_reasons"] == {"decode error": 3, "no face": 1}
    from dfbench.results import summary_lines

    text = "\n".join(summary_lines(res))
    assert "policy skip" in text and "1 videos with no face failed" in text


def test_the_detectors_official_rule_is_the_default_and_in_the_hash(testing_registry, broken, tmp_path):
    det = _oracle()
    det.input_spec = replace(det.input_spec, missing_face="score_half")
    res = _eval(testing_registry, broken, tmp_path / "default", det=det)
    assert res["protocol"]["missing_face"] == "score_half"
    assert res["protocol"]["input"]["missing_face"] == "score_half"
    assert not any(f["key"].endswith("no_face") for f in res["failures"])
    from dfbench.registry import get_registry

    laanet = get_registry().detectors.get("laanet")
    if laanet is not None:  # LAA-Net's official inference scores a faceless frame 0.5
        assert laanet.variant().input.missing_face == "score_half"


def test_fail_policy_stops_the_run_and_keeps_what_was_scored(testing_registry, broken, tmp_path):
    with pytest.raises(DfbenchError, match="no_face.mp4.*--missing-face fail stops the run"):
        _eval(testing_registry, broken, tmp_path / "fail", missing_face="fail")
    assert not (tmp_path / "fail" / "results.json").exists()
    assert not (tmp_path / "fail" / ".dfbench.lock").exists()


# -- item 4: one bad video never ends a run -----------------------------------------------------------

# Faults injected into the network's Python forward exist only on the torch path (an exported
# runtime runs the traced graph), so these runs pin --backend torch; the exported path's per-video
# failures are tested in tests/test_backends.py. An explicit precision: the automatic choice would
# call the (counting, raising) forward on its calibration batch first.
TORCH = {"backend": "torch", "precision": "fp32"}


def _raising(on_calls=None, exc=ValueError("boom from the model")):
    det = _oracle()
    calls = {"n": 0}
    forward = det.forward

    def flaky(x):
        calls["n"] += 1
        if on_calls is None or calls["n"] in on_calls:
            raise exc
        return forward(x)

    det.forward = flaky
    return det


def test_a_detector_raising_on_one_video_fails_only_that_video(testing_registry, clean, tmp_path):
    res = _eval(testing_registry, clean, tmp_path / "r", det=_raising(on_calls={2}), **TORCH)
    assert res["counts"]["videos_scored"] == 5 and res["counts"]["videos_failed"] == 1
    (fail,) = res["failures"]
    assert fail["kind"] == "ValueError" and "boom from the model" in fail["reason"]
    assert res["failure_reasons"] == {"ValueError": 1}
    assert pd.read_parquet(tmp_path / "r" / "predictions.parquet")["video_key"].nunique() == 5


def test_a_corruption_raising_on_one_video_fails_only_that_video(testing_registry, clean, tmp_path, monkeypatch):
    spec = testing_registry.corruptions["blur"]
    calls = {"n": 0}

    def flaky(frames, level, seed):
        calls["n"] += 1
        if calls["n"] == 3:
            raise MemoryError("corruption ran out of scratch space")
        return frames.copy()

    monkeypatch.setitem(testing_registry.corruptions, "blur", replace(spec, apply=flaky))
    res = _eval(testing_registry, clean, tmp_path / "c", corruption="blur:1")
    assert res["counts"]["videos_scored"] == 5
    (fail,) = res["failures"]
    assert fail["kind"] == "MemoryError" and "scratch space" in fail["reason"]


def test_the_same_error_on_consecutive_videos_stops_the_run(testing_registry, clean, tmp_path):
    before = set(threading.enumerate())
    with pytest.raises(DfbenchError, match="same error on 3 consecutive videos.*boom"):
        _eval(testing_registry, clean, tmp_path / "s", det=_raising(), max_consecutive_errors=3, **TORCH)
    # The stopped run's face stage stopped with it: nothing of it still decodes or writes the cache.
    assert not [t for t in set(threading.enumerate()) - before if t.name == "dfbench-prefetch"]
    assert not (tmp_path / "s" / "results.json").exists()
    # The failures of a systemic stop are not recorded: the re-run after the fix scores them.
    assert (tmp_path / "s" / "predictions.partial.jsonl").read_text() == ""
    res = _eval(testing_registry, clean, tmp_path / "s", **TORCH)
    assert res["counts"]["videos_scored"] == 6


def test_out_of_memory_halves_the_batch_and_records_it(testing_registry, clean, tmp_path):
    det = _oracle()
    forward = det.forward

    def small_only(x):
        if x.shape[0] > 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return forward(x)

    det.forward = small_only
    res = _eval(testing_registry, clean, tmp_path / "oom", det=det, batch_size=4, **TORCH)
    assert res["counts"]["videos_scored"] == 6
    assert res["throughput"]["batch_size"] == 1 and res["throughput"]["batch_size_requested"] == 4


def test_out_of_memory_at_batch_one_stops(testing_registry, clean, tmp_path):
    det = _raising(exc=RuntimeError("CUDA out of memory"))
    with pytest.raises(DfbenchError, match="out of memory.*batch size 1.*kept in"):
        _eval(testing_registry, clean, tmp_path / "oom1", det=det, batch_size=2, **TORCH)


# -- item 12: refuse untrained -------------------------------------------------------------------------

@pytest.mark.acceptance
def test_run_refuses_an_untrained_detector_before_any_video(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run(DFBENCH + ["run", "-d", "laanet", "-s", "demo", "-o", str(out)],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    err = proc.stderr
    assert "--weights" in err and "dfbench convert laanet" in err and "--allow-untrained" in err
    assert "laanet_test.demo" in err  # the id that ships weights
    assert not (out / "results.json").exists() and not out.exists()


def test_allow_untrained_scores_and_flags_it(testing_registry, clean, tmp_path):
    det = _oracle()
    det.trained = False
    with pytest.raises(DfbenchError, match="no trained weights.*--allow-untrained"):
        _eval(testing_registry, clean, tmp_path / "u", det=det)
    assert not (tmp_path / "u").exists()
    res = _eval(testing_registry, clean, tmp_path / "u", det=det, allow_untrained=True, limit=2)
    assert res["detector"]["trained"] is False and res["detector"]["untrained"] is True
    assert res["protocol"]["detector"]["trained"] is False


# -- item 3: run identity -----------------------------------------------------------------------------

def test_a_replaced_video_never_returns_the_old_numbers(testing_registry, tmp_path):
    from dfbench.testing import make_face_frames, write_video

    data = build_synthetic_dataset(tmp_path / "data", n_real=2, n_fake=2, n_frames=6)
    first = _eval(testing_registry, data, tmp_path / "run")
    assert first["metrics"]["video"]["auc"] == pytest.approx(1.0)
    # Replace a real video by a fake-looking one (same name, other content).
    write_video(data / "real" / "real_00.mp4", make_face_frames(8, fake=True, seed=99))
    with pytest.raises(DfbenchError, match="dataset.index_sha256.*--force-new"):
        _eval(testing_registry, data, tmp_path / "run")
    again = _eval(testing_registry, data, tmp_path / "run", force_new=True)
    assert again["metrics"]["video"]["auc"] < 1.0
    # The crop cache saw the file change: that video was cropped again, the others were hits.
    assert again["throughput"]["crop_cache_hits"] == 3
    assert again["protocol_core_hash"] == first["protocol_core_hash"]
    assert again["protocol_hash"] != first["protocol_hash"]


def test_protocol_records_software_weights_and_what_ran(testing_registry, clean, tmp_path):
    res = _eval(testing_registry, clean, tmp_path / "p", precision="fp64", channels_last=True, limit=2)
    sw = res["protocol"]["software"]
    assert {"dfbench", "plugins", "torch", "opencv", "dlib", "pyav"} <= set(sw)
    assert res["protocol"]["precision"] == "fp64" and res["protocol"]["parameter_dtype"] == "float64"
    assert res["protocol"]["channels_last"] is True and res["throughput"]["precision"] == "fp64"
    assert {"gpu", "cuda", "cudnn", "opencv", "dlib", "pyav"} <= set(res["env"])


def test_a_clip_detector_does_not_record_channels_last_it_did_not_get():
    from dfbench.pipeline import ModelStage

    det = _oracle()
    det.input_spec = replace(det.input_spec, unit="clip", clip_length=2)
    assert ModelStage(det, channels_last=True).effective()["channels_last"] is False


def test_weights_sha256_is_computed_from_the_file(tmp_path):
    from dfbench.build import build_detector
    from dfbench.weights import save_weights, sha256_file

    pytest.importorskip("dfbench_recce")
    det = build_detector("recce_test")
    out = save_weights(det, tmp_path / "w")
    cfg = json.loads((out / "config.json").read_text())
    del cfg["sha256"]  # the run's identity is the file's hash, not a copy from config.json
    (out / "config.json").write_text(json.dumps(cfg))
    loaded = build_detector("recce_test", weights=str(out))
    assert loaded.weights_info["sha256"] == sha256_file(out / "model.safetensors")


# -- item 14: one writer per run directory ------------------------------------------------------------

def test_a_second_writer_refuses_and_a_stale_lock_is_taken_over(testing_registry, clean, tmp_path):
    out = tmp_path / "locked"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / ".dfbench.lock").write_text(f"{holder.pid}\n")
        with pytest.raises(DfbenchError, match=f"another dfbench process \\(pid {holder.pid}"):
            _eval(testing_registry, clean, out, limit=2)
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone (kill -9 leaves its lock behind): the next run takes the lock over.
    res = _eval(testing_registry, clean, out, limit=2)
    assert res["counts"]["videos_scored"] == 2 and not (out / ".dfbench.lock").exists()


# -- item 13: command-line values, devices, predict, results show --------------------------------------

@pytest.mark.parametrize("args,needle", [
    (["--limit", "0"], "--limit"), (["--limit", "-3"], "--limit"), (["--limit-percent", "150"], "--limit-percent"),
    (["--batch-size", "0"], "--batch-size"), (["--frames", "0"], "--frames"),
])
def test_cli_rejects_values_that_would_change_the_evaluation(tmp_path, args, needle, monkeypatch):
    from click.testing import CliRunner

    from dfbench.cli import cli

    res = CliRunner().invoke(cli, ["run", "-d", "oracle", "-s", "synthetic", "--data-root", str(tmp_path),
                                   "-o", str(tmp_path / "o"), *args])
    assert res.exit_code == 2 and needle in res.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("device", ["nonsense", "mps", "cuda"])
def test_an_unusable_device_is_one_line_before_anything_is_written(testing_registry, clean, tmp_path, device):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    from click.testing import CliRunner

    from dfbench.cli import cli

    res = CliRunner().invoke(cli, ["run", "-d", "oracle", "-s", "synthetic", "--data-root", str(clean),
                                   "-o", str(tmp_path / "o"), "--device", device])
    assert res.exit_code == 1 and f"--device {device}" in res.output
    assert len(res.output.strip().splitlines()) == 1 and "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_predict_empty_folder_and_all_failed(testing_registry, tmp_path):
    from click.testing import CliRunner

    from dfbench.cli import cli

    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(cli, ["predict", str(tmp_path / "empty"), "-d", "oracle"])
    assert res.exit_code == 1 and "no media files found" in res.output
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.mp4").write_bytes(b"")
    (tmp_path / "bad" / "b.mp4").write_text("not a video")
    res = CliRunner().invoke(cli, ["predict", str(tmp_path / "bad"), "-d", "oracle"])
    assert res.exit_code == 1 and "none of the 2 input(s) could be scored" in res.output


def test_results_show_on_an_unfinished_run_says_how_far_it_got(testing_registry, clean, tmp_path):
    from click.testing import CliRunner

    from dfbench.cli import cli

    out = tmp_path / "u"
    _eval(testing_registry, clean, out)
    (out / "results.json").unlink()
    partial = out / "predictions.partial.jsonl"
    partial.write_text("".join(partial.read_text().splitlines(keepends=True)[:2]))
    res = CliRunner().invoke(cli, ["results", "show", str(out)])
    assert res.exit_code == 1
    assert "2 of 6 videos done" in res.output and "resumes" in res.output


# -- item 2: robustness on matched sets ---------------------------------------------------------------

@pytest.mark.parametrize("policy", ["score_half", "skip"])
def test_robustness_cells_report_videos_that_lost_their_face(testing_registry, tmp_path, policy):
    from dfbench.robustness import read_csv, run_robustness, summary_lines

    data = build_synthetic_dataset(tmp_path / "d", n_real=2, n_fake=2, n_frames=6)
    # Heavy noise hides every synthetic face from the detector: all 4 videos lose their face.
    doc = run_robustness(_oracle(), "synthetic", tmp_path / "out", suite="noise:5", data_root=data, progress=False,
                         registry=testing_registry, missing_face=policy, make_plot=False,
                         cache_dir=tmp_path / "cache")
    clean, cell = doc["rows"]
    assert clean["videos_lost_face"] is None and cell["videos_lost_face"] == 4
    assert cell["videos"] == clean["videos"] == 4  # the same videos as the clean run
    if policy == "score_half":  # scored 0.5, never silently dropped
        assert cell["videos_scored"] == 4 and cell["auc"] == pytest.approx(0.5)
    else:
        assert cell["videos_failed"] == 4
    assert read_csv(tmp_path / "out" / "robustness.csv")[1]["videos_lost_face"] == 4
    assert "noise:5 4" in "\n".join(summary_lines(doc))


def test_ffmpeg_log_lines_do_not_leak_into_the_output(tmp_path):
    from dfbench.testing import make_face_frames, write_video

    good = write_video(tmp_path / "good.mp4", make_face_frames(30, seed=1)).read_bytes()
    damaged = bytearray(good)
    damaged[len(good) // 3: len(good) // 3 + 2000] = b"\x55" * 2000  # decoder errors, still decodable
    (tmp_path / "bad.mp4").write_bytes(bytes(damaged))
    env = _env(tmp_path)
    env.pop("OPENCV_FFMPEG_LOGLEVEL", None)
    proc = subprocess.run(DFBENCH + ["predict", str(tmp_path / "bad.mp4"), "-d", "oracle"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert " @ 0x" not in proc.stderr + proc.stdout


def test_a_detector_that_lays_itself_out_channels_last_is_recorded_so():
    from dfbench.pipeline import ModelStage

    spec = pytest.importorskip("dfbench_lipforensics.spec")
    stage = ModelStage(spec.make_spec().build("test"), channels_last=False)  # LipForensics switches it on itself
    assert stage.effective()["channels_last"] is True


def test_robustness_refuses_untrained_and_bad_devices_before_writing(testing_registry, clean, tmp_path):
    from dfbench.robustness import run_robustness

    det = _oracle()
    det.trained = False
    with pytest.raises(DfbenchError, match="--allow-untrained"):
        run_robustness(det, "synthetic", tmp_path / "r", suite="blur:1", data_root=clean, progress=False,
                       registry=testing_registry)
    with pytest.raises(DfbenchError, match="--device nonsense"):
        run_robustness(_oracle(), "synthetic", tmp_path / "r", suite="blur:1", data_root=clean, progress=False,
                       registry=testing_registry, device="nonsense")
    assert not (tmp_path / "r").exists()


def test_two_hugging_face_datasets_never_share_cached_crops(testing_registry, tmp_path):
    from dfbench.run_inputs import open_crop_cache as _open_cache

    reg = testing_registry
    spec = reg.dataset("hf")
    det = _oracle()
    cropper, settings = reg.build_cropper("dlib_align", {})

    def root(**opts):
        return _open_cache(tmp_path, spec, "dlib_align", settings, cropper, det.input_spec, None, opts).root

    assert root(path_or_id="org/a") != root(path_or_id="org/b") != root(path_or_id="org/b", revision="v2")
    assert root(path_or_id="org/a") == root(path_or_id="org/a", label_column="kind")


def test_cached_crops_of_a_changed_file_are_a_miss(tmp_path):
    import numpy as np

    from dfbench.media.cache import CropCache
    from dfbench.media.types import FaceCrops

    cache = CropCache(tmp_path / "c", {"hash": "x"})
    crop = np.zeros((8, 8, 3), np.uint8)
    crops = FaceCrops(crops=[crop], landmarks=[None], boxes=[None], n_faces=[1], others=[[]], frame_indices=[0])
    cache.put("k", crops, source={"path": "/v.mp4", "size": 10, "mtime_ns": 1})
    assert cache.get("k", source={"path": "/v.mp4", "size": 10, "mtime_ns": 1}) is not None
    assert cache.get("k", source={"path": "/v.mp4", "size": 11, "mtime_ns": 2}) is None
    # An unsigned entry (written by `dfbench prepare`) counts only when it is newer than the file.
    cache.put("u", crops)
    shard_ns = cache.shard_path("u").stat().st_mtime_ns
    assert cache.get("u", source={"path": "/v.mp4", "size": 10, "mtime_ns": shard_ns - 10**9}) is not None
    assert cache.get("u", source={"path": "/v.mp4", "size": 10, "mtime_ns": shard_ns + 10**9}) is None


def test_skip_half_drops_faceless_frames_but_scores_a_faceless_video_half():
    """SBI's official video rule: only frames with a face count; a video with none scores 0.5."""
    from dfbench.media.policy import apply_missing_policy

    d = apply_missing_policy([True, False, True, False], "skip_half")
    assert d.score == [0, 2] and d.neutral == [] and d.failed is None and not d.faceless
    d = apply_missing_policy([False, False, False], "skip_half", source="v.mp4")
    assert d.score == [] and d.neutral == [0, 1, 2] and d.failed is None and d.faceless


def test_skip_half_run_keeps_a_faceless_video_at_one_half(testing_registry, broken, tmp_path):
    res = _eval(testing_registry, broken, tmp_path / "skiphalf", missing_face="skip_half")
    assert not any(f["key"].endswith("no_face") for f in res["failures"])
    pred = pd.read_parquet(tmp_path / "skiphalf" / "predictions.parquet")
    key = next(k for k in pred["video_key"].unique() if k.endswith("no_face"))
    assert (pred[pred["video_key"] == key]["logit"] == 0.0).all()
    mf = res["counts"]["missing_face"]
    assert mf["policy"] == "skip_half" and mf["videos_faceless_scored_half"] == 1
    assert res["protocol"]["missing_face"] == "skip_half" and res["counts"]["videos_scored"] == 5
