"""Speed of the built-in corruptions (pytest-benchmark; skipped unless benchmarks are enabled).

Run: ``.venv/bin/pytest -p no:cacheprovider tests/bench_corruptions.py --benchmark-only``.
Frame corruptions are timed on one 640x360 frame (FF++-like resolution); the codec corruptions
on a 32-frame 640x360 clip, i.e. the frames one video contributes to an evaluation.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

import dfbench.corruptions as C

pytestmark = pytest.mark.benchmark(group="corruptions")

FRAME_NAMES = [n for n, s in sorted(C.BUILTIN.items()) if s.scope == "frame"]
VIDEO_NAMES = [n for n, s in sorted(C.BUILTIN.items()) if s.scope == "video"]


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    return np.ascontiguousarray(cv2.resize(skimage.data.astronaut(), (640, 640))[140:500])


@pytest.fixture(scope="module")
def clip32() -> np.ndarray:
    big = cv2.resize(skimage.data.astronaut(), (800, 800))
    # A slow pan, so the encoder sees motion as in a real video.
    return np.stack([big[100 + 3 * i : 460 + 3 * i, 60 + 2 * i : 700 + 2 * i] for i in range(32)])


@pytest.mark.parametrize("name", FRAME_NAMES)
def test_frame_corruption_speed(benchmark, frame, name):
    out = benchmark(C.apply, name, frame, 3, 1234)
    assert out.shape == frame.shape


@pytest.mark.parametrize("name", VIDEO_NAMES)
def test_codec_corruption_speed_32_frames(benchmark, clip32, name):
    out = benchmark.pedantic(C.apply, args=(name, clip32, 3, 0), rounds=3, iterations=1)
    assert out.shape == clip32.shape
