"""Self-Blended Images (SBI) pseudo-fakes: one generator for LAA-Net and SBI training.

Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022,
https://arxiv.org/abs/2204.08376 — in the variant of Nguyen et al., "Laa-Net: Localized
Artifact Attention Network for Quality-Agnostic and Generalizable Deepfake Detection", CVPR 2024,
https://arxiv.org/abs/2401.13856. Written from our clean-room notes on LAA-Net (not shipped) §4.1–4.2.

One call turns a real face crop and its landmarks into a ``(real, fake, blend mask)`` pair:
hull mask of one of four types -> source/target colour and frequency transform -> random affine
of source and mask, elastic deformation of the mask -> blurred blend mask, random blend ratio ->
margin crop -> joint geometry (flip, crop/scale/erasing) and fit to the network size -> joint
colour jitter and JPEG. Real and fake share every geometric and final colour parameter.

The defaults are LAA-Net's variant of the recipe (blend-mask resize range, hull choice, boundary
from the unscaled mask); ``dfbench sbi train`` draws from the same generator (``dfbench_sbi.train``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ..media.faces import extend_forehead
from . import augment
from .hulls import HULL_TYPES, random_hull_mask

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)


@dataclass
class PseudoFakePair:
    """A real face and its pseudo-fake, both ``uint8 [S, S, 3]`` RGB at the network size.

    ``mask`` is the blend mask M (float32 in [0, 1]) and ``boundary`` the map B = 4M(1−M) as
    uint8 (×255), both on the heatmap grid ``[S/4, S/4]``; the real's are all zero.
    """

    real: np.ndarray
    fake: np.ndarray
    mask: np.ndarray
    boundary: np.ndarray
    info: dict = field(default_factory=dict)


def boundary_from_mask(mask: np.ndarray) -> np.ndarray:
    """B = 4·M·(1−M) in uint8 (255 where M = 0.5): the blending boundary of Face X-ray."""
    m = mask.astype(np.float32)
    return np.clip(np.round(4.0 * m * (1.0 - m) * 255.0), 0, 255).astype(np.uint8)


def blend(target: np.ndarray, source: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``weight·source + (1−weight)·target`` (uint8), computed only inside the mask's box."""
    out = target.copy()
    ys, xs = np.nonzero(weight > 0)
    if ys.size == 0:
        return out
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    w = weight[y0:y1, x0:x1, None]
    t = target[y0:y1, x0:x1].astype(np.float32)
    s = source[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.clip(t + w * (s - t), 0, 255).astype(np.uint8)
    return out


def prepare_landmarks(landmarks: np.ndarray, extend: bool = True) -> np.ndarray:
    """68 points -> 68 + 13 synthetic forehead points (when ``extend``); 81 points unchanged."""
    lm = np.asarray(landmarks, dtype=np.float32)
    if lm.ndim != 2 or lm.shape[1] != 2 or lm.shape[0] < 68:
        raise ValueError(f"expected [K>=68, 2] landmarks (dlib 68 layout), got shape {lm.shape}")
    if lm.shape[0] == 68 and extend:
        return extend_forehead(lm)
    return lm


@dataclass
class Finisher:
    """The steps SBI and BI share after blending: margin crop, joint geometry, fit, colour."""

    out_size: int = 384
    hm_size: int | None = None
    margin: tuple[int, int] = (5, 25)
    train: bool = True
    final_colour: bool = True

    @property
    def hm(self) -> int:
        return self.hm_size or self.out_size // 4

    def __call__(self, real: np.ndarray, fake: np.ndarray, mask: np.ndarray,
                 rng: np.random.Generator, info: dict) -> PseudoFakePair:
        m = int(rng.integers(self.margin[0], self.margin[1])) if self.train else self.margin[0]
        h, w = real.shape[:2]
        m = min(m, (min(h, w) - 8) // 2) if min(h, w) > 8 else 0
        sl = (slice(m, h - m), slice(m, w - m))
        geo = augment.draw_geometry(rng, self.train)
        real_o = geo.warp(real[sl], self.out_size)
        fake_o = geo.warp(fake[sl], self.out_size)
        # The mask follows the image's geometry onto the heatmap grid (bilinear, as the official
        # code warps its uint8 boundary map); B is then recomputed from the warped M.
        mask_o = geo.warp(np.ascontiguousarray(mask[sl]), self.hm)
        if self.final_colour and self.train:
            jit = augment.draw_colour_jitter(rng, p_shift=0.3, shift=20, p_bc=0.3, brightness=0.3,
                                             contrast=0.3, p_jpeg=0.5)
            real_o, fake_o = jit.apply(real_o), jit.apply(fake_o)
            info["jpeg"] = jit.jpeg_quality
        info.update(flip=geo.flip, margin=m)
        return PseudoFakePair(real_o, fake_o, mask_o, boundary_from_mask(mask_o), info)


@dataclass
class SBIGenerator:
    """Self-blended pseudo-fakes (LAA-Net's variant by default).

    ``boundary_uses_ratio=False`` (LAA-Net) derives B from the blurred mask before it is scaled
    by the blend ratio; ``True`` (SBI) from the scaled one. ``blend_resize`` is the random resize
    range of the blend mask relative to the image (LAA-Net: 0.8–1.25; SBI used 192–256 px).
    """

    out_size: int = 384
    hm_size: int | None = None
    train: bool = True
    hull_types: tuple[str, ...] = HULL_TYPES
    p_drop_forehead: float = 0.25
    extend_forehead: bool = True
    boundary_uses_ratio: bool = False
    blend_resize: tuple[float, float] = (0.8, 1.25)
    margin: tuple[int, int] = (5, 25)
    max_tries: int = 4

    def __post_init__(self) -> None:
        self._finish = Finisher(self.out_size, self.hm_size, self.margin, self.train)

    def __call__(self, image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator
                 ) -> PseudoFakePair:
        """``image``: uint8 ``[H, W, 3]`` RGB face crop; ``landmarks``: ``[68|81, 2]`` (x, y) in it."""
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a uint8 [H, W, 3] RGB image, got {image.dtype} {image.shape}")
        lm = prepare_landmarks(landmarks, self.extend_forehead)
        if lm.shape[0] > 68 and rng.random() < self.p_drop_forehead:
            lm = lm[:68]
        h, w = image.shape[:2]
        real, source = image, image
        if rng.random() < 0.5:
            source = augment.source_target_transform(image, rng)
        else:
            real = augment.source_target_transform(image, rng)
        mask = np.zeros((h, w), np.float32)
        hull = "none"
        for _ in range(self.max_tries):
            hull_u8, hull = random_hull_mask((h, w), lm, rng, self.hull_types)
            src_w, mask_w = augment.random_affine(source, hull_u8.astype(np.float32) / 255.0, rng)
            mask_w = augment.elastic(mask_w, rng)
            mask = augment.blend_mask(mask_w, rng, self.blend_resize)
            if mask.max() > 0:
                source = src_w
                break
        else:
            # Landmarks too small for the erosion (a tiny face): fall back to a soft full hull
            # rather than emitting a "fake" that equals the real, the official code's failure mode.
            hull = "facehull_soft"
            mask = cv2.GaussianBlur(random_hull_mask((h, w), lm, rng, ("facehull",))[0]
                                    .astype(np.float32) / 255.0, (0, 0), 3)
        ratio = float(BLEND_RATIOS[int(rng.integers(len(BLEND_RATIOS)))])
        fake = blend(real, source, mask * ratio)
        gt_mask = mask * ratio if self.boundary_uses_ratio else mask
        info = {"method": "sbi", "hull": hull, "ratio": ratio, "n_landmarks": int(lm.shape[0])}
        return self._finish(real, fake, gt_mask, rng, info)
