"""Real face crops with landmarks for tests, benchmarks and the visual check (offline).

LAA-Net trains on 256-px face crops enlarged 1.5× around the face box, with dlib landmarks in crop
coordinates (reference §5.2–5.3); :func:`crop_with_landmarks` produces exactly that from any RGB
image, and :func:`astronaut_face` from the public-domain portrait shipped with scikit-image.
:func:`jittered_frames` makes a short "video" of one face (small rotation, scale, shift and
exposure changes, landmarks transformed analytically) so tests can build multi-video datasets.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ..errors import DfbenchError


class NoFaceError(DfbenchError):
    """dlib found no face in an image given to the synthesis tools."""


def find_landmarks(image: np.ndarray) -> np.ndarray:
    """68 dlib landmarks ``[68, 2]`` (float32, image pixels) of the largest face in ``image``."""
    from ..media.faces import FaceAnalyzer, to_gray

    analyzer = FaceAnalyzer(upsample=1, max_side=None)
    gray = to_gray(image)
    faces = analyzer.detect(gray)
    if not faces:
        raise NoFaceError("dlib found no face in the image; pass a larger, frontal face photo")
    face = max(faces, key=lambda f: f.area)
    return analyzer.landmarks(gray, face)[:68]


def crop_with_landmarks(image: np.ndarray, landmarks: np.ndarray, size: int = 256,
                        enlarge: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Square crop around the landmark box enlarged by ``enlarge`` per side, resized to ``size``.

    Returns ``(crop uint8 [size, size, 3], landmarks [K, 2] in crop pixels)``. The image is
    zero-padded where the enlarged box leaves it.
    """
    lm = np.asarray(landmarks, np.float32)
    x0, y0 = lm[:68].min(0)
    x1, y1 = lm[:68].max(0)
    side = max(x1 - x0, y1 - y0) * (1 + 2 * enlarge)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    # Shift the box up a little: the landmark box stops at the brows, the face does not.
    cy -= 0.1 * (y1 - y0)
    s = size / side
    m = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]], np.float32)
    crop = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return crop, (lm @ m[:, :2].T + m[:, 2]).astype(np.float32)


@lru_cache(maxsize=4)
def _astronaut(size: int) -> tuple[np.ndarray, np.ndarray]:
    from skimage import data

    img = np.ascontiguousarray(data.astronaut())
    return crop_with_landmarks(img, find_landmarks(img), size)


def astronaut_face(size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """The astronaut's face crop and its 68 landmarks (dlib runs once per process and size)."""
    crop, lm = _astronaut(size)
    return crop.copy(), lm.copy()


def jittered_frames(image: np.ndarray, landmarks: np.ndarray, n: int, seed: int = 0,
                    rotate: float = 8.0, scale: float = 0.06, shift: float = 0.04,
                    tint: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` frames of one face: random similarity jitter + exposure, landmarks moved along.

    With ``tint`` the whole "video" also gets one colour cast, so different seeds look like
    different recordings.
    """
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    cast = rng.uniform(0.85, 1.15, 3).astype(np.float32) if tint else np.ones(3, np.float32)
    out = []
    for _ in range(n):
        ang = rng.uniform(-rotate, rotate)
        sc = 1 + rng.uniform(-scale, scale)
        m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), ang, sc)
        m[:, 2] += rng.uniform(-shift, shift, 2) * (w, h)
        frame = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        gain = cast * rng.uniform(0.9, 1.1)
        frame = np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8)
        lm = (np.asarray(landmarks, np.float32) @ m[:, :2].T + m[:, 2]).astype(np.float32)
        out.append((frame, lm))
    return out


def _hopper_photo() -> np.ndarray | None:
    """Grace Hopper's US Navy portrait (public domain), shipped in matplotlib's sample data."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@lru_cache(maxsize=4)
def _demo_faces(size: int) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    out = [_astronaut(size)]
    hopper = _hopper_photo()
    if hopper is not None:
        try:
            out.append(crop_with_landmarks(hopper, find_landmarks(hopper), size))
        except NoFaceError:  # pragma: no cover - the portrait is frontal
            pass
    return tuple(out)


def demo_faces(size: int = 256) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two public-domain portraits available offline (astronaut, Grace Hopper) as crops."""
    return [(c.copy(), lm.copy()) for c, lm in _demo_faces(size)]
