"""The DeeperForensics-1.0 perturbations, reproducing the official arithmetic exactly.

Jiang et al., "DeeperForensics-1.0: A Large-Scale Dataset for Real-World Face Forgery Detection",
CVPR 2020, https://arxiv.org/abs/2001.03024; official code: EndlessSora/DeeperForensics-1.0,
``perturbation/``. Written from our clean-room reference notes on DeeperForensics-1.0 (not shipped; see docs/corruptions.md);
no official code is copied.

Two layers:

* per-frame functions on OpenCV-style **BGR** uint8 frames (``color_saturation`` ...
  ``pixelate``) with the official semantics: float32 OpenCV colour conversions, truncating
  ``astype(np.uint8)`` casts, the official draw order of the random generators. Unlike the
  official BW they never modify their input.
* clip functions on dfbench's **RGB** ``[T, H, W, 3]`` (or ``[H, W, 3]``) frames with the
  ``CorruptionSpec.apply`` signature ``(frames, level, seed=0)``. One generator per call, seeded
  with ``seed``, serves all frames in order, as the official video driver's global RNG does: a
  single frame with seed s equals the official function after ``random.seed(s);
  np.random.seed(s)``, and later frames get fresh block positions / noise.

The float arithmetic below keeps the official operation order on purpose (e.g. ``(y * 219 + 16)
/ 255.0`` rather than a folded constant): in float32 a different order changes the last bit,
and the truncating cast turns that into a one-level difference on some pixels.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import cv2
import numpy as np

from ._frames import as_clip, check_level, check_seed, restore
from .codec import transcode

BLOCK_SIZE = 8
BLOCK_VALUE = 128
BLOCK_UNIT = 256
"""BW draws ``param`` blocks per full 256 px of the frame's short side (integer division)."""


# -- colour helpers -------------------------------------------------------------------------------
def bgr_to_ycbcr(img_bgr: np.ndarray) -> np.ndarray:
    """BGR uint8/float -> float32 ``[H, W, 3]`` in the official (Y, Cb, Cr) mapping.

    OpenCV's float ``BGR2YCrCb`` adds its 0.5 chroma offset even for 0-255 data; the official
    code then maps Y with ``(Y * 219 + 16) / 255`` and Cb, Cr with ``(C * 224 + 16) / 255``.
    """
    ycrcb = cv2.cvtColor(np.asarray(img_bgr, dtype=np.float32), cv2.COLOR_BGR2YCrCb)
    out = np.empty_like(ycrcb)
    out[..., 0] = (ycrcb[..., 0] * 219 + 16) / 255.0
    out[..., 1] = (ycrcb[..., 2] * 224 + 16) / 255.0  # Cb comes second in the official order
    out[..., 2] = (ycrcb[..., 1] * 224 + 16) / 255.0
    return out


def ycbcr_to_bgr(ycbcr: np.ndarray) -> np.ndarray:
    """Inverse of :func:`bgr_to_ycbcr`: float32 BGR, not clipped or rounded.

    The input is cast to float32 first (GNC hands over float64), as the official helper does.
    """
    y = np.asarray(ycbcr, dtype=np.float32)
    ycrcb = np.empty_like(y)
    ycrcb[..., 0] = (y[..., 0] * 255.0 - 16) / 219
    ycrcb[..., 1] = (y[..., 2] * 255.0 - 16) / 224
    ycrcb[..., 2] = (y[..., 1] * 255.0 - 16) / 224
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2BGR)


# -- per-frame functions (BGR in, new BGR uint8 out) ----------------------------------------------
def color_saturation(img_bgr: np.ndarray, param: float) -> np.ndarray:
    """CS: pull both chroma channels towards 0.5 by ``param``; param 0 gives a gray image."""
    ycbcr = bgr_to_ycbcr(img_bgr)
    ycbcr[..., 1] = 0.5 + (ycbcr[..., 1] - 0.5) * param
    ycbcr[..., 2] = 0.5 + (ycbcr[..., 2] - 0.5) * param
    # Truncating cast without clipping, as in the official code (values stay within about
    # [-0.005, 255.003], which truncates into 0..255 without wrapping).
    return ycbcr_to_bgr(ycbcr).astype(np.uint8)


def color_contrast(img_bgr: np.ndarray, param: float) -> np.ndarray:
    """CC: multiply every channel by ``param`` in float32 and truncate.

    Each output value depends only on its input value, so the float32 product is computed once
    for the 256 possible values and applied as a lookup table: bit-identical, ~8x faster.
    """
    lut = (np.arange(256, dtype=np.float32) * param).astype(np.uint8)
    # Flattened to 2-D so that cv2.LUT also takes whole [T, H, W, 3] clips.
    flat = np.ascontiguousarray(img_bgr).reshape(-1, img_bgr.shape[-1])
    return cv2.LUT(flat, lut).reshape(img_bgr.shape)


def block_count(height: int, width: int, param: int) -> int:
    """Number of BW blocks for a frame: ``param`` per full 256 px of the short side."""
    return min(height, width) // BLOCK_UNIT * param


def block_wise(img_bgr: np.ndarray, param: int, rng: random.Random) -> np.ndarray:
    """BW: paint 8x8 blocks of value 128 at positions drawn from ``rng``.

    Draw order per block is column, then row, each with ``randint``'s inclusive bounds
    ``[0, size - 1 - 8]`` (so the last row/column can never be covered, as in the official code).
    """
    out = img_bgr.copy()
    h, w = out.shape[:2]
    for _ in range(block_count(h, w, param)):
        col = rng.randint(0, w - 1 - BLOCK_SIZE)
        row = rng.randint(0, h - 1 - BLOCK_SIZE)
        out[row : row + BLOCK_SIZE, col : col + BLOCK_SIZE, :] = BLOCK_VALUE
    return out


