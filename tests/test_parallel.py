"""Parallel evaluation (issue 19): batches that span videos, worker processes, Ray.

The runs here use the demo dataset and the demo LAA-Net with 4 frames per video and batch size 3,
so model batches really span videos (4 units per video never fill batches of 3 evenly).
"""

import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from dfbench.build import build_detector
from dfbench.pipeline import ModelStage, PreparedVideo
from dfbench.specs import VideoItem

DET = "laanet_test.demo"
RUN = {"limit": 8, "frames_per_video": 4, "batch_size": 3, "use_cache": False, "progress": False}


def _pv(key: str, units: np.ndarray, missing: list[int] = ()) -> PreparedVideo:
    return PreparedVideo(item=VideoItem(key=key, path=f"/nowhere/{key}.mp4", label=0, method="original"), units=units,
                         unit_index=list(range(len(units))), missing_units=list(missing), n_units=len(units))


def test_a_videos_logits_do_not_depend_on_what_else_is_in_its_batch():
    from dfbench.parallel.batching import score_stream

    det = build_detector(DET)
    s = det.input_spec
    rng = np.random.default_rng(0)
    shape = (s.channels, s.size, s.size)
    a, b, c = (rng.integers(0, 256, (n,) + shape, dtype=np.uint8) for n in (3, 2, 4))
    stage = ModelStage(det, batch_size=4, flip_test=s.flip_test)
    timing = {"decode": 0.0, "faces": 0.0, "model": 0.0}

    alone = dict((pv.item.key, rec) for pv, rec in score_stream([_pv("a", a)], stage, timing))
    # a shares its first batch with b's two units and its second with c's: different neighbours,
    # different positions, a different order of videos.
    mixed = dict((pv.item.key, rec) for pv, rec in
                 score_stream([_pv("b", b), _pv("a", a), _pv("c", c, missing=[1])], stage, timing))
    assert [k for k in mixed] == ["b", "a", "c"]  # records leave in input order
    assert mixed["a"]["logits"] == alone["a"]["logits"]
    assert mixed["c"]["logits"][1] == 0.0  # a faceless unit never reaches the model
    # The same video scored through the old path (its own, shorter batch) is close but need not be
    # bit-identical: the batch shape is what has to be fixed.
    per_video = stage.logits(a)
    np.testing.assert_allclose(per_video, alone["a"]["logits"], atol=1e-4)


def test_a_model_error_fails_only_the_video_that_caused_it():
    from dfbench.parallel.batching import score_stream

    det = build_detector(DET)
    s = det.input_spec
    good = np.zeros((2, s.channels, s.size, s.size), np.uint8)
    bad = np.full((2, s.channels, s.size, s.size), 7, np.uint8)
    stage = ModelStage(det, batch_size=4, flip_test=False)
    real = stage.logits

    def run(units):
        if (units == 7).any():
            raise ValueError("broken crop")
        return real(units)

    recs = [rec for _, rec in score_stream([_pv("g", good), _pv("b", bad)], stage,
                                          {"decode": 0.0, "faces": 0.0, "model": 0.0}, run_batch=run)]
    assert recs[0]["status"] == "ok" and recs[1]["status"] == "failed"
    assert "broken crop" in recs[1]["reason"] and recs[1]["exception"]


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    from dfbench.runner import evaluate

    out = tmp_path_factory.mktemp("par") / "local"
    res = evaluate(DET, "demo", output=out, **RUN)
    return res, pd.read_parquet(out / "predictions.parquet")


def _same(a, b, pa, pb):
    for key in ("metrics", "per_method", "counts", "failures", "protocol_hash"):
        assert a[key] == b[key], key
    pd.testing.assert_frame_equal(pa, pb)


@pytest.mark.acceptance
def test_workers_2_and_1_give_the_local_results(local_run, tmp_path):
    from dfbench.runner import evaluate

    ref, ref_pred = local_run
    for n in (1, 2):
        res = evaluate(DET, "demo", output=tmp_path / f"w{n}", workers=n, **RUN)
        assert res["throughput"]["workers"] == n
        _same(ref, res, ref_pred, pd.read_parquet(tmp_path / f"w{n}" / "predictions.parquet"))


def _kill_one_pool_worker(partial, stop: threading.Event, killed: list[int]) -> None:
    """Kill -9 one of this process's spawned workers once the run has scored a video."""
    import psutil

    while not stop.is_set() and not (partial.exists() and partial.read_text().count("\n") >= 1):
        time.sleep(0.05)
    for p in psutil.Process().children(recursive=True):
        if any("spawn_main" in part for part in p.cmdline()):
            os.kill(p.pid, signal.SIGKILL)
            killed.append(p.pid)
            return


@pytest.mark.acceptance
def test_a_killed_worker_process_costs_nothing_but_time(local_run, tmp_path):
    from dfbench.runner import evaluate

    ref, ref_pred = local_run
    out = tmp_path / "killed"
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_one_pool_worker, args=(out / "predictions.partial.jsonl", stop, killed),
                              daemon=True)
    killer.start()
    try:
        res = evaluate(DET, "demo", output=out, workers=2, **RUN)
    finally:
        stop.set()
        killer.join(5)
    assert killed, "no worker process was killed: the test did not test anything"
    _same(ref, res, ref_pred, pd.read_parquet(out / "predictions.parquet"))


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    started = not ray.is_initialized()
    if started:
        os.environ.pop("RAY_ADDRESS", None)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


