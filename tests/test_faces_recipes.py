"""Official crop recipes: given a fixed frame and fixed detector outputs, each crop equals an
independent restatement of the official arithmetic (written here from the official scripts'
steps, with their own libraries: float boxes, skimage transforms, HRNet-style 3-point affine)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dfbench.faces.retinaface import Detection
from dfbench.media import recipes
from dfbench.media import recipes_landmarks as rl


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    from skimage.data import astronaut

    return np.ascontiguousarray(astronaut()[:, 20:500])  # 512 x 480: not square


FIVE = np.array([[205.0, 101.7], [246.8, 103.7], [224.7, 129.0], [201.7, 139.2], [245.3, 141.9]], np.float32)


def det(box, score=0.99, lms=FIVE) -> Detection:
    return Detection(tuple(float(v) for v in box), score, lms)


def offline(cls, **kw):
    """A recipe cropper forced onto the offline path (no weights needed to crop fixed detections)."""
    return cls(face_detector="mtcnn", **kw)


def test_laanet_official_matches_the_restated_script(frame):
    dets = [det((160.37, 40.81, 290.22, 205.66), 0.95), det((10.5, 10.5, 30.5, 30.5), 0.99),
            det((150.0, 30.0, 300.0, 220.0), 0.97)]
    got = offline(recipes.LAANetOfficialCropper).crop_detected(frame[None], [dets], 384)
    # restatement: a face replaces the pick only if larger and more confident -> the third box
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = 150.0, 30.0, 300.0, 220.0
    fw, fh = x1 - x0, y1 - y0
    c = [max(0, x0 - int(fw * 0.25)), min(w, x1 + int(fw * 0.25)), max(0, y0 - int(fh * 0.25)),
         min(h, y1 + int(fh * 0.25))]
    face = cv2.resize(frame[int(c[2]):int(c[3]), int(c[0]):int(c[1])], (256, 256), interpolation=cv2.INTER_LINEAR)
    img = face[5:251, 5:251]
    # HRNet-style get_affine_transform with LAA-Net's (n - 1) variant, rot 0, via three points
    centre = np.array([(246 - 1) / 2, (246 - 1) / 2], np.float32)
    src = np.float32([centre, centre + [0, (246 - 1) * -0.5], [0, 0]])
    dst = np.float32([[383 / 2, 383 / 2], [383 / 2, 383 / 2 - 383 / 2], [0, 0]])
    src[2] = src[1] + [-(src[0] - src[1])[1], (src[0] - src[1])[0]]
    dst[2] = dst[1] + [-(dst[0] - dst[1])[1], (dst[0] - dst[1])[0]]
    want = cv2.warpAffine(img, cv2.getAffineTransform(src, dst), (384, 384), flags=cv2.INTER_LINEAR)
    assert got.boxes[0] == (150.0, 30.0, 300.0, 220.0)
    assert np.abs(got.crops[0].astype(int) - want.astype(int)).max() <= 1
    assert got.landmarks[0].shape == (5, 2)


def test_sbi_official_matches_the_restated_script_with_extra_faces(frame):
    big, half, small = (150.3, 30.7, 300.9, 220.2), (20.0, 300.0, 130.0, 440.0), (400.0, 10.0, 420.0, 30.0)
    got = offline(recipes.SBIOfficialCropper).crop_detected(frame[None], [[det(small), det(half), det(big)]], 380)
    h, w = frame.shape[:2]

    def official(b):
        x0, y0, x1, y1 = b
        wm, hm = (x1 - x0) / 4 * 0.5, (y1 - y0) / 4 * 0.5
        crop = frame[max(0, int(y0 - hm)):min(h, int(y1 + hm) + 1), max(0, int(x0 - wm)):min(w, int(x1 + wm) + 1)]
        return cv2.resize(crop, dsize=(380, 380))

    assert np.array_equal(got.crops[0], official(big))
    assert len(got.others[0]) == 1 and np.array_equal(got.others[0][0], official(half))  # area >= half kept
    assert got.n_faces == [3]


def test_recce_official_box_is_the_stated_assumption(frame):
    got = offline(recipes.RECCEOfficialCropper).crop_detected(frame[None], [[det((150.0, 30.0, 300.0, 220.0))]], 299)
    cx, cy, hw, hh = 225.0, 125.0, 150 * 1.3 / 2, 190 * 1.3 / 2
    want = cv2.resize(frame[int(cy - hh):int(cy + hh), int(cx - hw):int(cx + hw)], (299, 299))
    assert np.array_equal(got.crops[0], want)


def test_dfb_alignment_matches_skimage_and_redetects_on_the_crop(frame):
    from skimage import transform as trans

    from dfbench.media.faces import predictor68_path

    pytest.importorskip("dlib")
    import dlib

    sp = dlib.shape_predictor(str(predictor68_path()))
    rect = dlib.get_frontal_face_detector()(frame, 1)[0]
    lms = np.array([(p.x, p.y) for p in sp(frame, rect).parts()], np.float32)
    d = Detection((rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1), 1.0, lms)
    cropper = rl.DFBCropper()
    got = cropper.crop_detected(frame[None], [[d]], 256)
    # restatement: the script's template steps and skimage's SimilarityTransform
    dst = np.array([[30.2946, 51.6963], [65.5318, 51.5014], [48.0252, 71.7366], [33.5493, 92.3655],
                    [62.7299, 92.2041]], np.float32)
    dst[:, 0] += 8.0
    dst = dst * 256 / 112
    margin = 256 * 0.3 / 2.0
    dst = (dst + margin) * (256 / (256 + 2 * margin))
    tform = trans.SimilarityTransform()
    tform.estimate(lms[[37, 44, 30, 49, 55]], dst)
    want = cv2.warpAffine(frame, tform.params[:2], (256, 256))
    _, m = rl.dfb_align(frame, lms[[37, 44, 30, 49, 55]])
    corners = np.array([[0, 0, 1], [255, 0, 1], [0, 255, 1], [255, 255, 1]], np.float64)
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))[:2]
    inv_want = np.linalg.inv(tform.params)[:2]
    assert np.abs(corners @ inv.T - corners @ inv_want.T).max() < 0.01  # the same crop square, << 1 px
    diff = np.abs(got.crops[0].astype(int) - want.astype(int))
    assert diff.max() <= 3 and diff.mean() < 0.05  # interpolation of a 1e-5 different matrix
    # the second detection ran on the crop: landmarks come from there (crop coordinates)
    again = dlib.get_frontal_face_detector()(want, 1)[0]
    want_lms = np.array([(p.x, p.y) for p in sp(want, again).parts()], np.float32)
    assert np.abs(got.landmarks[0] - want_lms).max() <= 1
    rec = cropper.recipe()
    assert rec["second_detection"] and rec["fallback"] is True and rec["landmarks"] == "dlib68"
    assert len(rec["landmark_weights_sha256"]) == 64


def test_dfb_second_detection_miss_stops_the_video_like_the_script(frame):
    blank = np.zeros_like(frame)
    d = Detection((0.0, 0.0, 100.0, 100.0), 1.0, np.tile([[30.0, 30.0]], (68, 1)).astype(np.float32) +
                  np.arange(68)[:, None].astype(np.float32))
    got = rl.DFBCropper().crop_detected(np.stack([blank, frame]), [[d], [d]], 256)
    assert got.crops == [None, None]
    got = rl.DFBCropper(redetect_miss="drop_frame").crop_detected(np.stack([blank, blank]), [[d], []], 256)
    assert got.crops == [None, None] and got.n_faces == [1, 0]


def test_lipforensics_official_matches_skimage_warp_and_cut_patch(frame, tmp_path, monkeypatch):
    from skimage import transform as tf

    from dfbench.media.faces import FaceAnalyzer, to_gray

    fa = FaceAnalyzer()
    gray = to_gray(frame)
    face = fa.detect(gray)[0]
    lms = fa.landmarks(gray, face)[:68].astype(np.float64)
    mean = lms.copy() * 0.9 + 20  # a user mean face file ([68, 2])
    np.save(tmp_path / "20words_mean_face.npy", mean)
    frames = np.stack([frame] * 3)
    cropper = rl.LipForensicsOfficialCropper(face_detector="mtcnn", mean_face=str(tmp_path / "20words_mean_face.npy"))
    monkeypatch.setattr(cropper, "landmarks68", lambda f, d: lms.astype(np.float32))
    got = cropper.crop_detected(frames, [[det(face.box)]] * 3, 88)
    stable = [33, 36, 39, 42, 45]
    tform = tf.estimate_transform("similarity", lms[stable], mean[stable])
    warped = (tf.warp(frame, inverse_map=tform.inverse, output_shape=(256, 256)) * 255).astype("uint8")
    mouth = tform(lms)[48:68]
    cx, cy = np.mean(mouth, axis=0)
    patch = warped[int(round(cy) - 48):int(round(cy) + 48), int(round(cx) - 48):int(round(cx) + 48)]
    want = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY)[4:92, 4:92]
    diff = np.abs(got.crops[0][..., 0].astype(int) - want.astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.5  # float bilinear implementations differ by rounding only
    rec = cropper.recipe()
    assert rec["mean_face"] == "lrw_20words" and rec["landmarks"] == "dlib68" and rec["fallback"] is True


def test_auto_detector_falls_back_to_mtcnn_and_says_so(monkeypatch, tmp_path):
    import torch

    from dfbench.errors import WeightsError
    from dfbench.faces.retinaface import RetinaFace

    monkeypatch.delenv("DFBENCH_RETINAFACE_R50", raising=False)
    rec = recipes.SBIOfficialCropper().recipe()
    assert rec["fallback"] is True and rec["face_detector"] == "mtcnn_facenet_pytorch" and "fallback_reason" in rec
    with pytest.raises(WeightsError, match="DFBENCH_RETINAFACE_R50"):
        recipes.SBIOfficialCropper(face_detector="retinaface").recipe()
    monkeypatch.setenv("DFBENCH_RETINAFACE_R50", str(tmp_path / "typo.pth"))
    with pytest.raises(WeightsError, match="typo.pth"):  # a wrong path never falls back silently
        recipes.SBIOfficialCropper().recipe()
    torch.save(RetinaFace("resnet50").state_dict(), tmp_path / "Resnet50_Final.pth")
    monkeypatch.setenv("DFBENCH_RETINAFACE_R50", str(tmp_path / "Resnet50_Final.pth"))
    official = recipes.SBIOfficialCropper()
    rec2 = official.recipe()
    assert rec2["fallback"] is False and rec2["face_detector"] == "retinaface_resnet50"
    assert len(rec2["detector_weights_sha256"]) == 64 and official.recipe_hash() != recipes.recipe_hash(rec)
    assert (rec2["convention"], rec2["max_size"]) == ("retinaface_pytorch", 2048)  # what SBI called
    other = recipes.SBIOfficialCropper(retinaface_convention="pytorch_retinaface").recipe()
    assert (other["convention"], other["max_size"]) == ("pytorch_retinaface", None)
    with pytest.raises(ValueError, match="retinaface_convention"):
        recipes.SBIOfficialCropper(retinaface_convention="bgr")


def test_offline_fallback_to_a_builtin_cropper_keeps_its_output_and_is_recorded(frame, monkeypatch):
    from dfbench.media.croppers import LAANetCropper

    monkeypatch.delenv("DFBENCH_RETINAFACE_R50", raising=False)
    c = recipes.LAANetOfficialCropper(offline_fallback="laanet")
    got, want = c(frame[None], 384), LAANetCropper()(frame[None], 384)
    assert np.array_equal(got.crops[0], want.crops[0])
    rec = c.recipe()
    assert rec["cropper"] == "laanet" and rec["official_recipe"] == "laanet_official" and rec["fallback"] is True
    with pytest.raises(ValueError, match="offline_fallback"):
        recipes.LAANetOfficialCropper(offline_fallback="sbi_official").recipe()


def test_crop_summary_names_the_recipe_models_and_fallback():
    line = recipes.crop_summary({"cropper": "laanet", "official_recipe": "laanet_official", "detector": "dlib_hog",
                                 "landmarks": "dlib68+forehead", "fallback": True, "fallback_reason": "no R50"})
    assert line.startswith("laanet_official (ran laanet) on dlib_hog + dlib68+forehead") and "crops: fallback: no R50" in line
    assert recipes.crop_summary({"cropper": "sbi_official", "face_detector": "retinaface_resnet50",
                                 "fallback": False}) == "sbi_official on retinaface_resnet50"


def test_lipforensics_offline_fallback_is_the_unchanged_mouth_crop(frame, monkeypatch):
    from dfbench.media.mouth import MouthCropper

    monkeypatch.delenv("DFBENCH_RETINAFACE_R50", raising=False)
    frames = np.stack([frame] * 3)
    c = rl.LipForensicsOfficialCropper(offline_fallback="mouth")
    got, want = c(frames, 88), MouthCropper()(frames, 88)
    assert all(np.array_equal(a, b) for a, b in zip(got.crops, want.crops, strict=True))
    assert c.recipe()["official_recipe"] == "lipforensics_official" and c.recipe()["cropper"] == "mouth"


def test_lipforensics_uses_fan_when_its_weights_are_given(frame, tmp_path, monkeypatch):
    import torch

    from dfbench.faces.fan import FAN

    torch.manual_seed(0)
    torch.save(FAN(1).state_dict(), tmp_path / "2DFAN4-11f355bf06.pth.tar")
    monkeypatch.setenv("DFBENCH_FAN", str(tmp_path))
    c = rl.LipForensicsOfficialCropper(face_detector="mtcnn")
    rec = c.recipe()
    assert rec["landmarks"] == "fan2d" and len(rec["landmark_weights_sha256"]) == 64
    lms = c.landmarks68(frame, det((150.0, 30.0, 300.0, 220.0)))
    assert lms.shape == (68, 2) and np.all(np.isfinite(lms))
    # points decode inside the FAN crop square around the box (200 * scale px centred on it)
    assert lms[:, 0].min() >= 150 - 120 and lms[:, 0].max() <= 300 + 120


def test_recipe_settings_are_checked():
    with pytest.raises(ValueError, match="marign"):
        recipes.SBIOfficialCropper(marign=3)
    with pytest.raises(ValueError, match="dlib"):
        rl.DFBCropper(face_detector="mtcnn")
