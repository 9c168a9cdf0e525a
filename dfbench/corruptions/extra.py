"""Perturbations users expect beyond the DeeperForensics-1.0 suite: ``jpeg``, ``downscale``, ``h265``.

These have no official reference; their parameter tables are ours (see
:mod:`dfbench.corruptions.catalog` and ``docs/corruptions.md``). All are deterministic, so
``seed`` is accepted (the ``CorruptionSpec.apply`` signature) and unused.
"""

from __future__ import annotations

import cv2
import numpy as np

from ._frames import as_clip, check_level, restore
from .codec import transcode


def jpeg_frame(img_rgb: np.ndarray, quality: int) -> np.ndarray:
    """Encode one RGB frame as baseline JPEG at ``quality`` with libjpeg and decode it."""
    # libjpeg converts to YCbCr assuming BGR input (OpenCV's convention), so swap first; feeding
    # RGB would put red into the blue coefficients and change what the chroma subsampling keeps.
    bgr = np.ascontiguousarray(img_rgb[..., ::-1])
    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError(f"OpenCV failed to JPEG-encode a frame of shape {img_rgb.shape}")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


def jpeg(frames: np.ndarray, level: int, seed: int = 0) -> np.ndarray:
    """Real JPEG coding of every frame at quality 90, 70, 50, 30, 10 for levels 1-5."""
    quality = check_level("jpeg", level)
    clip, single = as_clip(frames)
    out = np.empty_like(clip)
    for t, frame in enumerate(clip):
        out[t] = jpeg_frame(frame, quality)
    return restore(out, single)


def downscale_frame(img: np.ndarray, factor: float) -> np.ndarray:
    """Shrink by ``factor`` with area averaging, then enlarge back bilinearly.

    Area averaging (anti-aliased) models a real resolution loss, as a video re-scaler does; the
    official "JPEG"/``pixelation`` type already covers the aliased INTER_LINEAR shrink.
    """
    h, w = img.shape[:2]
    small_size = (max(1, round(w / factor)), max(1, round(h / factor)))
    small = cv2.resize(img, small_size, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def downscale(frames: np.ndarray, level: int, seed: int = 0) -> np.ndarray:
    """Resolution loss by a factor of 1.5, 2, 2.5, 3, 4 for levels 1-5."""
    factor = check_level("downscale", level)
    clip, single = as_clip(frames)
    out = np.empty_like(clip)
    for t, frame in enumerate(clip):
        out[t] = downscale_frame(np.ascontiguousarray(frame), factor)
    return restore(out, single)


def h265_with_size(frames: np.ndarray, level: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """The clip through H.265 (libx265) at the level's CRF; returns (frames, bitstream bytes)."""
    crf = check_level("h265", level)
    clip, single = as_clip(frames)
    result = transcode(clip, codec="libx265", crf=crf)
    return restore(result.frames, single), result.nbytes


def h265(frames: np.ndarray, level: int, seed: int = 0) -> np.ndarray:
    """H.265 at CRF 35, 37, 40, 43, 45 for levels 1-5 (deterministic, single-threaded x265)."""
    return h265_with_size(frames, level, seed)[0]
