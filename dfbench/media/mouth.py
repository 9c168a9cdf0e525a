"""LipForensics mouth crops (Haliassos et al., "Lips Don't Lie", CVPR 2021, arXiv 2012.07657).

Protocol (our clean-room protocol notes, after the LRW lip-reading preprocessing): 68
landmarks per frame, smoothed over a 12-frame window; each frame is similarity-warped so that
five stable points (nose tip 33, eye corners 36, 39, 42, 45) match a mean face in a 256x256
canvas; a 96x96 patch centred on the warped mouth landmarks (48-67) is cut, converted to gray
and centre-cropped to 88x88.

The mean face. The official LRW mean face (``20words_mean_face.npy``) is a data file we do not
ship; our canonical face is derived, not copied: dlib 68-point landmarks of a frontal face
(skimage's astronaut), mirror-symmetrised, scaled so the outer eye corners are 70 px apart and
placed with the eye line at y ~ 115 and the face centred at x = 128 of the 256 canvas. That puts
the mouth near (128, 164), so a 96-px patch spans the lips plus nostrils and chin edge like LRW
mouth ROIs. Because the similarity warp only sets position/scale/rotation, a different but
sensible mean face changes crops by a few pixels of scale/offset — document which one produced a
number, which the recipe does (``mean_face: "dfbench-v1"``).

Smoothing follows the reference's trailing queue: frame ``i`` is warped with the mean landmarks
of frames ``i .. i+11``; the last 11 frames reuse the final full window (the reference reuses its
last transform). The patch is centred on the *current* frame's warped mouth. Frames without a
detected face get landmarks linearly interpolated from their neighbours (first/last detection
repeated at the ends), as LRW preprocessing does; their ``n_faces`` is 0 so coverage stays
visible. A video with no face at all returns ``None`` crops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .croppers import Cropper, _as_frames, apply_affine, similarity_transform
from .faces import to_gray
from .types import FaceCrops

STABLE_POINTS = (33, 36, 39, 42, 45)
MOUTH_POINTS = slice(48, 68)
CANVAS = 256
# dfbench-v1 mean face on the five stable points (x, y) in the 256x256 canvas; see module docstring.
MEAN_FACE_STABLE = np.array(
    [[128.0, 150.6], [93.0, 113.8], [112.8, 116.2], [143.2, 116.2], [163.0, 113.8]], np.float64
)


def interpolate_missing(lms: list[np.ndarray | None]) -> np.ndarray | None:
    """Fill ``None`` entries linearly between detected neighbours -> ``[T, K, 2]`` (None if all missing)."""
    known = [i for i, x in enumerate(lms) if x is not None]
    if not known:
        return None
    first = lms[known[0]]
    out = np.empty((len(lms), *first.shape), np.float64)
    for i in known:
        out[i] = lms[i]
    for i in range(len(lms)):
        if lms[i] is not None:
            continue
        before = [k for k in known if k < i]
        after = [k for k in known if k > i]
        if not before:
            out[i] = out[after[0]]
        elif not after:
            out[i] = out[before[-1]]
        else:
            a, b = before[-1], after[0]
            w = (i - a) / (b - a)
            out[i] = (1 - w) * out[a] + w * out[b]
    return out


def smooth_landmarks(lms: np.ndarray, window: int = 12) -> np.ndarray:
    """Forward moving average: frame i gets the mean of frames ``[j, j + window)``, ``j = min(i, T - window)``."""
    lms = np.asarray(lms, np.float64)
    t = len(lms)
    if window <= 1 or t == 0:
        return lms.copy()
    if t <= window:
        return np.repeat(lms.mean(0, keepdims=True), t, 0)
    csum = np.concatenate([np.zeros((1, *lms.shape[1:])), np.cumsum(lms, 0)])
    starts = np.minimum(np.arange(t), t - window)
    return (csum[starts + window] - csum[starts]) / window


class MouthCropper(Cropper):
    """LipForensics mouth crops: gray ``[size, size, 1]`` (88), temporally smoothed alignment."""

    name = "mouth"
    temporal = True

    def __init__(self, *, window: int = 12, patch: int = 96, **kw: Any):
        super().__init__(**kw)
        self.window, self.patch = int(window), int(patch)

    def settings(self) -> dict[str, Any]:
        return {"window": self.window, "patch": self.patch, "canvas": CANVAS, "mean_face": "dfbench-v1",
                "stable_points": list(STABLE_POINTS), "colour": "gray", "landmark_source": "dlib68"}

    def __call__(self, frames: np.ndarray, size: int) -> FaceCrops:
        import cv2

        frames = _as_frames(frames)
        t = len(frames)
        raw: list[np.ndarray | None] = []
        boxes: list[tuple[float, float, float, float] | None] = []
        n_faces: list[int] = []
        grays = [to_gray(f) for f in frames]
        for gray in grays:
            found = self.faces(gray)
            n_faces.append(len(found))
            if not found:
                raw.append(None)
                boxes.append(None)
                continue
            raw.append(self.analyzer.landmarks(gray, found[0])[:68])
            boxes.append(tuple(float(v) for v in found[0].box))
        filled = interpolate_missing(raw)
        out = FaceCrops(crops=[], landmarks=[], boxes=boxes, n_faces=n_faces, others=[[] for _ in range(t)])
        if filled is None:
            out.crops = [None] * t
            out.landmarks = [None] * t
            return out
        smooth = smooth_landmarks(filled, self.window)
        half = self.patch // 2
        for i in range(t):
            m = similarity_transform(smooth[i][list(STABLE_POINTS)], MEAN_FACE_STABLE)
            centre = apply_affine(m, filled[i][MOUTH_POINTS]).mean(0)
            # Keep the patch inside the canvas, as cutting from a 256x256 warped image would.
            cx = int(round(float(np.clip(centre[0], half, CANVAS - half))))
            cy = int(round(float(np.clip(centre[1], half, CANVAS - half))))
            m_patch = m.copy()
            m_patch[:, 2] -= (cx - half, cy - half)
            rgb = cv2.warpAffine(frames[i], m_patch, (self.patch, self.patch), flags=cv2.INTER_LINEAR)
            gray_patch = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            lms = apply_affine(m_patch, filled[i])
            if size <= self.patch:
                off = (self.patch - size) // 2
                crop = gray_patch[off:off + size, off:off + size]
                lms = lms - off
            else:
                crop = cv2.resize(gray_patch, (size, size), interpolation=cv2.INTER_LINEAR)
                lms = lms * (size / self.patch)
            out.crops.append(np.ascontiguousarray(crop)[..., None])
            out.landmarks.append(lms.astype(np.float32))
        return out
