"""The forgery methods of the demo dataset, each a simplified version of a real family of fakes.

- ``selfblend``: the face blended onto itself after a small colour and geometry change, inside a
  randomly deformed soft hull mask (the idea of Self-Blended Images, Shiohara & Yamasaki,
  CVPR 2022): the only cue is the blending boundary.
- ``faceswap``: a *different* person's face, warped triangle by triangle onto the target's
  landmarks, colour-matched in Lab and alpha-blended (like FF++ FaceSwap / DeepFakes).
- ``lowres``: the same swap rendered at ~32 px face width and upscaled, with a tighter mask and
  an imperfect colour match - the look of early 64x64 autoencoder deepfakes.
- ``lipsync``: the target's own mouth re-rendered from an *independent* speech track with a
  slightly different texture and a per-frame jitter, pasted back in a soft ellipse (a temporal
  artefact like Face2Face / NeuralTextures mouth reenactment, which LipForensics targets).

All but ``lipsync`` are composited once in the identity's still image, before animation, so the
forgery is temporally consistent and moves exactly like the real face.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from .animate import MouthRig, speech_signal
from .faces import FaceSource

FACE_OUTLINE = list(range(0, 27))
"""Jaw line + eyebrows: the hull most face-swap pipelines blend inside."""


def hull_mask(
    shape: tuple[int, int], pts: np.ndarray, grow_px: float, blur_sigma: float
) -> np.ndarray:
    """Soft float32 mask of the convex hull of ``pts``, dilated (``grow_px > 0``) or eroded."""
    mask = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255)
    k = int(round(abs(grow_px)))
    if k:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
        mask = cv2.dilate(mask, kernel) if grow_px > 0 else cv2.erode(mask, kernel)
    mask = mask.astype(np.float32) / 255.0
    if blur_sigma > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), blur_sigma)
    return mask


def _blend(fg: np.ndarray, bg: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None]
    return np.clip(
        fg.astype(np.float32) * m + bg.astype(np.float32) * (1 - m) + 0.5, 0, 255
    ).astype(np.uint8)


def warp_face(
    donor: FaceSource, target_lm: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-affine warp of the donor's face onto ``target_lm`` (Delaunay on the target).

    Returns the warped image (float32, zeros outside) and a binary coverage mask.
    """
    h, w = shape
    out = np.zeros((h, w, 3), np.float32)
    cover = np.zeros((h, w), np.float32)
    for tri in Delaunay(target_lm).simplices:
        dst = target_lm[tri].astype(np.float32)
        src = donor.landmarks[tri].astype(np.float32)
        x, y, bw, bh = cv2.boundingRect(np.round(dst).astype(np.int32))
        x0, y0 = max(x - 1, 0), max(y - 1, 0)
        x1, y1 = min(x + bw + 1, w), min(y + bh + 1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform(src, dst - np.float32([x0, y0]))
        patch = cv2.warpAffine(
            donor.image,
            m,
            (x1 - x0, y1 - y0),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )
        tmask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        # Hard (non anti-aliased) triangles: neighbours share their edge pixels, leaving no seam.
        cv2.fillConvexPoly(tmask, np.round(dst - (x0, y0)).astype(np.int32), 1)
        sel = tmask.astype(bool)
        out[y0:y1, x0:x1][sel] = patch[sel]
        cover[y0:y1, x0:x1][sel] = 1.0
    return out, cover


def colour_transfer(src: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Match the Lab mean and std of ``src`` to ``ref`` inside ``mask`` (Reinhard et al. 2001)."""
    sel = mask > 0.5
    s_lab = cv2.cvtColor(np.clip(src, 0, 255).astype(np.uint8), cv2.COLOR_RGB2LAB).astype(
        np.float32
    )
    r_lab = cv2.cvtColor(ref, cv2.COLOR_RGB2LAB).astype(np.float32)
    s_mu, s_sd = s_lab[sel].mean(0), s_lab[sel].std(0) + 1e-3
    r_mu, r_sd = r_lab[sel].mean(0), r_lab[sel].std(0) + 1e-3
    out = (s_lab - s_mu) / s_sd * r_sd + r_mu
    return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def selfblend(target: FaceSource, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """SBI-style pseudo-fake: a jittered copy of the face blended back inside a deformed hull.

    Returns the composite and its landmarks: the blended-in face is shifted/scaled a little, and
    the mouth rig must open the mouth where the lips now are.
    """
    img = target.image
    fw = target.face_width
    src = img.astype(np.float32)
    # Colour jitter: per-channel shift, brightness and contrast (the "source" looks slightly off).
    shift = rng.uniform(-16, 16, 3)
    src = (src - 128.0) * rng.uniform(0.9, 1.1) + 128.0 * rng.uniform(0.92, 1.08) + shift
    if rng.random() < 0.5:
        src = cv2.GaussianBlur(src, (0, 0), rng.uniform(0.6, 1.1))
    # Geometry jitter: a small scale and translation about the face centre.
    c = target.centre
    s = rng.uniform(0.96, 1.04)
    t = rng.uniform(-0.02, 0.02, 2) * fw
    m = np.array([[s, 0, (1 - s) * c[0] + t[0]], [0, s, (1 - s) * c[1] + t[1]]], np.float32)
    src = cv2.warpAffine(
        np.clip(src, 0, 255), m, img.shape[1::-1], borderMode=cv2.BORDER_REFLECT_101
    )
    # Mask: deformed landmark hull, grown or shrunk, softened by a random amount.
    pts = target.landmarks[FACE_OUTLINE] + rng.normal(0, 0.025 * fw, (len(FACE_OUTLINE), 2))
    mask = hull_mask(
        img.shape[:2], pts, rng.uniform(-0.06, 0.03) * fw, rng.uniform(0.02, 0.05) * fw
    )
    if rng.random() < 0.5:
        mask *= rng.uniform(0.75, 1.0)
    moved = target.landmarks @ m[:, :2].T + m[:, 2]
    return _blend(src, img, mask), moved.astype(np.float32)


def _swap_mask(
    target: FaceSource,
    cover: np.ndarray,
    grow: float,
    blur: float,
    points: list[int] = FACE_OUTLINE,
) -> np.ndarray:
    fw = target.face_width
    inside = cv2.erode(cover, np.ones((5, 5), np.uint8))
    return (
        hull_mask(target.image.shape[:2], target.landmarks[points], grow * fw, blur * fw) * inside
    )


def faceswap(target: FaceSource, donor: FaceSource, rng: np.random.Generator) -> np.ndarray:
    """Another identity's face on the target: landmark warp, Lab colour match, soft alpha blend."""
    warped, cover = warp_face(donor, target.landmarks, target.image.shape[:2])
    mask = _swap_mask(target, cover, rng.uniform(-0.07, -0.04), rng.uniform(0.025, 0.045))
    face = colour_transfer(warped, target.image, mask)
    return _blend(face, target.image, mask)


def lowres(target: FaceSource, donor: FaceSource, rng: np.random.Generator) -> np.ndarray:
    """The swap rendered at autoencoder resolution (~32 px face) and upscaled, tighter mask."""
    warped, cover = warp_face(donor, target.landmarks, target.image.shape[:2])
    inner = list(range(2, 15)) + list(range(17, 27))
    mask = _swap_mask(target, cover, rng.uniform(-0.06, -0.03), rng.uniform(0.012, 0.025), inner)
    face = colour_transfer(warped, target.image, mask).astype(np.float32)
    face *= rng.uniform(0.94, 1.06, 3)  # the decoder never reproduces the colour exactly
    ys, xs = np.nonzero(mask > 0.01)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = face[y0:y1, x0:x1]
    small_w = int(rng.integers(34, 48))
    small_h = max(8, round(small_w * (y1 - y0) / (x1 - x0)))
    crop = cv2.resize(
        cv2.resize(crop, (small_w, small_h), interpolation=cv2.INTER_AREA),
        (x1 - x0, y1 - y0),
        interpolation=cv2.INTER_LINEAR,
    )
    face[y0:y1, x0:x1] = crop
    return _blend(face, target.image, mask)


class LipsyncOverlay:
    """Replaces the mouth with one driven by an independent speech track, frame by frame."""

    def __init__(self, rig: MouthRig, static: np.ndarray, rng: np.random.Generator, n_frames: int):
        self.rig, self.static = rig, static
        self.track = speech_signal(rng, n_frames) * rng.uniform(0.6, 1.0)
        self.gains = rng.uniform(0.94, 1.06, 3).astype(np.float32)
        self.blur = float(rng.uniform(0.7, 1.2))
        # The re-rendered mouth does not stay registered to the face: sub-pixel to 1 px jitter.
        self.jitter = rng.normal(0.0, 0.7, (n_frames, 2)).astype(np.float32)
        h, w = rig.y1 - rig.y0, rig.x1 - rig.x0
        centre = rig.m - (rig.x0, rig.y0) + 0.12 * rig.mouth_w * rig.d
        mask = np.zeros((h, w), np.float32)
        axes = (int(0.85 * rig.mouth_w), int(0.6 * rig.mouth_w))
        cv2.ellipse(
            mask, (int(round(centre[0])), int(round(centre[1]))), axes, rig.angle, 0, 360, 1.0, -1
        )
        self.mask = cv2.GaussianBlur(mask, (0, 0), 0.1 * rig.mouth_w)[..., None]

    def __call__(self, i: int, roi: np.ndarray) -> np.ndarray:
        mouth = self.rig.render(self.static, float(self.track[i])).astype(np.float32)
        mouth = cv2.GaussianBlur(mouth, (0, 0), self.blur) * self.gains
        m = np.float32([[1, 0, self.jitter[i, 0]], [0, 1, self.jitter[i, 1]]])
        mouth = cv2.warpAffine(mouth, m, roi.shape[1::-1], borderMode=cv2.BORDER_REFLECT_101)
        return np.clip(mouth * self.mask + roi * (1 - self.mask) + 0.5, 0, 255).astype(np.uint8)
