"""Face croppers: frames -> one canonical crop per frame (or None), as a detector's spec names.

- ``dlib_align`` — DeepfakeBench-style: 5-point similarity to the ArcFace template, margin
  scale 1.3, 256 px.
- ``laanet`` — LAA-Net's evaluation crop: box + 25 % of w/h per side, resize 256, 5-px margin
  cut (246), resize to 384.
- ``mouth`` — LipForensics: 68 landmarks, 12-frame smoothing, similarity to a mean face on 5
  stable points, 96x96 mouth patch, grayscale, centre 88x88.
- ``precropped`` — datasets that ship face crops (WildDeepfake): resize only.

A cropper never decides what a missing face means for a score; it reports None and the runner
applies the protocol's missing-face policy (:func:`dfbench.media.policy.apply_missing_policy`).
Croppers pickle without their dlib models (rebuilt lazily in each worker process).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

from .faces import MULTI_FACE_POLICIES, Face, FaceAnalyzer, select_faces, to_gray
from .types import FaceCrops

# ArcFace's 5-point template for a 112x112 face (eye centres, nose tip, mouth corners): the
# widely published constants of the InsightFace alignment, which DeepfakeBench uses.
ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    np.float64,
)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) mapping src -> dst.

    Closed form of Umeyama (1991), "Least-squares estimation of transformation parameters
    between two point patterns". Returns the 2x3 matrix for ``cv2.warpAffine``.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # reflection: flip the weakest axis
        fix[1, 1] = -1
    rot = u @ fix @ vt
    var_s = (s ** 2).sum() / len(src)
    scale = (sig * np.diag(fix)).sum() / var_s if var_s > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def apply_affine(m: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, np.float64)
    return (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def recipe_hash(recipe: dict[str, Any]) -> str:
    """Stable short hash of a recipe (sorted JSON)."""
    blob = json.dumps(recipe, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class Cropper:
    """Base class: detection settings, multi-face policy, pickling without dlib models."""

    name = "base"
    version = 1
    temporal = False

    def __init__(
        self,
        *,
        multi_face: str = "largest",
        upsample: int = 0,
        detect_max_side: int | None = 640,
        retry_full: bool = True,
        predictor81: str | None = None,
        small_faces: bool = True,
    ):
        if multi_face not in MULTI_FACE_POLICIES:
            raise ValueError(f"unknown multi_face policy {multi_face!r}; choose from {MULTI_FACE_POLICIES}")
        self.multi_face = multi_face
        self._analyzer_args = dict(upsample=upsample, max_side=detect_max_side, retry_full=retry_full,
                                   predictor81=predictor81, small_faces=small_faces)
        self._analyzer: FaceAnalyzer | None = None

    @property
    def analyzer(self) -> FaceAnalyzer:
        if self._analyzer is None:
            self._analyzer = FaceAnalyzer(**self._analyzer_args)
        return self._analyzer

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_analyzer"] = None
        return state

    def settings(self) -> dict[str, Any]:
        return {}

    def recipe(self) -> dict[str, Any]:
        """Everything that changes the output: hashed into the cache key and the protocol."""
        return {"cropper": self.name, "version": self.version, "multi_face": self.multi_face,
                **self.analyzer.recipe(), **self.settings()}

    def recipe_hash(self) -> str:
        return recipe_hash(self.recipe())

    def faces(self, gray: np.ndarray) -> list[Face]:
        return select_faces(self.analyzer.detect(gray), self.multi_face, (gray.shape[1], gray.shape[0]))

    def crop_face(self, frame: np.ndarray, gray: np.ndarray, face: Face, size: int
                  ) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def __call__(self, frames: np.ndarray, size: int) -> FaceCrops:
        out = FaceCrops(crops=[], landmarks=[], boxes=[], n_faces=[], others=[])
        for frame in _as_frames(frames):
            gray = to_gray(frame)
            found = self.faces(gray)
            out.n_faces.append(len(found))
            if not found:
                out.crops.append(None)
                out.landmarks.append(None)
                out.boxes.append(None)
                out.others.append([])
                continue
            crop, lms = self.crop_face(frame, gray, found[0], size)
            out.crops.append(crop)
            out.landmarks.append(lms)
            out.boxes.append(tuple(float(v) for v in found[0].box))
            out.others.append([self.crop_face(frame, gray, f, size)[0] for f in found[1:]])
        return out


def _as_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"croppers take uint8 RGB frames [T, H, W, 3], got {frames.dtype} {frames.shape}")
    return frames


class DlibAlignCropper(Cropper):
    """DeepfakeBench-style aligned crop.

    Five points (eyes, nose tip, mouth corners) are mapped by a similarity transform onto the
    ArcFace template scaled to ``size`` and shrunk about the centre by ``scale`` (1.3: the face
    fills 1/1.3 of the crop). ``points="dfb"`` takes DeepfakeBench's single landmarks (37, 44,
    30, 49, 55 of the 81-point layout — the same indices in the 68-point one); ``"centres"``
    uses eye centres and mouth corners (48, 54), less sensitive to blinks.
    Deviation, on purpose: DeepfakeBench detects and fits landmarks a second time on the aligned
    crop; we transform the first landmarks with the same matrix, halving the cost.
    """

    name = "dlib_align"

    def __init__(self, *, scale: float = 1.3, points: str = "dfb", **kw: Any):
        super().__init__(**kw)
        if points not in ("dfb", "centres"):
            raise ValueError(f"points must be 'dfb' or 'centres', got {points!r}")
        self.scale, self.points = float(scale), points

    def settings(self) -> dict[str, Any]:
        return {"scale": self.scale, "points": self.points, "template": "arcface112"}

    def five_points(self, lms: np.ndarray) -> np.ndarray:
        if self.points == "dfb":
            return lms[[37, 44, 30, 49, 55]]
        return np.stack([lms[36:42].mean(0), lms[42:48].mean(0), lms[30], lms[48], lms[54]])

    def template(self, size: int) -> np.ndarray:
        dst = ARCFACE_112 * (size / 112.0)
        centre = size / 2.0
        return (dst - centre) / self.scale + centre

    def crop_face(self, frame, gray, face, size):
        import cv2

        lms = self.analyzer.landmarks81(gray, face)
        m = similarity_transform(self.five_points(lms), self.template(size))
        crop = cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        return crop, apply_affine(m, lms)


class LAANetCropper(Cropper):
    """LAA-Net's evaluation crop (official ``images_crop.py`` + test transform).

    The face box is enlarged by ``int(enlarge * w)`` left and right and ``int(enlarge * h)`` top
    and bottom, clipped to the frame, resized to ``base`` (256, aspect not kept, as the official
    code), cut by ``margin`` pixels per side (246) and resized to ``size`` (384). dlib's HOG box
    stands in for RetinaFace's (it is tighter, so faces come out slightly larger); the recipe says
    so. Landmarks (81 or 68 + forehead) are carried into crop coordinates.
    """

    name = "laanet"

    def __init__(self, *, enlarge: float = 0.25, base: int = 256, margin: int = 5, **kw: Any):
        super().__init__(**kw)
        self.enlarge, self.base, self.margin = float(enlarge), int(base), int(margin)

    def settings(self) -> dict[str, Any]:
        return {"enlarge": self.enlarge, "base": self.base, "margin": self.margin,
                "box_source": "dlib_hog (stands in for RetinaFace resnet50)"}

    def crop_face(self, frame, gray, face, size):
        import cv2

        h, w = frame.shape[:2]
        x0, y0, x1, y1 = (int(round(v)) for v in face.box)
        bw, bh = x1 - x0, y1 - y0
        ex, ey = int(self.enlarge * bw), int(self.enlarge * bh)
        x0, y0 = max(x0 - ex, 0), max(y0 - ey, 0)
        x1, y1 = min(x1 + ex, w), min(y1 + ey, h)
        face_img = cv2.resize(frame[y0:y1, x0:x1], (self.base, self.base), interpolation=cv2.INTER_LINEAR)
        m, inner = self.margin, self.base - 2 * self.margin
        crop = face_img[m:self.base - m, m:self.base - m]
        if inner != size:
            crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)
        lms = self.analyzer.landmarks81(gray, face)
        sx, sy = self.base / max(x1 - x0, 1), self.base / max(y1 - y0, 1)
        k = size / inner
        lms_crop = np.stack([((lms[:, 0] - x0) * sx - m) * k, ((lms[:, 1] - y0) * sy - m) * k], 1)
        return np.ascontiguousarray(crop), lms_crop.astype(np.float32)


class PrecroppedCropper(Cropper):
    """For datasets that ship face crops: no detection, every frame resized to ``size``."""

    name = "precropped"

    def __init__(self, *, colour: str = "rgb", **kw: Any):
        super().__init__(**kw)
        if colour not in ("rgb", "gray"):
            raise ValueError(f"colour must be 'rgb' or 'gray', got {colour!r}")
        self.colour = colour

    def recipe(self) -> dict[str, Any]:
        return {"cropper": self.name, "version": self.version, "colour": self.colour, "resize": "area/linear"}

    def __call__(self, frames: np.ndarray, size: int) -> FaceCrops:
        import cv2

        out = FaceCrops(crops=[], landmarks=[], boxes=[], n_faces=[], others=[])
        for frame in _as_frames(frames):
            h, w = frame.shape[:2]
            interp = cv2.INTER_AREA if min(h, w) > size else cv2.INTER_LINEAR
            crop = cv2.resize(frame, (size, size), interpolation=interp)
            if self.colour == "gray":
                crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)[..., None]
            out.crops.append(crop)
            out.landmarks.append(None)
            out.boxes.append((0.0, 0.0, float(w), float(h)))
            out.n_faces.append(1)
            out.others.append([])
        return out


def build_cropper(name: str, **settings: Any) -> Cropper:
    """Build a built-in cropper by name (the registry does the same through CropperSpec)."""
    from .mouth import MouthCropper

    table = {c.name: c for c in (DlibAlignCropper, LAANetCropper, MouthCropper, PrecroppedCropper)}
    if name not in table:
        from ..errors import UnknownCropperError

        raise UnknownCropperError(name, sorted(table))
    return table[name](**settings)