def _kill_one_shard_worker(stop: threading.Event, killed: list[int]) -> None:
    """Kill -9 a Ray worker while it runs a shard (its process title names the task), once."""
    import psutil

    def running_shard(p) -> bool:
        try:
            return any("_prepare_shard" in part for part in p.cmdline())
        except psutil.Error:
            return False

    while not stop.is_set() and not killed:
        for p in psutil.process_iter():
            if running_shard(p):
                time.sleep(0.1)  # let it get into its video
                if running_shard(p):  # still on the task (not idle): the kill costs unfinished videos
                    try:
                        os.kill(p.pid, signal.SIGKILL)
                        killed.append(p.pid)
                        return
                    except ProcessLookupError:
                        pass
        time.sleep(0.02)


@pytest.mark.acceptance
def test_ray_results_equal_a_local_run_even_when_a_worker_is_killed(local_run, ray_local, tmp_path):
    from dfbench.runner import evaluate

    ref, ref_pred = local_run
    res = evaluate(DET, "demo", output=tmp_path / "ray", executor="ray", **RUN)
    _same(ref, res, ref_pred, pd.read_parquet(tmp_path / "ray" / "predictions.parquet"))
    assert res["throughput"]["executor"] == "ray" and res["throughput"]["ray"]["shards"] >= 2

    # A kill can land just after a one-video shard handed its result back (then nothing is left to
    # retry); every attempt must still equal the local run, and up to three attempts are made until
    # one kill has cost an unfinished shard, which must then be retried.
    for attempt in range(3):
        stop, killed = threading.Event(), []
        killer = threading.Thread(target=_kill_one_shard_worker, args=(stop, killed), daemon=True)
        killer.start()
        out = tmp_path / f"ray_killed_{attempt}"
        try:
            res = evaluate(DET, "demo", output=out, executor="ray", **RUN)
        finally:
            stop.set()
            killer.join(5)
        assert killed, "no shard worker was seen running: the test did not kill anything"
        assert res["throughput"]["ray"]["videos_retried"] <= 2 * 1  # shards here are one video each
        _same(ref, res, ref_pred, pd.read_parquet(out / "predictions.parquet"))
        if res["throughput"]["ray"]["shards_retried"] >= 1:
            break
    assert res["throughput"]["ray"]["shards_retried"] >= 1


