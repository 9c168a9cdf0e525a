"""Landmark-driven official recipes: DeepfakeBench's dlib alignment (``dfb``) and LipForensics' mouths.

``dfb`` (DeepfakeBench ``preprocessing/preprocess.py``): dlib HOG with one upsample on the RGB
frame, the largest box (dlib's inclusive width x height), five points (37, 44, 30, 49, 55) of the
81-point predictor (68 points as the labelled fallback: same indices), a least-squares similarity
(Umeyama, as skimage's ``SimilarityTransform.estimate``) onto ArcFace's 112-px template shifted
and scaled to ``res`` with margin 1.3, ``warpAffine`` to ``res`` x ``res``. Then DeepfakeBench
detects *again on the aligned crop* (one upsample, the first box) and fits the landmarks there;
when that second detection finds nothing its script raises and abandons the rest of the video
(``redetect_miss="stop_video"``, the default; ``"drop_frame"`` drops only that frame).

``lipforensics_official`` (``preprocessing/crop_mouths.py`` + ``utils.py``): 68 landmarks per
frame from FAN on the RetinaFace box (dlib 68 as the labelled fallback), a 12-frame forward
window, the similarity warp of points 33, 36, 39, 42, 45 onto the LRW mean face
(``20words_mean_face.npy`` from the user by path, ``$DFBENCH_LRW_MEAN_FACE`` or ``hf://``; dfbench's
``dfbench-v1`` face as the labelled fallback) into a 256 canvas with skimage's float bilinear warp
and truncation to uint8, a 96x96 patch with the official clamping (``round`` of the mouth-centre),
gray, centre 88x88.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ..faces.retinaface import Detection
from .croppers import _as_frames, apply_affine, recipe_hash, similarity_transform
from .recipes import RecipeCropper
from .types import FaceCrops

DFB_POINTS = (37, 44, 30, 49, 55)


@lru_cache(maxsize=8)
def _sha(path: str) -> str:
    """sha256 of a model file, once per process (recipes are asked for it repeatedly)."""
    from ..weights import sha256_file

    return sha256_file(path)
# ArcFace's five points on the 96x112 crop; DeepfakeBench shifts x by 8 for a 112x112 template.
_ARCFACE_96x112 = np.array([[30.2946, 51.6963], [65.5318, 51.5014], [48.0252, 71.7366],
                            [33.5493, 92.3655], [62.7299, 92.2041]], np.float32)


def dfb_template(res: int = 256, scale: float = 1.3) -> np.ndarray:
    """DeepfakeBench's destination points (float32 steps, as its script computes them)."""
    dst = _ARCFACE_96x112.copy()
    dst[:, 0] += 8.0
    dst *= np.float32(res / 112)
    margin = res * (scale - 1) / 2.0
    dst += np.float32(margin)
    dst *= np.float32(res / (res + 2 * margin))
    return dst


def dfb_align(frame: np.ndarray, five: np.ndarray, res: int = 256, scale: float = 1.3
              ) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    m = similarity_transform(np.asarray(five, np.float32), dfb_template(res, scale))
    return cv2.warpAffine(frame, m, (res, res)), m


