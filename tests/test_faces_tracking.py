"""One identity per video: tracks from box IoU + landmark continuity, and the choice policies."""

from __future__ import annotations

import numpy as np
import pytest

from dfbench.faces import tracking
from dfbench.faces.retinaface import Detection


def face(x, y, s=100.0, score=0.9):
    lms = np.array([[x + 0.3 * s, y + 0.4 * s], [x + 0.7 * s, y + 0.4 * s], [x + 0.5 * s, y + 0.6 * s],
                    [x + 0.35 * s, y + 0.8 * s], [x + 0.65 * s, y + 0.8 * s]], np.float32)
    return Detection((x, y, x + s, y + s), score, lms)


def scene():
    """A big subject drifting right (absent in frame 3) and a smaller bystander seen in every frame;
    the detector lists them in varying order, so per-frame "largest"/"first" choices would still work
    but identity must survive the gap and the reordering."""
    frames = []
    for t in range(6):
        subject = face(100 + 8 * t, 80, 140)
        bystander = face(400 - 3 * t, 90, 90)
        dets = [bystander] if t == 3 else ([subject, bystander] if t % 2 else [bystander, subject])
        frames.append(dets)
    return frames


def test_tracks_survive_gaps_and_reordering():
    tracks = tracking.build_tracks(scene())
    assert len(tracks) == 2
    assert sorted(len(t.frames) for t in tracks) == [5, 6]


def test_policies_pick_the_recorded_identity():
    dets = scene()
    largest = tracking.one_identity(dets, "largest")
    assert [len(d) for d in largest] == [1, 1, 1, 0, 1, 1] and largest[0][0].box[2] - largest[0][0].box[0] == 140
    frequent = tracking.one_identity(dets, "most_frequent")
    assert all(len(d) == 1 and d[0].box[2] - d[0].box[0] == 90 for d in frequent)
    masks = [np.zeros((300, 600), np.uint8) for _ in dets]
    for m in masks:
        m[90:180, 380:490] = 255  # the manipulated face is the bystander's (as DFD's masks would show)
    by_mask = tracking.one_identity(dets, "mask", masks=masks)
    assert all(d[0].box[2] - d[0].box[0] == 90 for d in by_mask)
    with pytest.raises(ValueError, match="masks"):
        tracking.one_identity(dets, "mask")


def test_recipe_cropper_records_and_applies_identity(monkeypatch):
    from dfbench.media.recipes import SBIOfficialCropper

    c = SBIOfficialCropper(face_detector="mtcnn", identity="most_frequent")
    monkeypatch.setattr(c, "detect", lambda frames: scene())
    out = c(np.zeros((6, 300, 600, 3), np.uint8), 64)
    assert all(b is not None and b[2] - b[0] == 90 for b in out.boxes)
    assert out.n_faces == [2, 2, 2, 1, 2, 2] and all(o == [] for o in out.others)
    assert c.recipe()["identity"] == "most_frequent"
    with pytest.raises(ValueError, match="mask"):
        SBIOfficialCropper(identity="mask")