@pytest.mark.slow
def test_kill_9_with_workers_then_resume_gives_identical_results(tmp_path):
    """The driver killed mid-run (its worker processes die with it); the resumed run, with another
    number of workers, ends with the uninterrupted run's results."""
    import json
    import subprocess
    import sys

    from dfbench.testing import build_synthetic_dataset

    data = build_synthetic_dataset(tmp_path / "data", n_real=5, n_fake=5, n_frames=8)
    env = dict(os.environ, DFBENCH_EXTRA_PLUGINS="dfbench.testing:TESTING_PLUGIN",
               DFBENCH_CACHE=str(tmp_path / "cache"))
    cmd = [sys.executable, "-m", "dfbench.cli", "run", "-d", "oracle", "-s", "synthetic", "--data-root", str(data),
           "--no-cache", "--batch-size", "3"]

    def run(out, *extra):
        proc = subprocess.run(cmd + ["-o", str(out), "--json", *extra], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return json.loads(proc.stdout)

    clean = run(tmp_path / "clean")
    out = tmp_path / "killed"
    proc = subprocess.Popen(cmd + ["-o", str(out), "--workers", "2"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    partial = out / "predictions.partial.jsonl"
    deadline = time.time() + 180
    while time.time() < deadline and not (partial.exists() and partial.read_text().count("\n") >= 2):
        time.sleep(0.02)
    import psutil

    workers = psutil.Process(proc.pid).children(recursive=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"worker processes outlived the killed driver: {alive}"
    n_done = partial.read_text().count("\n")
    assert 1 <= n_done < 10, "the run must be killed before it ends for this test to mean anything"
    resumed = run(out, "--workers", "1")
    _same(clean, resumed, pd.read_parquet(tmp_path / "clean" / "predictions.parquet"),
          pd.read_parquet(out / "predictions.parquet"))


@pytest.mark.acceptance
def test_a_model_actor_gives_the_drivers_logits(ray_local):
    """The GPU-actor path (``--device cuda`` on a cluster whose GPU is not the driver's), run on
    CPU: full batches go to a Ray actor holding its own copy of the model."""
    from dfbench.parallel.batching import score_stream
    from dfbench.parallel.ray_exec import place_model

    det = build_detector(DET)
    s = det.input_spec
    rng = np.random.default_rng(1)
    videos = [rng.integers(0, 256, (n, s.channels, s.size, s.size), dtype=np.uint8) for n in (3, 2)]
    opts = dict(precision="fp32", channels_last=False, flip_test=s.flip_test, batch_size=4, compile=False)
    stage, run_batch = place_model(det, device="cpu", force_actor=True, actor_gpus=0, **opts)
    assert run_batch is not None

    def logits(run):
        timing = {"decode": 0.0, "faces": 0.0, "model": 0.0}
        return [rec["logits"] for _, rec in score_stream([_pv(f"v{i}", u) for i, u in enumerate(videos)],
                                                          stage, timing, run)]

    assert logits(run_batch) == logits(None)


@pytest.mark.acceptance
def test_robustness_on_ray_equals_the_local_grid(ray_local, testing_registry, tmp_path):
    from dfbench.robustness import run_robustness
    from dfbench.testing import build_synthetic_dataset

    data = build_synthetic_dataset(tmp_path / "data", n_real=2, n_fake=2, n_frames=6)
    kw = dict(suite="blur", levels=[2], data_root=data, registry=testing_registry, progress=False,
              make_plot=False, use_cache=False)
    local = run_robustness("oracle", "synthetic", tmp_path / "local", **kw)
    on_ray = run_robustness("oracle", "synthetic", tmp_path / "ray", executor="ray", **kw)
    drop = ("run_dir",)
    rows = [[{k: v for k, v in r.items() if k not in drop} for r in doc["rows"]] for doc in (local, on_ray)]
    assert len(rows[0]) == 2 and rows[0] == rows[1]
    for cell in ("clean", "blur-2"):
        import json

        assert json.loads((tmp_path / "ray" / cell / "results.json").read_text())["throughput"]["executor"] == "ray"
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "local" / cell / "predictions.parquet"),
                                      pd.read_parquet(tmp_path / "ray" / cell / "predictions.parquet"))


def test_worker_processes_use_one_thread_each():
    import multiprocessing as mp
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    from dfbench.parallel import local

    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=local._init,
                             initargs=(pickle.dumps(None),)) as pool:
        counts = pool.submit(local.thread_counts).result()
    assert counts == {"torch": 1, "interop": 1, "cv2": 1, **{v: "1" for v in local.THREAD_ENV}}


def test_crops_computed_by_workers_fill_the_cache_the_next_run_reads(testing_registry, tmp_path):
    from dfbench.runner import evaluate
    from dfbench.testing import build_synthetic_dataset

    data = build_synthetic_dataset(tmp_path / "data", n_real=2, n_fake=2, n_frames=6)
    kw = dict(data_root=data, registry=testing_registry, progress=False, cache_dir=tmp_path / "cache")
    cold = evaluate("oracle", "synthetic", output=tmp_path / "cold", workers=2, **kw)
    assert cold["throughput"]["crop_cache_hits"] == 0
    warm = evaluate("oracle", "synthetic", output=tmp_path / "warm", **kw)
    assert warm["throughput"]["crop_cache_hits"] == 4
    assert warm["metrics"] == cold["metrics"]


def test_a_video_that_kills_its_worker_fails_alone(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    from dfbench.parallel.local import MAX_ATTEMPTS, process_prefetch
    from dfbench.registry import get_registry
    from dfbench.testing import _reference_spec, build_synthetic_dataset, index_synthetic

    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # spawned workers inherit sys.path
    from _crashing_stage import CrashingStage

    assert "_crashing_stage" in sys.modules
    data = build_synthetic_dataset(tmp_path / "data", n_real=3, n_fake=2, n_frames=4)
    items = index_synthetic(data, "test", {})
    spec = _reference_spec("oracle").variant("test").input
    cropper, _ = get_registry().build_cropper(spec.cropper, spec.crop_settings)
    stage = CrashingStage(spec, cropper, crash_on="real_01")
    out = list(process_prefetch(stage, items, workers=2))
    assert [pv.item.key for pv in out] == [it.key for it in items]  # every video, in order
    failed = {pv.item.key: pv for pv in out if pv.failure is not None}
    assert list(failed) == ["synthetic/real/original/real_01"]
    pv = failed["synthetic/real/original/real_01"]
    assert pv.failure_kind == "worker died" and f"died {MAX_ATTEMPTS} times" in pv.failure
    assert all(p.units is not None for p in out if p.failure is None)


def test_batched_face_detectors_follow_the_model_to_its_gpu():
    """Issue 19: on a GPU run the RetinaFace/MTCNN recipes detect on the model's device (no CPU
    face stage); dlib croppers, CPU runs and worker-prepared faces stay on the CPU."""
    from dfbench.registry import get_registry
    from dfbench.runner import face_detection_device

    reg = get_registry()
    assert face_detection_device(reg, "laanet_official", "cuda:1") == "cuda:1"
    assert face_detection_device(reg, "lipforensics_official", "cuda") == "cuda"
    assert face_detection_device(reg, "laanet_official", "cpu") is None
    assert face_detection_device(reg, "dlib_align", "cuda") is None
    assert face_detection_device(reg, "laanet_official", "cuda", workers=2) is None
    assert face_detection_device(reg, "laanet_official", "cuda", executor="ray") is None
    assert face_detection_device(reg, "dfb", "cuda") is None  # DeepfakeBench's dlib recipe
