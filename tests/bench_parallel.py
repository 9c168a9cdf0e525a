"""Speed-up of ``--workers`` and flat driver memory of parallel runs (issue 19; ``make bench``).

- ``test_workers_2_vs_1_speedup``: the same 24 talking-head videos (640x360, 32 frames scored, no
  crop cache, the testing plugin's ``constant`` detector so the face stage dominates) with
  ``--workers 1`` and ``--workers 2``. Reports both times and the speed-up; checks the results
  are identical (the numbers never depend on the number of workers).
- ``test_driver_peak_memory_1000_vs_100_videos``: peak RSS of the driver process of a ``--workers
  2`` run (and of an ``--executor ray`` run) over 1,000 videos against 100. Target: ratio <= 1.1,
  i.e. the in-order window of prepared videos, not the dataset, bounds what the driver holds.

Figures go to ``extra_info`` and are printed, never asserted (shared, noisy machines).
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

pytestmark = pytest.mark.benchmark(group="parallel")

DFBENCH = [sys.executable, "-m", "dfbench.cli"]


def _dataset(root: Path, n_videos: int, n_distinct: int, n_frames: int, size: tuple[int, int]) -> Path:
    """A ``synthetic``-layout dataset of ``n_videos`` items backed by ``n_distinct`` real files."""
    if size[0] >= 480:
        from dfbench.media.synthetic import face_frames

        def frames(label, j):
            return face_frames(n_frames, size[0], size[1], motion=0.3, seed=100 * label + j)
    else:
        def frames(label, j):
            return make_face_frames(n_frames, size=size, fake=bool(label), seed=100 * label + j)
    sources: dict[int, list[Path]] = {}
    for label in (0, 1):
        sub = root / ("fake" if label else "real")
        sub.mkdir(parents=True, exist_ok=True)
        for j in range(max(1, n_distinct // 2)):
            src = sub / f"src_{j:02d}.mp4"
            write_video(src, frames(label, j))
            sources.setdefault(label, []).append(src)
    entries = []
    for i in range(n_videos):
        label = i % 2
        name = f"{'fake' if label else 'real'}_{i:05d}.mp4"
        link = root / ("fake" if label else "real") / name
        if not link.exists():
            link.symlink_to(sources[label][i % len(sources[label])].name)
        entries.append({"name": name, "label": label, "method": "greencast" if label else "original"})
    (root / "manifest.json").write_text(json.dumps(entries))
    return root


@pytest.fixture
def testing_plugin(monkeypatch):
    from dfbench.registry import get_registry

    monkeypatch.setenv("DFBENCH_EXTRA_PLUGINS", "dfbench.testing:TESTING_PLUGIN")
    reg = get_registry(refresh=True)
    yield reg
    monkeypatch.delenv("DFBENCH_EXTRA_PLUGINS")
    get_registry(refresh=True)


def test_workers_2_vs_1_speedup(benchmark, tmp_path, testing_plugin):
    from dfbench.runner import evaluate

    data = _dataset(tmp_path / "data", n_videos=24, n_distinct=24, n_frames=50, size=(640, 360))
    kw = dict(data_root=data, frames_per_video=32, progress=False, registry=testing_plugin, use_cache=False)
    t0 = time.perf_counter()
    one = evaluate("constant", "synthetic", output=tmp_path / "w1", workers=1, **kw)
    one_s = time.perf_counter() - t0

    res = benchmark.pedantic(lambda: evaluate("constant", "synthetic", output=tmp_path / "w2", workers=2,
                                              force_new=True, **kw), rounds=1, iterations=1)
    two_s = benchmark.stats.stats.mean
    assert res["metrics"] == one["metrics"] and res["counts"] == one["counts"]
    info = benchmark.extra_info
    info.update({"workers_1_s": round(one_s, 3), "workers_2_s": round(two_s, 3),
                 "speedup": round(one_s / two_s, 2), "cpus": os.cpu_count(),
                 "loop_speedup": round(one["throughput"]["seconds"]["wall"]
                                       / max(res["throughput"]["seconds"]["wall"], 1e-9), 2)})
    print(f"\n--workers 1: {one_s:.2f} s, --workers 2: {two_s:.2f} s -> {info['speedup']}x "
          f"(video loop alone {info['loop_speedup']}x; {os.cpu_count()} CPUs)")


def _driver_peak(data: Path, out: Path, cache: Path, *extra: str) -> tuple[float, dict]:
    env = dict(os.environ, DFBENCH_EXTRA_PLUGINS="dfbench.testing:TESTING_PLUGIN", DFBENCH_CACHE=str(cache),
               HF_HUB_OFFLINE="1")
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(DFBENCH + ["run", "-d", "constant", "-s", "synthetic", "--data-root", str(data),
                                     "-o", str(out), "--no-cache", "--json", *extra],
                          env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout)
    # ru_maxrss of the driver process only: worker processes and Ray workers are not counted.
    return res["throughput"]["peak_rss_mb"], res


@pytest.mark.parametrize("mode", [["--workers", "2"], ["--executor", "ray", "--workers", "2"]],
                         ids=["workers2", "ray"])
def test_driver_peak_memory_1000_vs_100_videos(benchmark, tmp_path, mode):
    if "ray" in mode:
        pytest.importorskip("ray")
    small = _dataset(tmp_path / "d100", n_videos=100, n_distinct=10, n_frames=12, size=(320, 240))
    large = _dataset(tmp_path / "d1000", n_videos=1000, n_distinct=10, n_frames=12, size=(320, 240))
    peak_small, res_small = _driver_peak(small, tmp_path / "r100", tmp_path / "c", *mode)
    assert res_small["counts"]["videos_scored"] == 100
    peak_large, res_large = benchmark.pedantic(_driver_peak, args=(large, tmp_path / "r1000", tmp_path / "c", *mode),
                                               rounds=1, iterations=1)
    assert res_large["counts"]["videos_scored"] == 1000
    ratio = peak_large / peak_small
    benchmark.extra_info.update({"peak_rss_mb_100": peak_small, "peak_rss_mb_1000": peak_large,
                                 "ratio": round(ratio, 3), "target": "<= 1.1", "mode": " ".join(mode),
                                 "videos_per_s_1000": res_large["throughput"]["videos_per_s"]})
    print(f"\ndriver peak RSS ({' '.join(mode)}): 100 videos {peak_small:.0f} MB, 1000 videos "
          f"{peak_large:.0f} MB -> ratio {ratio:.3f} (target <= 1.1)")