class DFBCropper(RecipeCropper):
    """DeepfakeBench's dlib recipe, second detection included."""

    detects_on_device = False  # dlib on the CPU, as DeepfakeBench's recipe

    name = "dfb"
    rounds_boxes = False

    def __init__(self, *, res: int = 256, scale: float = 1.3, redetect_miss: str = "stop_video",
                 predictor81: str | None = None, face_detector: str = "dlib", **kw: Any):
        if face_detector != "dlib":
            raise ValueError(f"the dfb recipe is DeepfakeBench's dlib pipeline; face_detector must be 'dlib', "
                             f"got {face_detector!r}")
        super().__init__(face_detector="dlib", **kw)
        if redetect_miss not in ("stop_video", "drop_frame"):
            raise ValueError(f"redetect_miss must be 'stop_video' or 'drop_frame', got {redetect_miss!r}")
        self.res, self.scale, self.redetect_miss, self.predictor81 = int(res), float(scale), redetect_miss, predictor81

    @property
    def info(self) -> dict[str, Any]:
        from ..media.faces import predictor81_path

        p81 = predictor81_path(self.predictor81)
        info = {"face_detector": "dlib_hog_rgb_upsample1", "landmarks": "dlib81" if p81 else "dlib68",
                "fallback": p81 is None}
        if p81 is None:
            from .faces import predictor68_path

            info["fallback_reason"] = "no 81-point predictor (DFBENCH_DLIB_81); 68 points give the same 5 indices"
            info["landmark_weights_sha256"] = _sha(str(predictor68_path()))
        else:
            info["landmark_weights_sha256"] = _sha(str(p81))
        return info

    def settings(self) -> dict[str, Any]:
        return {"res": self.res, "scale": self.scale, "points": list(DFB_POINTS), "template": "arcface112+8",
                "second_detection": True, "redetect_miss": self.redetect_miss}

    def _predictor(self):
        from ..media.faces import _get_model, predictor68_path, predictor81_path

        return _get_model("sp", predictor81_path(self.predictor81) or predictor68_path())

    def detect(self, frames):
        from ..media.faces import _get_model

        hog, sp = _get_model("hog"), self._predictor()
        out = []
        for f in frames:
            rects = list(hog(f, 1))
            dets = []
            for r in rects:
                pts = np.array([(p.x, p.y) for p in sp(f, r).parts()], np.float32)
                dets.append(Detection((r.left(), r.top(), r.right() + 1, r.bottom() + 1), 1.0, pts))
            out.append(dets)
        return out

    def crop_detected(self, frames, dets, size):
        import cv2

        hog, sp = None, None
        out = FaceCrops(crops=[], landmarks=[], boxes=[], n_faces=[], others=[])
        stopped = False
        for frame, d in zip(frames, dets, strict=True):
            out.n_faces.append(len(d))
            out.others.append([])
            if stopped or not d:
                out.crops.append(None), out.landmarks.append(None), out.boxes.append(None)
                continue
            # dlib's rectangle area is (right - left + 1) * (bottom - top + 1): our boxes already hold +1
            face = max(d, key=lambda x: (x.box[2] - x.box[0]) * (x.box[3] - x.box[1]))
            crop, _ = dfb_align(frame, face.landmarks[list(DFB_POINTS)], self.res, self.scale)
            if hog is None:
                from ..media.faces import _get_model

                hog, sp = _get_model("hog"), self._predictor()
            again = list(hog(crop, 1))
            if not again:
                if self.redetect_miss == "stop_video":
                    stopped = True
                out.crops.append(None), out.landmarks.append(None), out.boxes.append(None)
                continue
            lms = np.array([(p.x, p.y) for p in sp(crop, again[0]).parts()], np.float32)
            if self.res != size:
                lms = lms * (size / self.res)
                crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)
            out.crops.append(crop)
            out.landmarks.append(lms)
            out.boxes.append(tuple(float(v) for v in face.box))
        return out


# -- LipForensics ------------------------------------------------------------------------------

ENV_MEAN_FACE = "DFBENCH_LRW_MEAN_FACE"


def load_mean_face(source: str | None) -> tuple[np.ndarray, dict[str, Any]]:
    """The LRW mean face ``[68, 2]`` (user file) or dfbench-v1's stable points (fallback)."""
    import os

    from ..errors import WeightsError
    from ..faces.weights import resolve_model_file
    from .mouth import MEAN_FACE_STABLE, STABLE_POINTS

    if source or os.environ.get(ENV_MEAN_FACE):
        mf = resolve_model_file(source, env=ENV_MEAN_FACE, candidates=("20words_mean_face.npy",),
                                what="the LRW mean face", where="the LipForensics repository (preprocessing/)")
        arr = np.load(mf.path, allow_pickle=False)
        if arr.shape != (68, 2):
            raise WeightsError(f"{mf.path} is not a [68, 2] mean face (shape {arr.shape})")
        return arr[list(STABLE_POINTS)].astype(np.float64), {"mean_face": "lrw_20words", "mean_face_sha256": mf.sha256,
                                                             "mean_face_fallback": False}
    return MEAN_FACE_STABLE.copy(), {"mean_face": "dfbench-v1", "mean_face_fallback": True}


