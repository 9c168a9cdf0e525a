"""Speed of the face pipeline (pytest-benchmark; skipped unless benchmarks are enabled).

Run: ``make bench`` or ``.venv/bin/pytest tests/bench_media.py --benchmark-only --benchmark-enable``.
The workload is the performance target's: a 10-s 640x360 H.264 video (250 frames at 25 fps),
32 evenly spaced frames, dlib detection + landmarks + aligned crops. ``extra_info`` carries the
derived figures (videos/min, faces/s, frames/s); the target is >= 35 videos/min on 2 cores and a
warm-cache re-read >= 10x faster than computing.
"""

from __future__ import annotations

import numpy as np
import pytest

from dfbench.media.cache import CropCache
from dfbench.media.croppers import DlibAlignCropper, LAANetCropper
from dfbench.media.decode import probe, read_frames
from dfbench.media.mouth import MouthCropper
from dfbench.media.prepare import crop_video, input_for_cropper, prepare
from dfbench.media.synthetic import face_frames, write_video
from dfbench.specs import VideoItem

pytestmark = pytest.mark.benchmark(group="face-pipeline")

SPEC = input_for_cropper("dlib_align")  # 32 frames, 256 px


@pytest.fixture(scope="module")
def video10s(tmp_path_factory):
    path = tmp_path_factory.mktemp("bench") / "talking_head_10s.mp4"
    return write_video(path, face_frames(250, 640, 360, motion=0.3, seed=7), fps=25, codec="h264")


def _warm(cropper, frames):
    cropper(frames[:1], 32)  # load the dlib models outside the timed region


def test_decode_frames_per_second(benchmark, video10s):
    frames = benchmark.pedantic(read_frames, args=(video10s,), rounds=3, iterations=1)
    benchmark.extra_info["frames_per_s"] = len(frames) / benchmark.stats.stats.mean


def test_decode_32_sampled_frames(benchmark, video10s):
    def sampled():
        info = probe(video10s)
        return read_frames(video10s, np.linspace(0, info.n_frames - 1, 32).astype(int))

    frames = benchmark.pedantic(sampled, rounds=5, iterations=1)
    assert frames.shape == (32, 360, 640, 3)


@pytest.mark.parametrize("cropper_cls", [DlibAlignCropper, LAANetCropper], ids=["dlib_align", "laanet"])
def test_face_pipeline_per_video(benchmark, video10s, cropper_cls):
    cropper = cropper_cls()
    spec = input_for_cropper(cropper.name)
    _warm(cropper, read_frames(video10s, [0]))
    item = VideoItem(key="bench/0/real/v", label=0, method="real", path=str(video10s))
    crops = benchmark.pedantic(crop_video, args=(item, cropper, spec), rounds=3, iterations=1)
    assert len(crops) == 32 and crops.n_missing == 0
    mean = benchmark.stats.stats.mean
    benchmark.extra_info["videos_per_min_1_process"] = 60.0 / mean
    benchmark.extra_info["faces_per_s_1_process"] = 32 / mean


def test_mouth_pipeline_110_frames(benchmark, video10s):
    cropper = MouthCropper()
    _warm(cropper, read_frames(video10s, [0]))
    spec = input_for_cropper("mouth")
    item = VideoItem(key="bench/0/real/v", label=0, method="real", path=str(video10s))
    crops = benchmark.pedantic(crop_video, args=(item, cropper, spec, 110), rounds=2, iterations=1)
    assert len(crops) == 100
    benchmark.extra_info["clips_per_s"] = 4 / benchmark.stats.stats.mean


def test_prepare_two_workers(benchmark, video10s, tmp_path):
    items = [VideoItem(key=f"bench/0/real/v{i}", label=0, method="real", path=str(video10s)) for i in range(6)]
    counter = iter(range(100))

    def run():
        return prepare(items, DlibAlignCropper(), SPEC, tmp_path / f"c{next(counter)}", workers=2,
                       progress=False, finalize=False)

    report = benchmark.pedantic(run, rounds=1, iterations=1)
    assert report.n_failed == 0
    benchmark.extra_info["videos_per_min_2_workers"] = 60.0 * len(items) / benchmark.stats.stats.mean


def test_warm_cache_read(benchmark, video10s, tmp_path):
    cropper = DlibAlignCropper()
    item = VideoItem(key="bench/0/real/v", label=0, method="real", path=str(video10s))
    crops = crop_video(item, cropper, SPEC)
    cache = CropCache(tmp_path / "cache")
    cache.put(item.key, crops)
    got = benchmark(cache.get, item.key)
    assert len(got) == 32
    benchmark.extra_info["videos_per_min_warm"] = 60.0 / benchmark.stats.stats.mean
