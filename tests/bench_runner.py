"""Speed and memory of whole evaluations (pytest-benchmark; skipped unless benchmarks are enabled).

Run: ``make bench`` or ``.venv/bin/pytest tests/bench_runner.py --benchmark-only --benchmark-enable``.

- ``test_warm_cache_rerun``: a first run (face detection on every sampled frame) against a re-run
  that reads the crop cache. Target: the re-run >= 10x faster. ``extra_info`` carries both times
  and the ratio, for the whole call (fixed start-up costs included) and for the video loop alone.
- ``test_peak_memory_1000_vs_100_videos``: peak RSS of an evaluation of 1,000 videos against one
  of 100 (each in its own process, so the peaks do not mix). Target: ratio <= 1.1 — nothing
  per-frame may accumulate in RAM. The 1,000 items are links to a few distinct tiny videos, so
  the run stays feasible while the runner still indexes, decodes, crops, scores and records
  1,000 videos.

Both use the testing plugin's ``constant`` detector on generated talking-head videos. Figures are
reported in ``extra_info`` and printed, never asserted (these machines are shared and noisy).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dfbench.testing import make_face_frames, write_video

pytestmark = pytest.mark.benchmark(group="runner")

DFBENCH = [sys.executable, "-m", "dfbench.cli"]


def _frames(n_frames: int, size: tuple[int, int], fake: bool, seed: int):
    if size[0] >= 480:
        # Large frames: the face-pipeline benchmark's talking head (dlib finds it in every frame).
        from dfbench.media.synthetic import face_frames

        return face_frames(n_frames, size[0], size[1], motion=0.3, seed=seed)
    return make_face_frames(n_frames, size=size, fake=fake, seed=seed)


def _dataset(
    root: Path, n_videos: int, n_distinct: int, n_frames: int, size: tuple[int, int]
) -> Path:
    """A ``synthetic``-layout dataset of ``n_videos`` items backed by ``n_distinct`` real files."""
    entries = []
    sources = {}
    for label in (0, 1):
        sub = root / ("fake" if label else "real")
        sub.mkdir(parents=True, exist_ok=True)
        for j in range(n_distinct // 2):
            src = sub / f"src_{j:02d}.mp4"
            write_video(src, _frames(n_frames, size, bool(label), 100 * label + j))
            sources.setdefault(label, []).append(src)
    for i in range(n_videos):
        label = i % 2
        sub = root / ("fake" if label else "real")
        name = f"{'fake' if label else 'real'}_{i:05d}.mp4"
        (sub / name).symlink_to(sources[label][i % len(sources[label])].name)
        entries.append(
            {"name": name, "label": label, "method": "greencast" if label else "original"}
        )
    (root / "manifest.json").write_text(json.dumps(entries))
    return root


@pytest.fixture
def testing_plugin(monkeypatch, tmp_path):
    from dfbench.registry import get_registry

    monkeypatch.setenv("DFBENCH_EXTRA_PLUGINS", "dfbench.testing:TESTING_PLUGIN")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reg = get_registry(refresh=True)
    yield reg
    monkeypatch.delenv("DFBENCH_EXTRA_PLUGINS")
    get_registry(refresh=True)


def test_warm_cache_rerun(benchmark, tmp_path, testing_plugin):
    from dfbench.runner import evaluate

    # 24 two-second 640x360 videos scored with 32 frames each: the face pipeline's real workload.
    data = _dataset(tmp_path / "data", n_videos=24, n_distinct=24, n_frames=50, size=(640, 360))
    kw = dict(
        data_root=data,
        frames_per_video=32,
        progress=False,
        registry=testing_plugin,
        cache_dir=tmp_path / "cache",
    )
    t0 = time.perf_counter()
    cold = evaluate("constant", "synthetic", output=tmp_path / "cold", **kw)
    cold_s = time.perf_counter() - t0
    assert cold["counts"]["videos_scored"] == 24

    runs = iter(range(1000))

    def warm():
        return evaluate("constant", "synthetic", output=tmp_path / f"warm{next(runs)}", **kw)

    res = benchmark.pedantic(warm, rounds=3, iterations=1)
    assert res["metrics"] == cold["metrics"]  # the cache changes speed, never numbers
    warm_s = benchmark.stats.stats.mean
    info = benchmark.extra_info
    info["cold_s"] = round(cold_s, 3)
    info["warm_s"] = round(warm_s, 3)
    info["speedup"] = round(cold_s / warm_s, 2)
    info["loop_speedup"] = round(
        cold["throughput"]["seconds"]["wall"] / max(res["throughput"]["seconds"]["wall"], 1e-9), 2
    )
    info["target"] = ">= 10x"
    print(
        f"\nwarm-cache re-run: cold {cold_s:.2f} s, warm {warm_s:.2f} s -> {info['speedup']}x "
        f"(video loop alone {info['loop_speedup']}x; target >= 10x)"
    )


def _peak_rss_of_run(data: Path, out: Path, cache: Path) -> tuple[float, dict]:
    env = dict(
        os.environ,
        DFBENCH_EXTRA_PLUGINS="dfbench.testing:TESTING_PLUGIN",
        DFBENCH_CACHE=str(cache),
        HF_HUB_OFFLINE="1",
    )
    proc = subprocess.run(
        DFBENCH
        + [
            "run",
            "-d",
            "constant",
            "-s",
            "synthetic",
            "--data-root",
            str(data),
            "-o",
            str(out),
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout)
    return res["throughput"]["peak_rss_mb"], res


def test_peak_memory_1000_vs_100_videos(benchmark, tmp_path):
    small = _dataset(tmp_path / "d100", n_videos=100, n_distinct=10, n_frames=12, size=(320, 240))
    large = _dataset(tmp_path / "d1000", n_videos=1000, n_distinct=10, n_frames=12, size=(320, 240))
    peak_small, res_small = _peak_rss_of_run(small, tmp_path / "r100", tmp_path / "c100")
    assert res_small["counts"]["videos_scored"] == 100

    peak_large, res_large = benchmark.pedantic(
        _peak_rss_of_run,
        args=(large, tmp_path / "r1000", tmp_path / "c1000"),
        rounds=1,
        iterations=1,
    )
    assert res_large["counts"]["videos_scored"] == 1000
    ratio = peak_large / peak_small
    info = benchmark.extra_info
    info.update(
        {
            "peak_rss_mb_100": peak_small,
            "peak_rss_mb_1000": peak_large,
            "ratio": round(ratio, 3),
            "target": "<= 1.1",
            "videos_per_s_1000": res_large["throughput"]["videos_per_s"],
        }
    )
    print(
        f"\npeak RSS: 100 videos {peak_small:.0f} MB, 1000 videos {peak_large:.0f} MB -> ratio {ratio:.3f} "
        "(target <= 1.1)"
    )