def skimage_like_warp(img: np.ndarray, m: np.ndarray, size: int) -> np.ndarray:
    """skimage ``warp`` (bilinear on [0, 1] floats, zero outside) then ``* 255`` truncated to uint8."""
    import cv2

    f = cv2.warpAffine(img.astype(np.float32) / 255.0, m, (size, size), flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return (f * 255).astype(np.uint8)


def cut_patch(img: np.ndarray, mouth: np.ndarray, half: int = 48, threshold: int = 5) -> np.ndarray | None:
    """The official mouth patch: centre clamped into the image; None where the script would raise."""
    cx, cy = np.mean(mouth, axis=0)
    hgt, wid = img.shape[:2]
    if cy - half < 0:
        cy = half
    if cx - half < 0:
        cx = half
    if cy + half > hgt:
        cy = hgt - half
    if cy + half > hgt + threshold:
        return None
    if cx + half > wid:
        cx = wid - half
    if cx + half > wid + threshold:
        return None
    y0, x0 = int(round(cy) - half), int(round(cx) - half)
    return np.copy(img[y0:y0 + 2 * half, x0:x0 + 2 * half])


class LipForensicsOfficialCropper(RecipeCropper):
    name = "lipforensics_official"
    temporal = True
    convention = "pytorch_retinaface"
    max_size = None
    confidence = 0.5
    rounds_boxes = False

    def __init__(self, *, mean_face: str | None = None, fan_weights: str | None = None, window: int = 12,
                 patch: int = 96, **kw: Any):
        super().__init__(**kw)
        self.mean_face_source, self.fan_weights, self.window, self.patch = mean_face, fan_weights, int(window), int(patch)
        self._fan: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_fan"] = None
        return state

    def fan_info(self) -> dict[str, Any]:
        import os

        from ..faces import fan

        if self.fan_weights or os.environ.get(fan.ENV):
            mf = fan.resolve_model_file(self.fan_weights, env=fan.ENV, candidates=fan.FILES, what="FAN", where=fan.WHERE)
            return {"landmarks": "fan2d", "landmark_weights_sha256": mf.sha256, "landmark_fallback": False}
        from .faces import predictor68_path

        return {"landmarks": "dlib68", "landmark_weights_sha256": _sha(str(predictor68_path())),
                "landmark_fallback": True}

    def recipe(self) -> dict[str, Any]:
        r = super().recipe()
        if self.delegate is not None:
            return r
        _, mean_info = load_mean_face(self.mean_face_source)
        lm = self.fan_info()
        r.update(lm, **mean_info)
        r["fallback"] = bool(r.get("fallback") or lm["landmark_fallback"] or mean_info["mean_face_fallback"])
        return r

    def settings(self) -> dict[str, Any]:
        return {"window": self.window, "patch": self.patch, "canvas": 256, "colour": "gray",
                "warp": "skimage-like float bilinear, truncated"}

    def landmarks68(self, frame: np.ndarray, det: Detection) -> np.ndarray:
        if self.fan_info()["landmarks"] == "fan2d":
            if self._fan is None:
                from ..faces.fan import FANLandmarker, load_fan

                net, mf = load_fan(self.fan_weights)
                self._fan = FANLandmarker(net, weights=mf, device=self.device)
            return self._fan(frame, [det.box])[0]
        from .faces import FaceAnalyzer, to_gray

        if self._fan is None:
            self._fan = FaceAnalyzer()
        gray = to_gray(frame)
        from .faces import Face

        return self._fan.landmarks(gray, Face(det.box, det.score))[:68]

    def crop_detected(self, frames, dets, size):
        import cv2

        from .mouth import STABLE_POINTS, interpolate_missing, smooth_landmarks

        frames = _as_frames(frames)
        mean, _ = load_mean_face(self.mean_face_source)
        raw, boxes = [], []
        for frame, d in zip(frames, dets, strict=True):
            face = max(d, key=lambda x: (x.box[2] - x.box[0]) * (x.box[3] - x.box[1]), default=None)
            raw.append(None if face is None else self.landmarks68(frame, face))
            boxes.append(None if face is None else tuple(float(v) for v in face.box))
        out = FaceCrops(crops=[], landmarks=[], boxes=boxes, n_faces=[len(d) for d in dets],
                        others=[[] for _ in frames])
        filled = interpolate_missing(raw)
        if filled is None:
            out.crops, out.landmarks = [None] * len(frames), [None] * len(frames)
            return out
        smooth = smooth_landmarks(filled, self.window)
        half = self.patch // 2
        for i, frame in enumerate(frames):
            m = similarity_transform(smooth[i][list(STABLE_POINTS)], mean)
            warped = skimage_like_warp(frame, m, 256)
            lms = apply_affine(m, filled[i])
            patch = cut_patch(warped, lms[48:68], half)
            if patch is None:
                out.crops.append(None), out.landmarks.append(None)
                continue
            gray = cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY)
            off = (self.patch - size) // 2
            out.crops.append(np.ascontiguousarray(gray[off:off + size, off:off + size])[..., None])
            out.landmarks.append(None)
        return out

    def recipe_hash(self) -> str:
        return recipe_hash(self.recipe())
