"""Training targets of LAA-Net: vulnerable points, their heatmap and the consistency map.

Nguyen et al., "Laa-Net: Localized Artifact Attention Network for Quality-Agnostic and
Generalizable Deepfake Detection", CVPR 2024, https://arxiv.org/abs/2401.13856.
Written from our clean-room notes on LAA-Net (not shipped) §3 (the official "v1" encoding):

* B = 4M(1−M) as uint8 on the heatmap grid (see :func:`dfbench.synthesis.sbi.boundary_from_mask`);
* per 2×2 quadrant, the vulnerable points are all pixels equal to the quadrant's maximum of B;
* each point gets a Gaussian of σ = r/3 + 1e-4, r the CornerNet radius (min overlap 0.7) of the
  run lengths of ``B > 128`` through the point; Gaussians combine by element-wise max, so the
  points themselves are exactly 1.0 (the positives of the focal loss);
* consistency C = 1 − |max(B) − B|/255 inside quadrants that touch the boundary, 0 elsewhere.

Deliberate difference: each Gaussian is centred exactly on its point; the official integer
arithmetic shifts some peaks by one pixel up-left (§3.3), which we do not reproduce.
"""

from __future__ import annotations

import numpy as np

BOUNDARY_THRESHOLD = 128


def gaussian_radius(h: np.ndarray | float, w: np.ndarray | float, min_overlap: float = 0.7) -> np.ndarray:
    """CornerNet/CenterNet radius for a box of size (h, w), vectorised.

    Kept in the widely used form (``/2`` where the quadratic formula has ``/2a``) because the
    official targets and every CenterNet-derived model use it.
    """
    h = np.asarray(h, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    b1 = h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(np.maximum(b1**2 - 4 * c1, 0))) / 2
    b2 = 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 + np.sqrt(np.maximum(b2**2 - 16 * c2, 0))) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + np.sqrt(np.maximum(b3**2 - 4 * a3 * c3, 0))) / 2
    return np.minimum(np.minimum(r1, r2), r3)


def vulnerable_points(boundary: np.ndarray) -> np.ndarray:
    """``[P, 2]`` (row, col) of the per-quadrant maxima of B (all ties), empty if B ≡ 0."""
    b = np.asarray(boundary)
    h, w = b.shape
    out = []
    for r0, r1 in ((0, h // 2), (h // 2, h)):
        for c0, c1 in ((0, w // 2), (w // 2, w)):
            q = b[r0:r1, c0:c1]
            m = q.max() if q.size else 0
            if m == 0:
                continue
            rr, cc = np.nonzero(q == m)
            out.append(np.stack([rr + r0, cc + c0], 1))
    return np.concatenate(out, 0) if out else np.zeros((0, 2), np.int64)


def _runs(inside: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertical and horizontal run lengths through every pixel of a boolean map.

    A run counts consecutive ``inside`` pixels walking up and walking down from the pixel, the
    pixel itself counted once per direction (so an isolated inside pixel has run 2, an outside
    pixel 0), as the official target code counts them.
    """
    t = np.asarray(inside, bool)
    h, w = t.shape
    rows = np.arange(h)[:, None]
    cols = np.arange(w)[None, :]
    # Distance to the nearest outside pixel in each direction, via running max/min of the
    # indices of outside pixels (no Python loop over rows).
    last_out_up = np.maximum.accumulate(np.where(t, -1, rows), axis=0)
    next_out_down = np.minimum.accumulate(np.where(t, h, rows)[::-1], axis=0)[::-1]
    last_out_left = np.maximum.accumulate(np.where(t, -1, cols), axis=1)
    next_out_right = np.minimum.accumulate(np.where(t, w, cols)[:, ::-1], axis=1)[:, ::-1]
    up, down = rows - last_out_up, next_out_down - rows
    left, right = cols - last_out_left, next_out_right - cols
    return up + down, left + right


def heatmap_target(boundary: np.ndarray, points: np.ndarray | None = None) -> np.ndarray:
    """Gaussian heatmap (float32, peaks exactly 1.0) over the vulnerable points of B.

    All points are drawn at once: each contributes exp(−d²/2σ²) on its own 3σ box (the official
    patch), and overlapping contributions combine by element-wise max (``np.maximum.at``).
    """
    b = np.asarray(boundary)
    h, w = b.shape
    hm = np.zeros(h * w, np.float32)
    pts = vulnerable_points(b) if points is None else np.asarray(points)
    if len(pts) == 0:
        return hm.reshape(h, w)
    vert, horiz = _runs(b > BOUNDARY_THRESHOLD)
    r = gaussian_radius(horiz[pts[:, 0], pts[:, 1]], vert[pts[:, 0], pts[:, 1]])
    sigma = r / 3.0 + 1e-4
    half = int(np.ceil(3.0 * sigma.max()))
    off = np.arange(-half, half + 1)
    dy, dx = (a.ravel() for a in np.meshgrid(off, off, indexing="ij"))
    rr = pts[:, :1] + dy[None]
    cc = pts[:, 1:] + dx[None]
    t = 3.0 * sigma[:, None]
    valid = (np.abs(dy)[None] <= t) & (np.abs(dx)[None] <= t) & (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
    val = np.exp(-(dy * dy + dx * dx)[None] / (2.0 * sigma[:, None] ** 2)).astype(np.float32)
    np.maximum.at(hm, (rr * w + cc)[valid], val[valid])
    return hm.reshape(h, w)


def consistency_target(boundary: np.ndarray) -> np.ndarray:
    """C = 1 − |max(B) − B|/255 in quadrants whose B is not all zero; 0 elsewhere (float32)."""
    b = np.asarray(boundary).astype(np.float32)
    h, w = b.shape
    c = np.zeros((h, w), np.float32)
    bmax = float(b.max())
    if bmax == 0:
        return c
    for r0, r1 in ((0, h // 2), (h // 2, h)):
        for c0, c1 in ((0, w // 2), (w // 2, w)):
            q = b[r0:r1, c0:c1]
            if q.size and q.max() > 0:
                c[r0:r1, c0:c1] = (255.0 - np.abs(bmax - q)) / 255.0
    return c


def encode_targets(boundary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(heatmap, consistency)`` float32 maps for one boundary map B (uint8 [h, w])."""
    return heatmap_target(boundary), consistency_target(boundary)


def pair_targets(pair) -> dict:
    """LAA-Net's per-pair training targets for ``dfbench.synthesis.pairs.PairDataset(targets=...)``:
    the fake's heatmap and consistency maps as float32 ``[1, h, w]`` tensors (the reals' are zero,
    set by ``collate_pairs``)."""
    import torch

    hm, cst = encode_targets(pair.boundary)
    return {"heatmap": torch.from_numpy(hm)[None], "consistency": torch.from_numpy(cst)[None]}