def gaussian_noise_color(
    img_bgr: np.ndarray, param: float, rng: np.random.RandomState
) -> np.ndarray:
    """GNC: add N(0, param) noise to all three channels of the scaled YCbCr image.

    One ``randn(H, W, 3)`` call per frame (C order), from the legacy generator. The sum is float64
    (float32 image + float64 noise); the inverse conversion works in float32; then clip, truncate.
    """
    ycbcr = bgr_to_ycbcr(img_bgr) / 255
    h, w, c = ycbcr.shape
    # (ycbcr + sqrt(p) * noise) * 255, evaluated in place to save three float64 temporaries;
    # IEEE + and * are commutative, so the result is bit-identical to the official expression.
    noisy = rng.randn(h, w, c)
    noisy *= math.sqrt(param)
    noisy += ycbcr
    noisy *= 255
    bgr = ycbcr_to_bgr(noisy)
    return np.clip(bgr, 0, 255, out=bgr).astype(np.uint8)


def gaussian_blur(img_bgr: np.ndarray, param: int) -> np.ndarray:
    """GB: ``param x param`` Gaussian kernel, sigma ``param / 6`` (default border, reflect-101)."""
    return cv2.GaussianBlur(img_bgr, (param, param), param / 6)


def pixelate(img_bgr: np.ndarray, param: int) -> np.ndarray:
    """Official "JPEG": shrink to ``(W // q, H // q)`` and enlarge back, both INTER_LINEAR."""
    h, w = img_bgr.shape[:2]
    small = cv2.resize(img_bgr, (w // param, h // param), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


# -- clip functions (RGB in, RGB out; the CorruptionSpec.apply signature) ---------------------------
def _map_frames(
    frames: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], *, bgr: bool
) -> np.ndarray:
    """Apply ``fn`` frame by frame, in order, into a new array.

    ``bgr=True`` hands ``fn`` a contiguous BGR copy; functions that treat channels independently
    (CC, BW, GB, pixelation) give identical results in either order and skip the swap.
    """
    clip, single = as_clip(frames)
    out = np.empty_like(clip)
    for t, frame in enumerate(clip):
        if bgr:
            out[t] = fn(np.ascontiguousarray(frame[..., ::-1]))[..., ::-1]
        else:
            out[t] = fn(np.ascontiguousarray(frame))
    return restore(out, single)


def saturation(frames: np.ndarray, level: int, seed: int = 0) -> np.ndarray:
    """DeeperForensics CS on RGB frames (deterministic; ``seed`` is accepted and unused)."""
    param = check_level("saturation", level)
    return _map_frames(frames, lambda f: color_saturation(f, param), bgr=True)


def contrast(frames: np.ndarray, level: int, seed: int = 0) -> np.ndarray:
    """DeeperForensics CC on RGB frames (deterministic)."""
    param = check_level("contrast", level)
    clip, single = as_clip(frames)
    # Element-wise and channel-independent, so the whole clip at once equals frame by frame.
    return restore(color_contrast(clip, param), single)


def block(frames: np.ndarray, level: int, seed: int = 0) -> np.ndarray:
    """DeeperForensics BW on RGB frames; positions from ``random.Random(seed)``, redrawn per frame."""
    param = check_level("block", level)
    rng = random.Random(check_seed(seed))
    return _map_frames(frames, lambda f: block_wise(f, param, rng), bgr=False)


def noise(frames: np.ndarray, level: int, seed: int = 0) -> np.ndarray:
    """DeeperForensics GNC on RGB frames; noise from ``np.random.RandomState(seed)``, per frame."""
    param = check_level("noise", level)
    rng = np.random.RandomState(check_seed(seed))
    return _map_frames(frames, lambda f: gaussian_noise_color(f, param, rng), bgr=True)


def blur(frames: np.ndarray, level: int, seed: int = 0) -> np.ndarray:
    """DeeperForensics GB on RGB frames (deterministic)."""
    param = check_level("blur", level)
    return _map_frames(frames, lambda f: gaussian_blur(f, param), bgr=False)


def pixelation(frames: np.ndarray, level: int, seed: int = 0) -> np.ndarray:
    """DeeperForensics "JPEG" (down/up-scaling) on RGB frames (deterministic)."""
    param = check_level("pixelation", level)
    return _map_frames(frames, lambda f: pixelate(f, param), bgr=False)


def compression_with_size(frames: np.ndarray, level: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """DeeperForensics VC: the clip through H.264 at the level's CRF; returns (frames, bitstream bytes)."""
    crf = check_level("compression", level)
    clip, single = as_clip(frames)
    result = transcode(clip, codec="libx264", crf=crf)
    return restore(result.frames, single), result.nbytes


def compression(frames: np.ndarray, level: int, seed: int = 0) -> np.ndarray:
    """DeeperForensics VC on RGB frames (deterministic: single-threaded x264)."""
    return compression_with_size(frames, level, seed)[0]


def encode_size_bytes(frames: np.ndarray, level: int) -> int:
    """Size in bytes of the H.264 bitstream that ``compression`` produces for ``frames`` at ``level``."""
    return compression_with_size(frames, level)[1]


PER_FRAME_BGR: dict[str, Callable[..., np.ndarray]] = {
    "CS": color_saturation,
    "CC": color_contrast,
    "BW": block_wise,
    "GNC": gaussian_noise_color,
    "GB": gaussian_blur,
    "JPEG": pixelate,
}
"""Official type name -> per-frame BGR function (BW also takes a ``random.Random``, GNC a
``np.random.RandomState``). Parameters: ``catalog.BUILTIN[name].parameters``."""
