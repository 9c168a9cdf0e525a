"""The persistent face-worker pool: ``prepare`` calls reuse the same warm worker processes."""

from __future__ import annotations

import os

from dfbench.media import pool
from dfbench.media.croppers import DlibAlignCropper
from dfbench.media.prepare import input_for_cropper, prepare
from dfbench.specs import VideoItem
from dfbench.testing import make_face_frames, write_video

SPEC = input_for_cropper("dlib_align", frames_per_video=4)


def _videos(tmp_path, n):
    out = []
    for i in range(n):
        path = write_video(tmp_path / f"v{i}.avi", make_face_frames(6, seed=i))
        out.append(VideoItem(key=f"pooltest/0/real/v{i}", label=0, method="real", path=str(path)))
    return out


def test_prepare_calls_reuse_one_warm_pool(tmp_path):
    pool.shutdown()
    videos = _videos(tmp_path, 3)
    one = prepare(videos[:2], DlibAlignCropper(), SPEC, tmp_path / "c1", workers=2, progress=False)
    first = pool._pool  # created by prepare itself, and still alive after it returned
    assert first is not None and pool.shared_pool(2) is first
    pids = pool.worker_pids()
    two = prepare(videos, DlibAlignCropper(), SPEC, tmp_path / "c2", workers=2, progress=False)
    assert pool.shared_pool(2) is first and pool.worker_pids() == pids  # no new processes
    assert os.getpid() not in pids and len(pids) == 2
    assert one.n_failed == two.n_failed == 0 and two.n_processed == 3 and two.n_frames == 12
    pool.shutdown()
    assert pool.worker_pids() == set()


def test_a_different_worker_count_replaces_the_pool():
    pool.shutdown()
    a = pool.shared_pool(1)
    b = pool.shared_pool(2)
    assert a is not b and pool.shared_pool(2) is b
    pool.shutdown()


def _dlib_boxes(gray, upsample):
    from dfbench.media.faces import _get_model

    return _get_model("hog").run(gray, upsample, 0.0)[0]


def test_small_faces_in_hd_video_are_found_like_deepfakebench():
    """A 1280x720 clip with a ~55-px face: DeepfakeBench's settings (dlib HOG, full frame,
    upsample 1) find it in every frame; the fast path (upsample 0 at 640 px, then full size) did
    not, the small-face retry does."""
    from dfbench.media.faces import FaceAnalyzer, to_gray
    from dfbench.media.synthetic import face_frames

    grays = [to_gray(f) for f in face_frames(6, 1280, 720, face_height=150, motion=0.3, seed=1)]
    reference = [len(_dlib_boxes(g, 1)) > 0 for g in grays]
    assert all(reference)
    widths = [_dlib_boxes(g, 1)[0].width() for g in grays]
    assert 45 <= min(widths) and max(widths) <= 70
    old = [len(FaceAnalyzer(small_faces=False).detect(g)) > 0 for g in grays]
    new = [FaceAnalyzer().detect(g) for g in grays]
    assert sum(old) < len(grays)  # what the fast path lost
    assert all(len(f) == 1 for f in new)
    for g, f in zip(grays, new, strict=True):
        r = _dlib_boxes(g, 1)[0]
        assert abs(f[0].box[0] - r.left()) <= 2 and abs(f[0].box[1] - r.top()) <= 2
    assert FaceAnalyzer().recipe()["small_faces"] is True


def test_workers_are_single_threaded_whatever_the_parent_uses(monkeypatch):
    pool.shutdown()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # what the CLI sets for the model in the parent
    state = pool.shared_pool(1).submit(pool._worker_state).result(timeout=120)
    assert state["OMP_NUM_THREADS"] == "1" and state["opencv"] == 1
    pool.shutdown()
