"""Face-region masks from landmarks: the four hull types of Face X-ray / SBI / LAA-Net.

Landmarks follow the dlib 68-point layout; points 68+ (if any) are forehead points, either from
an 81-point predictor or synthesised from the 68 points by
:func:`dfbench.media.faces.extend_forehead`. Every polygon is filled through its convex hull, so
the order of the points does not matter. The hull definitions are written from the description in
our clean-room notes on LAA-Net (not shipped) §4.4 (uniform choice among ``dfl_full``, ``components``,
``extended`` and ``facehull``).
"""

from __future__ import annotations

import cv2
import numpy as np

HULL_TYPES: tuple[str, ...] = ("dfl_full", "components", "extended", "facehull")

# Index groups of the dlib-68 layout; each group is filled as one convex polygon.
_DFL_FULL = (
    list(range(0, 17)) + list(range(48, 68)) + [0, 8, 16],  # jaw + mouth
    [27, 28, 29, 30, 33],  # nose ridge
    list(range(17, 27)) + [0, 27, 16, 33],  # brows
)
_COMPONENTS = (
    list(range(0, 9)) + [17],  # right jaw
    list(range(8, 17)) + [26],  # left jaw
    [17, 18, 19, 8],  # right cheek
    [24, 25, 26, 8],  # left cheek
    [19, 20, 21, 22, 23, 24, 8],  # nose bridge
    [17, 18, 19, 20, 21, 27, 31, 32, 33, 34, 35, 8],  # right eye region
    [22, 23, 24, 25, 26, 27, 31, 32, 33, 34, 35, 8],  # left eye region
    list(range(27, 36)),  # nose
)

def _fill(mask: np.ndarray, pts: np.ndarray, aa: bool = False) -> None:
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_AA if aa else cv2.LINE_8)


def _raise_brows(lm: np.ndarray) -> np.ndarray:
    """The ``extended`` hull: lift each brow by half its offset from a line under the eye."""
    lm = np.round(lm[:68]).astype(np.int64)
    out = lm.copy()
    # Reference polylines: 5 points matching brow 17–21 (resp. 22–26) point by point.
    mid_r = (lm[36] + (lm[0] + lm[36]) // 2) // 2
    ref_r = np.stack([mid_r, lm[36], lm[37], lm[38], lm[39]])
    mid_l = (lm[45] + (lm[45] + lm[16]) // 2) // 2
    ref_l = np.stack([lm[42], lm[43], lm[44], lm[45], mid_l])
    out[17:22] = lm[17:22] + (lm[17:22] - ref_r) // 2
    out[22:27] = lm[22:27] + (lm[22:27] - ref_l) // 2
    return out


def hull_mask(shape: tuple[int, int], landmarks: np.ndarray, hull_type: str) -> np.ndarray:
    """Fill the hull of type ``hull_type`` into a ``uint8`` mask of ``shape`` (0 or 255).

    ``facehull`` uses every point given (so it covers the forehead when points 68+ exist) and an
    anti-aliased edge; the other three use the 68-point groups only.
    """
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    lm = np.asarray(landmarks, dtype=np.float32)
    if hull_type == "facehull":
        _fill(mask, lm, aa=True)
    elif hull_type == "dfl_full":
        for g in _DFL_FULL:
            _fill(mask, lm[g])
    elif hull_type == "components":
        for g in _COMPONENTS:
            _fill(mask, lm[g])
    elif hull_type == "extended":
        raised = _raise_brows(lm)
        for g in _COMPONENTS:
            _fill(mask, raised[g])
    else:
        raise ValueError(f"unknown hull type {hull_type!r}; choose one of {', '.join(HULL_TYPES)}")
    return mask


def random_hull_mask(shape: tuple[int, int], landmarks: np.ndarray, rng: np.random.Generator,
                     hull_types: tuple[str, ...] = HULL_TYPES) -> tuple[np.ndarray, str]:
    """A hull of a uniformly chosen type; returns ``(mask uint8 0/255, type)``."""
    t = hull_types[int(rng.integers(len(hull_types)))]
    return hull_mask(shape, landmarks, t), t
