"""Source photographs, their landmarks and the identity variants of the demo dataset.

Two real people are available offline without any network access:

- ``astronaut``: ``skimage.data.astronaut()``, NASA portrait of Eileen Collins (public domain);
- ``hopper``: ``grace_hopper.jpg`` shipped in matplotlib's ``mpl-data/sample_data``, the US Navy
  portrait of Grace Hopper (a work of the US federal government, public domain).

``skimage.data.lfw_subset()`` is *not* used: its faces are 25x25 grey crops, and upscaled to the
~110 px the demo needs they look exactly like the low-resolution fakes, which would teach
detectors that blur means "real".

To get more than two "people" honestly, each photo yields several identity *variants* through
global, boundary-free changes only: a horizontal mirror, a smooth large-scale geometric warp of
the face shape (wider/narrower, longer/shorter) and a global colour grade. Nothing is pasted or
blended into a real variant, so real videos never carry the blending cues the fakes have. The
variants of one photo are of course the same person; the report and the dataset card say so.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ...errors import DfbenchError

log = logging.getLogger(__name__)


class DemoBuildError(DfbenchError):
    """The demo dataset could not be synthesised (a missing package file, an undetected face)."""


@dataclass(frozen=True)
class IdentitySpec:
    """How one identity variant is derived from a source photo (all changes are global)."""

    name: str
    photo: str
    """``"astronaut"`` or ``"hopper"``."""
    face_px: int
    """Width of the dlib face box in the rendered frames at zoom 1 (HOG needs >= ~80 px)."""
    mirror: bool = False
    widen: float = 0.0
    """Smooth horizontal stretch of the face region: +0.06 makes the face ~6 % wider."""
    lengthen: float = 0.0
    gamma: float = 1.0
    wb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    """Per-channel (R, G, B) gains: a white-balance / colour-temperature grade."""
    saturation: float = 1.0


@dataclass
class FaceSource:
    """An identity variant ready to animate: the RGB image and its 68 dlib landmarks."""

    name: str
    photo: str
    image: np.ndarray
    landmarks: np.ndarray
    box: tuple[int, int, int, int]
    """dlib HOG face box ``(x0, y0, x1, y1)`` in ``image`` coordinates."""

    @property
    def face_width(self) -> float:
        return float(np.linalg.norm(self.landmarks[16] - self.landmarks[0]))

    @property
    def centre(self) -> np.ndarray:
        return self.landmarks.mean(axis=0)


def _package_dir(package: str, hint: str) -> Path:
    # find_spec instead of import: face_recognition_models fails to import with current
    # setuptools (it needs pkg_resources), and importing matplotlib just for a path is slow.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DemoBuildError(f"the demo dataset needs the package {package!r}: {hint}")
    return Path(next(iter(spec.submodule_search_locations)))


def landmark_model_path() -> Path:
    """Path of dlib's 68-point shape predictor shipped by ``face-recognition-models``."""
    path = _package_dir("face_recognition_models", "pip install face-recognition-models")
    path = path / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise DemoBuildError(f"{path} is missing; reinstall face-recognition-models")
    return path


def _hopper_path() -> Path:
    path = _package_dir("matplotlib", "pip install matplotlib")
    path = path / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    if not path.is_file():
        raise DemoBuildError(f"{path} is missing; reinstall matplotlib (it ships the sample photo)")
    return path


