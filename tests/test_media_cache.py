"""Crop cache and ``prepare``: round trips, failures, kill-and-resume, parallel and Ray determinism."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from dfbench.media.cache import CropCache, cache_key, open_run_cache
from dfbench.media.croppers import DlibAlignCropper
from dfbench.media.mouth import MouthCropper
from dfbench.media.prepare import crop_video, input_for_cropper, prepare
from dfbench.media.synthetic import face_frames, noise_frames, write_video
from dfbench.media.types import FaceCrops
from dfbench.specs import InputSpec, VideoItem

SPEC = input_for_cropper("dlib_align", size=64, frames_per_video=4)


def _make_items(root: Path, n: int, n_frames: int = 12) -> list[VideoItem]:
    items = []
    for i in range(n):
        label = i % 2
        path = write_video(root / f"v{i}.mp4", face_frames(n_frames, 320, 320, face_height=300, seed=i))
        items.append(VideoItem(key=f"tiny/{label}/m{label}/v{i}", label=label, method=f"m{label}", path=str(path)))
    return items


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    items = _make_items(root, 4)
    (root / "empty.mp4").write_bytes(b"")
    (root / "text.mp4").write_text("not a video")
    items += [
        VideoItem(key="tiny/0/m0/empty", label=0, method="m0", path=str(root / "empty.mp4")),
        VideoItem(key="tiny/1/m1/text", label=1, method="m1", path=str(root / "text.mp4")),
        VideoItem(key="tiny/0/m0/noise", label=0, method="m0",
                  path=str(write_video(root / "noise.mp4", noise_frames(8, 160, 120)))),
    ]
    return items


def _table(cache_dir: Path) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The finalized table rows plus the pixels of every crop they point at."""
    cache = CropCache(cache_dir)
    rows = cache.load_dataset().to_list()
    pixels = {r["crop"]: cache._read_png(r["crop"]) for r in rows if r["crop"]}
    return rows, pixels


def _assert_same_cache(a: Path, b: Path) -> None:
    rows_a, px_a = _table(a)
    rows_b, px_b = _table(b)
    assert rows_a == rows_b
    assert px_a.keys() == px_b.keys()
    for k in px_a:
        np.testing.assert_array_equal(px_a[k], px_b[k])
    assert (a / "failures.json").read_text() == (b / "failures.json").read_text()


def test_put_get_round_trip_and_failures(tmp_path):
    key = cache_key("tiny", "1", {"cropper": "x", "a": 1}, {"rule": "evenly_spaced", "frames": 3}, 8)
    cache = CropCache(tmp_path / "c", key)
    rgb = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    crops = FaceCrops(crops=[rgb, None, rgb[::-1].copy()],
                      landmarks=[np.array([[1.23456, 2.0]], np.float32), None, None],
                      boxes=[(1.0, 2.0, 3.0, 4.0), None, (0.0, 0.0, 1.0, 1.0)], n_faces=[1, 0, 2],
                      others=[[], [], [rgb]])
    assert not cache.has("tiny/0/a/v") and cache.get("tiny/0/a/v") is None
    cache.put("tiny/0/a/v", crops, label=0, method="a", frame_indices=[0, 5, 9])
    got = cache.get("tiny/0/a/v")
    assert got.frame_indices == [0, 5, 9] and got.n_faces == [1, 0, 2]
    np.testing.assert_array_equal(got.crops[0], rgb)
    assert got.crops[1] is None and got.boxes[1] is None
    np.testing.assert_array_equal(got.others[2][0], rgb)
    np.testing.assert_allclose(got.landmarks[0], [[1.235, 2.0]])  # stored to 1/1000 px
    gray = FaceCrops(crops=[rgb[..., :1].copy()], landmarks=[None], boxes=[None], n_faces=[1])
    cache.put("tiny/1/b/w", gray, label=1, method="b", frame_indices=[3])
    assert cache.get("tiny/1/b/w").crops[0].shape == (8, 8, 1)
    cache.put_failure("tiny/1/b/z", "no frames", label=1, method="b")
    assert cache.has("tiny/1/b/z") and cache.get("tiny/1/b/z") is None
    assert cache.failure("tiny/1/b/z") == "no frames"
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporaries

    cache.finalize()
    ds = cache.load_dataset()
    assert ds.column_names == ["key", "label", "method", "frame_index", "face", "crop", "landmarks", "box", "n_faces"]
    assert ds["key"] == ["tiny/0/a/v"] * 4 + ["tiny/1/b/w"]  # sorted by key; the 2nd face is a row
    assert ds["face"] == [0, 0, 0, 1, 0]
    assert ds["crop"][1] is None
    filtered = ds.filter(lambda r: r["label"] == 1)
    assert filtered["frame_index"] == [3]
    assert '"tiny/1/b/z": "no frames"' in (cache.root / "failures.json").read_text()


