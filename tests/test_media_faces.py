"""Face detection, landmarks, croppers, the missing-face policy and the cropper plugin."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from dfbench.media.croppers import (
    ARCFACE_112,
    DlibAlignCropper,
    LAANetCropper,
    PrecroppedCropper,
    build_cropper,
    similarity_transform,
)
from dfbench.media.faces import Face, FaceAnalyzer, extend_forehead, select_faces, to_gray
from dfbench.media.mouth import MouthCropper, interpolate_missing, smooth_landmarks
from dfbench.media.policy import apply_missing_policy
from dfbench.media.synthetic import astronaut_head, face_frames, noise_frames
from dfbench.media.types import FaceCrops


@pytest.fixture(scope="module")
def clip():
    return face_frames(12, 640, 360, seed=3)


@pytest.fixture(scope="module")
def analyzer():
    return FaceAnalyzer()


def test_detects_the_astronaut_where_it_was_placed(analyzer):
    frame = face_frames(1, 640, 360, motion=0.0)[0]
    faces = analyzer.detect(to_gray(frame))
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box
    # the head (288x255 px) is centred in the frame; the face box lies in its upper-middle part
    assert 250 < (x0 + x1) / 2 < 390 and 60 < (y0 + y1) / 2 < 220
    assert 70 < x1 - x0 < 160


def test_no_face_in_noise(analyzer):
    assert analyzer.detect(to_gray(noise_frames(1, 320, 240)[0])) == []


def test_downscaled_detection_maps_boxes_back(analyzer):
    big = face_frames(1, 1280, 720, motion=0.0)[0]
    small_box = analyzer.detect(to_gray(big))[0].box  # long side 1280 > 640: detected at half size
    full_box = FaceAnalyzer(max_side=None).detect(to_gray(big))[0].box
    w = full_box[2] - full_box[0]
    # same face: centres agree; sizes differ only by HOG's pyramid-scale quantisation
    assert abs((small_box[0] + small_box[2]) - (full_box[0] + full_box[2])) / 2 < 0.1 * w
    assert abs((small_box[1] + small_box[3]) - (full_box[1] + full_box[3])) / 2 < 0.1 * w
    assert 0.8 < (small_box[2] - small_box[0]) / w < 1.25


def test_landmarks_68_and_forehead_extension(analyzer):
    frame = face_frames(1, 640, 360, motion=0.0)[0]
    gray = to_gray(frame)
    face = analyzer.detect(gray)[0]
    lms = analyzer.landmarks(gray, face)
    assert lms.shape == (68, 2) and lms.dtype == np.float32
    x0, y0, x1, y1 = face.box
    inside = (lms[:, 0] > x0 - 20) & (lms[:, 0] < x1 + 20) & (lms[:, 1] > y0 - 20) & (lms[:, 1] < y1 + 20)
    assert inside.all()
    assert lms[36:48, 1].mean() < lms[30, 1] < lms[48:68, 1].mean()  # eyes above nose above mouth
    lms81 = extend_forehead(lms)
    assert lms81.shape == (81, 2)
    np.testing.assert_array_equal(lms81[:68], lms)
    forehead = lms81[68:]
    assert (forehead[:, 1].min() < lms[17:27, 1].min())  # rises above the brows
    assert np.all(np.diff(forehead[:, 0]) > 0)  # ordered left to right (a contour)
    assert analyzer.landmarks81(gray, face).shape == (81, 2)


def test_missing_81_point_model_is_an_actionable_error(tmp_path):
    from dfbench.media.faces import LandmarkModelError

    with pytest.raises(LandmarkModelError, match="DFBENCH_DLIB_81"):
        FaceAnalyzer(predictor81=tmp_path / "missing.dat")


def test_multi_face_policies():
    small = Face((500, 10, 560, 70), 2.0)   # most confident, far from centre
    big = Face((0, 0, 200, 200), 0.5)       # largest
    mid = Face((280, 160, 360, 240), 1.0)   # closest to the centre of a 640x400 frame
    faces = [small, big, mid]
    assert select_faces(faces, "largest", (640, 400)) == [big]
    assert select_faces(faces, "first", (640, 400)) == [small]
    assert select_faces(faces, "center", (640, 400)) == [mid]
    assert select_faces(faces, "all", (640, 400)) == [big, mid, small]
    assert select_faces([], "largest", (640, 400)) == []
    with pytest.raises(ValueError, match="multi-face policy"):
        select_faces(faces, "biggest", (640, 400))


def test_two_faces_in_one_frame_all_policy():
    import cv2

    head = astronaut_head()
    frame = np.full((360, 800, 3), 90, np.uint8)
    frame[40:40 + 300, 20:20 + 265] = cv2.resize(head, (265, 300))
    frame[120:120 + 230, 500:500 + 203] = cv2.resize(head, (203, 230))
    out = DlibAlignCropper(multi_face="all", upsample=0)(frame, 64)
    assert out.n_faces == [2] and len(out.others[0]) == 1
    assert out.boxes[0][0] < 300  # the primary face is the bigger, left one
    largest = DlibAlignCropper()(frame, 64)
    np.testing.assert_array_equal(largest.crops[0], out.crops[0])


def test_similarity_transform_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, size=(5, 2))
    ang, s, t = 0.3, 1.7, np.array([12.0, -5.0])
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    dst = s * src @ rot.T + t
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], s * rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)


def test_dlib_align_crop_shape_and_alignment(clip):
    cropper = DlibAlignCropper()
    out = cropper(clip[:4], 256)
    assert len(out) == 4 and out.n_missing == 0
    for crop, lms in zip(out.crops, out.landmarks, strict=True):
        assert crop.shape == (256, 256, 3) and crop.dtype == np.uint8
        assert lms.shape == (81, 2)
        # the aligned eye points land near the ArcFace template scaled by 1/1.3 about the centre
        target = (ARCFACE_112 * 256 / 112 - 128) / 1.3 + 128
        assert np.abs(lms[[37, 44]] - target[:2]).max() < 12
    assert out.boxes[0] is not None and out.n_faces == [1, 1, 1, 1]


def test_laanet_crop_shape_and_landmarks(clip):
    out = LAANetCropper()(clip[:3], 384)
    assert all(c.shape == (384, 384, 3) for c in out.crops)
    lms = out.landmarks[0]
    assert lms.shape == (81, 2)
    assert (lms[:68] > 0).all() and (lms[:68] < 384).all()  # the enlarged box contains the face


def test_mouth_crops_are_gray_88_and_smoothed():
    # 12 frames at 25 fps is half a second: a talking head moves a few pixels, not 100
    clip = face_frames(12, 640, 360, motion=0.05, seed=3)
    cropper = MouthCropper()
    out = cropper(clip, 88)
    assert len(out) == len(clip) and out.n_missing == 0
    assert all(c.shape == (88, 88, 1) and c.dtype == np.uint8 for c in out.crops)
    # the mouth is centred: mouth landmarks sit around the crop centre
    centre = out.landmarks[0][48:68].mean(0)
    assert np.abs(centre - 44).max() < 6
    assert cropper.temporal and build_cropper("mouth").recipe()["window"] == 12


def test_smoothing_reduces_jitter_and_interpolation_fills_gaps():
    rng = np.random.default_rng(0)
    base = np.zeros((40, 68, 2))
    noisy = base + rng.normal(0, 2.0, size=base.shape)
    smooth = smooth_landmarks(noisy, 12)
    assert smooth.shape == noisy.shape
    assert np.abs(np.diff(smooth, axis=0)).mean() < 0.25 * np.abs(np.diff(noisy, axis=0)).mean()
    # frame i uses frames i..i+11; the tail reuses the last full window
    np.testing.assert_allclose(smooth[0], noisy[:12].mean(0))
    np.testing.assert_allclose(smooth[-1], noisy[-12:].mean(0))
    a, b = np.zeros((68, 2)), np.full((68, 2), 10.0)
    filled = interpolate_missing([None, a, None, None, None, b, None])
    np.testing.assert_allclose(filled[3], 5.0)
    np.testing.assert_allclose(filled[0], 0.0)
    np.testing.assert_allclose(filled[6], 10.0)
    assert interpolate_missing([None, None]) is None


def test_mouth_cropper_interpolates_a_faceless_frame(clip):
    frames = clip[:6].copy()
    frames[2] = 128  # no face in frame 2
    out = MouthCropper()(frames, 88)
    assert out.n_missing == 0 and out.n_faces[2] == 0 and out.n_faces[1] == 1
    assert out.boxes[2] is None


def test_no_face_gives_none_crops():
    noise = noise_frames(3, 320, 240)
    for cropper in (DlibAlignCropper(), LAANetCropper(), MouthCropper()):
        out = cropper(noise, 64)
        assert out.crops == [None] * 3 and out.n_missing == 3


def test_precropped_resizes_without_detection():
    frames = noise_frames(2, 100, 120)
    out = PrecroppedCropper()(frames, 64)
    assert [c.shape for c in out.crops] == [(64, 64, 3)] * 2
    gray = PrecroppedCropper(colour="gray")(frames, 32)
    assert gray.crops[0].shape == (32, 32, 1)


def test_croppers_pickle_without_models_and_recipes_differ(clip):
    c = DlibAlignCropper()
    c(clip[:1], 32)  # loads the dlib models
    c2 = pickle.loads(pickle.dumps(c))
    assert c2.recipe() == c.recipe()
    np.testing.assert_array_equal(c2(clip[:1], 32).crops[0], c(clip[:1], 32).crops[0])
    assert DlibAlignCropper(scale=1.25).recipe_hash() != c.recipe_hash()
    assert DlibAlignCropper(multi_face="center").recipe_hash() != c.recipe_hash()
    assert len({build_cropper(n).recipe_hash() for n in ("dlib_align", "laanet", "mouth", "precropped")}) == 4


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="uint8 RGB"):
        DlibAlignCropper()(np.zeros((2, 10, 10), np.float32), 32)
    with pytest.raises(ValueError, match="multi_face"):
        DlibAlignCropper(multi_face="nope")


# -- missing-face policy ---------------------------------------------------------------------
def _crops(mask):
    return FaceCrops(crops=[np.zeros((2, 2, 3), np.uint8) if m else None for m in mask])


def test_missing_face_policies():
    fc = _crops([1, 0, 1, 1])
    skip = apply_missing_policy(fc, "skip")
    assert (skip.score, skip.neutral, skip.failed) == ([0, 2, 3], [], None)
    half = apply_missing_policy(fc, "score_half")
    assert (half.score, half.neutral, half.failed) == ([0, 2, 3], [1], None)
    fail = apply_missing_policy(fc, "fail")
    assert fail.failed and "1 of 4 frames" in fail.failed and fail.score == []
    none = _crops([0, 0])
    assert apply_missing_policy(none, "skip").failed == "no face in any of the 2 sampled frames"
    assert apply_missing_policy(none, "score_half").neutral == [0, 1]
    assert apply_missing_policy(none, "score_half").failed is None
    with pytest.raises(ValueError):
        apply_missing_policy(fc, "ignore")


def test_missing_face_policy_on_clips():
    mask = [True] * 5 + [True, False, True, True, True] + [True] * 3  # 2 clips of 5 + 3 leftover frames
    d = apply_missing_policy(mask, "score_half", clip_length=5)
    assert (d.n_units, d.score, d.neutral) == (2, [0], [1])
    assert apply_missing_policy([True] * 3, "skip", clip_length=5).failed.endswith("(video too short)")


# -- plugin -------------------------------------------------------------------------------------
def test_plugin_registers_the_four_croppers():
    from dfbench.media import plugin
    from dfbench.plugins import get_plugin_manager
    from dfbench.registry import Registry
    from dfbench.specs import load_object

    reg = Registry(get_plugin_manager(load_entrypoints=False, extra_plugins=[plugin]))
    assert set(reg.croppers) == {"dlib_align", "laanet", "mouth", "precropped", "laanet_official", "sbi_official",
                                 "recce_official", "lipforensics_official", "dfb"}
    assert reg.cropper("mouth").temporal and not reg.cropper("laanet").temporal
    assert reg.cropper("lipforensics_official").temporal and not reg.cropper("sbi_official").temporal
    for name, spec in reg.croppers.items():
        obj = load_object(spec.factory)(**spec.defaults)
        assert obj.recipe()["cropper"] == name