def load_photo(name: str) -> np.ndarray:
    """The RGB uint8 source photograph called ``name``."""
    if name == "astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut())
    if name == "hopper":
        bgr = cv2.imread(str(_hopper_path()), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DemoBuildError(f"could not decode {_hopper_path()}")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    raise DemoBuildError(f"unknown demo photo {name!r}")


def photo_fingerprints() -> dict[str, str]:
    """sha256 of each source photo's pixels, recorded in the manifest for provenance."""
    return {n: hashlib.sha256(load_photo(n).tobytes()).hexdigest() for n in ("astronaut", "hopper")}


class LandmarkDetector:
    """dlib HOG face detector + 68-point shape predictor (loaded once per build)."""

    def __init__(self) -> None:
        import dlib

        self._detect = dlib.get_frontal_face_detector()
        self._predict = dlib.shape_predictor(str(landmark_model_path()))
        self._rect = dlib.rectangle

    def boxes(self, image: np.ndarray, upsample: int = 0) -> list[tuple[int, int, int, int]]:
        return [(r.left(), r.top(), r.right(), r.bottom()) for r in self._detect(image, upsample)]

    def landmarks(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        shape = self._predict(image, self._rect(*box))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def single_face(
        self, image: np.ndarray, what: str, near: np.ndarray | None = None
    ) -> tuple[tuple[int, int, int, int], np.ndarray]:
        """The face box and landmarks; with ``near``, the box containing that point.

        Upscaled photos make HOG fire on other things too (e.g. the astronaut's suit, far outside
        the camera's view), hence ``near``: the face is where it was before the transform.
        """
        boxes = self.boxes(image)
        if near is not None:
            boxes = [b for b in boxes if b[0] <= near[0] <= b[2] and b[1] <= near[1] <= b[3]]
        if len(boxes) != 1:
            raise DemoBuildError(
                f"expected exactly one face in {what}, dlib HOG found {len(boxes)}"
            )
        return boxes[0], self.landmarks(image, boxes[0])


@lru_cache(maxsize=1)
def get_detector() -> LandmarkDetector:
    return LandmarkDetector()


def _shape_warp(image: np.ndarray, lm: np.ndarray, widen: float, lengthen: float) -> np.ndarray:
    """Stretch the face smoothly about its centre; the Gaussian falloff leaves no seam."""
    if widen == 0.0 and lengthen == 0.0:
        return image
    h, w = image.shape[:2]
    c = lm.mean(axis=0)
    sigma = 0.9 * float(np.linalg.norm(lm[16] - lm[0]))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    g = np.exp(-((xs - c[0]) ** 2 + (ys - c[1]) ** 2) / (2 * sigma**2))
    map_x = c[0] + (xs - c[0]) / (1.0 + widen * g)
    map_y = c[1] + (ys - c[1]) / (1.0 + lengthen * g)
    return cv2.remap(image, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)


def colour_grade(
    image: np.ndarray, gamma: float, wb: tuple[float, float, float], saturation: float
) -> np.ndarray:
    """Global grade (gamma, white balance, saturation): changes the look, adds no boundary."""
    x = image.astype(np.float32) / 255.0
    x = np.power(x, gamma) * np.asarray(wb, np.float32)
    grey = x @ np.asarray([0.299, 0.587, 0.114], np.float32)
    x = grey[..., None] + saturation * (x - grey[..., None])
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def make_identity(spec: IdentitySpec) -> FaceSource:
    """Render the identity variant ``spec`` and locate its face and landmarks."""
    det = get_detector()
    image = load_photo(spec.photo)
    box, _ = det.single_face(image, f"the {spec.photo} photo")
    # Resample once so the face has its target size; the camera then only zooms by +-15 %,
    # which keeps the per-frame warp close to 1:1 (sharp, no aliasing).
    scale = spec.face_px / float(box[2] - box[0])
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interp)
    centre = np.array([box[0] + box[2], box[1] + box[3]], np.float32) * scale / 2
    if spec.mirror:
        image = np.ascontiguousarray(image[:, ::-1])
        centre[0] = image.shape[1] - 1 - centre[0]
    if spec.widen or spec.lengthen:
        _, lm = det.single_face(image, f"identity {spec.name}", near=centre)
        image = _shape_warp(image, lm, spec.widen, spec.lengthen)
    image = colour_grade(image, spec.gamma, spec.wb, spec.saturation)
    box, lm = det.single_face(image, f"identity {spec.name}", near=centre)
    return FaceSource(spec.name, spec.photo, image, lm, box)