def test_cache_key_separates_protocols(tmp_path):
    base = dict(dataset="tiny", version="1", recipe={"cropper": "dlib_align", "scale": 1.3},
                plan={"rule": "evenly_spaced", "frames": 32}, size=256)
    a = CropCache.for_run(tmp_path, **base)
    assert CropCache.for_run(tmp_path, **base).root == a.root
    for change in ({"version": "2"}, {"size": 128}, {"plan": {"rule": "evenly_spaced", "frames": 8}},
                   {"recipe": {"cropper": "dlib_align", "scale": 1.25}}):
        assert CropCache.for_run(tmp_path, **{**base, **change}).root != a.root
    assert CropCache.for_run(tmp_path, **{**base, "size": 99}, create=False) is None


def test_prepare_records_failures_and_resumes(videos, tmp_path):
    report = prepare(videos, DlibAlignCropper(), SPEC, tmp_path, progress=False)
    assert report.n_videos == 7 and report.n_processed == 7 and report.n_cached == 0
    assert set(report.failures) == {"tiny/0/m0/empty", "tiny/1/m1/text"}
    assert "zero-byte" in report.failures["tiny/0/m0/empty"]
    assert "not a video or image" in report.failures["tiny/1/m1/text"]
    cache = CropCache(report.cache_dir)
    noise = cache.get("tiny/0/m0/noise")
    assert noise.crops == [None] * 4  # no face is data for the missing-face policy, not a failure
    face = cache.get("tiny/0/m0/v0")
    assert face.frame_indices == [0, 3, 7, 11] and face.n_missing == 0
    assert face.crops[0].shape == (64, 64, 3)
    again = prepare(videos, DlibAlignCropper(), SPEC, tmp_path, progress=False)
    assert again.n_cached == 7 and again.n_processed == 0 and again.failures == report.failures
    # the cache equals what the pipeline computes directly (lossless PNG)
    direct = crop_video(videos[0], DlibAlignCropper(), SPEC)
    for a, b in zip(direct.crops, face.crops, strict=True):
        np.testing.assert_array_equal(a, b)


def test_mouth_cropper_prepares_clips_and_reports_too_short(tmp_path):
    items = _make_items(tmp_path / "v", 1, n_frames=12)
    short = VideoItem(key="tiny/0/m0/short", label=0, method="m0",
                      path=str(write_video(tmp_path / "short.mp4", face_frames(4, 320, 320, face_height=300))))
    spec = input_for_cropper("mouth", clip_length=5)
    report = prepare(items + [short], MouthCropper(), spec, tmp_path / "c", progress=False)
    assert "too short" in report.failures["tiny/0/m0/short"]
    got = CropCache(report.cache_dir).get(items[0].key)
    assert got.frame_indices == list(range(10)) and got.crops[0].shape == (88, 88, 1)


def test_parallel_workers_give_the_same_cache(videos, tmp_path):
    one = prepare(videos, DlibAlignCropper(), SPEC, tmp_path / "one", progress=False, workers=1)
    two = prepare(videos, DlibAlignCropper(), SPEC, tmp_path / "two", progress=False, workers=2)
    _assert_same_cache(one.cache_dir, two.cache_dir)


_KILLABLE = textwrap.dedent(
    """
    import sys, time
    from dfbench.media.croppers import DlibAlignCropper
    from dfbench.media.prepare import input_for_cropper, prepare
    from dfbench.specs import VideoItem
    import json

    class Slow(DlibAlignCropper):  # same name and recipe, slower: gives the test time to kill it
        def __call__(self, frames, size):
            time.sleep(0.4)
            return super().__call__(frames, size)

    items = [VideoItem(**d) for d in json.loads(sys.argv[1])]
    spec = input_for_cropper("dlib_align", size=64, frames_per_video=4)
    prepare(items, Slow(), spec, sys.argv[2], progress=False)
    """
)


def test_killed_prepare_resumes_to_the_same_cache(tmp_path):
    import json

    items = _make_items(tmp_path / "v", 8)
    ref = prepare(items, DlibAlignCropper(), SPEC, tmp_path / "ref", progress=False)
    payload = json.dumps([{"key": i.key, "label": i.label, "method": i.method, "path": i.path} for i in items])
    cache_root = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", _KILLABLE, payload, str(cache_root)],
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, start_new_session=True)
    shards = ref.cache_dir.relative_to(tmp_path / "ref")
    deadline = time.monotonic() + 120
    n_done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        n_done = len(list((cache_root / shards / "videos").glob("*/*.json")))
        if n_done >= 3:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 3 <= n_done < len(items), "the run should have been killed mid-way"
    assert not (cache_root / shards / "dataset").exists()
    resumed = prepare(items, DlibAlignCropper(), SPEC, cache_root, progress=False)
    assert resumed.cache_dir == cache_root / shards
    assert resumed.n_cached >= 3 and resumed.n_cached + resumed.n_processed == len(items)
    _assert_same_cache(ref.cache_dir, resumed.cache_dir)


def test_run_cache_adapter_hits_prepared_crops(videos, tmp_path):
    from dfbench.specs import DatasetSpec

    cropper = DlibAlignCropper()
    report = prepare(videos, cropper, SPEC, tmp_path, dataset="tiny", version="3", progress=False)
    ds = DatasetSpec(name="tiny", index=lambda *a: [], version="3")
    run_cache = open_run_cache(tmp_path, dataset=ds, cropper_name="dlib_align", recipe=cropper.recipe(),
                               input_spec=SPEC)
    assert run_cache.root == report.cache_dir
    indices, crops = run_cache.get(videos[1].key)
    assert indices == [0, 3, 7, 11] and crops.crops[0].shape == (64, 64, 3)
    assert run_cache.get("tiny/0/m0/unknown") is None
    run_cache.put("tiny/1/m1/new", [0, 2], FaceCrops(crops=[crops.crops[0], None], landmarks=[None, None],
                                                      boxes=[None, None], n_faces=[1, 0]))
    run_cache.flush()
    assert "tiny/1/m1/new" in CropCache(report.cache_dir).load_dataset()["key"]


def test_prepared_entry_of_a_file_changed_afterwards_is_a_miss(tmp_path):
    """`dfbench prepare` signs each shard with the video's file signature: a file replaced after
    preparing is re-cropped even when its mtime is older than the shard (a copy that keeps
    timestamps, `cp -p`, `rsync -t`), which an "entry newer than the file" check would trust."""
    from dfbench.run_identity import file_signature

    (item,) = _make_items(tmp_path / "v", 1)
    report = prepare([item], DlibAlignCropper(), SPEC, tmp_path / "cache", progress=False)
    cache = CropCache(report.cache_dir)
    assert cache.get(item.key, source=file_signature(item)) is not None  # unchanged: a hit
    st = os.stat(item.path)
    write_video(item.path, face_frames(16, 320, 320, face_height=300, seed=99))  # another video
    os.utime(item.path, ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))  # dated before the shard
    assert CropCache(report.cache_dir).get(item.key, source=file_signature(item)) is None


def test_unknown_executor_is_rejected(videos, tmp_path):
    with pytest.raises(ValueError, match="executor"):
        prepare(videos, DlibAlignCropper(), SPEC, tmp_path, executor="dask", progress=False)


@pytest.mark.acceptance
def test_ray_executor_gives_the_same_cache(videos, tmp_path):
    pytest.importorskip("ray")
    local = prepare(videos, DlibAlignCropper(), SPEC, tmp_path / "local", progress=False)
    ray_run = prepare(videos, DlibAlignCropper(), SPEC, tmp_path / "ray", progress=False, workers=2,
                      executor="ray")
    assert ray_run.n_processed == len(videos) and ray_run.failures == local.failures
    _assert_same_cache(local.cache_dir, ray_run.cache_dir)


def test_input_for_cropper_defaults():
    mouth = input_for_cropper("mouth")
    assert (mouth.unit, mouth.size, mouth.colour, mouth.clip_length) == ("clip", 88, "gray", 25)
    assert input_for_cropper("laanet").size == 384
    assert input_for_cropper("dlib_align", size=128).size == 128
    assert isinstance(input_for_cropper("other"), InputSpec)
