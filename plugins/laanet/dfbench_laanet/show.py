"""Visual check of the pseudo-fake synthesis (``dfbench laanet show-sbi``): the core generator's
pairs (:mod:`dfbench.synthesis`) with LAA-Net's targets.

One row per sample: real / fake / blend mask / heatmap target / consistency target, the last
three upsampled from the heatmap grid and colour-mapped, written as one PNG with OpenCV.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dfbench.synthesis.faces import crop_with_landmarks, demo_faces, find_landmarks, jittered_frames
from dfbench.synthesis.sbi import PseudoFakePair, SBIGenerator

from .targets import encode_targets

COLUMNS = ("real", "fake", "blend mask", "heatmap target", "consistency target")


def _colour(map01: np.ndarray, size: int) -> np.ndarray:
    m = cv2.resize(map01.astype(np.float32), (size, size), interpolation=cv2.INTER_NEAREST)
    u8 = np.clip(m * 255.0, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(u8, cv2.COLORMAP_INFERNO)[..., ::-1]


def grid_image(pairs: list[PseudoFakePair], tile: int = 192) -> np.ndarray:
    """RGB uint8 grid: one row per pair, the columns of :data:`COLUMNS`, with a header."""
    header_h = 28
    rows = []
    header = np.full((header_h, tile * len(COLUMNS), 3), 255, np.uint8)
    for i, name in enumerate(COLUMNS):
        cv2.putText(header, name, (i * tile + 6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                    cv2.LINE_AA)
    rows.append(header)
    for p in pairs:
        hm, cst = encode_targets(p.boundary)
        tiles = [cv2.resize(p.real, (tile, tile), interpolation=cv2.INTER_AREA),
                 cv2.resize(p.fake, (tile, tile), interpolation=cv2.INTER_AREA),
                 _colour(p.mask, tile), _colour(hm, tile), _colour(cst, tile)]
        row = np.concatenate(tiles, 1)
        label = f"{p.info.get('method', '')} {p.info.get('hull', '')} r={p.info.get('ratio', '')}"
        cv2.putText(row, label, (tile + 4, tile - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1,
                    cv2.LINE_AA)
        rows.append(row)
    return np.concatenate(rows, 0)


def _faces(images: list[str], n: int, size: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    if images:
        faces = []
        for path in images:
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise FileNotFoundError(f"could not read image {path}")
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            faces.append(crop_with_landmarks(rgb, find_landmarks(rgb), size))
    else:
        faces = demo_faces(size)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    k = 0
    while len(out) < n:
        img, lm = faces[k % len(faces)]
        # Later rows of the same face are jittered frames, like other frames of one video.
        out.append((img, lm) if k < len(faces) else jittered_frames(img, lm, 1, seed=seed + k)[0])
        k += 1
    return out


def save_synthesis_grid(out_path: str | Path, images: list[str] | None = None, n: int = 4,
                        size: int = 256, method: str = "sbi", seed: int = 0) -> Path:
    """Generate ``n`` pseudo-fakes (SBI or BI) from ``images`` (default: the demo faces) and save
    the check grid as PNG; returns the path written."""
    faces = _faces(list(images or []), n, size, seed)
    rng = np.random.default_rng(seed)
    if method == "sbi":
        gen = SBIGenerator(out_size=size)
        pairs = [gen(img, lm, rng) for img, lm in faces]
    elif method == "bi":
        from dfbench.synthesis.bi import BIGenerator, FaceBank

        bank = FaceBank.from_videos([[f] for f in faces])
        gen_bi = BIGenerator(bank, out_size=size, k_neighbours=min(30, max(1, len(faces) - 1)))
        pairs = [gen_bi(i, rng) for i in range(len(faces))]
    else:
        raise ValueError(f"method must be 'sbi' or 'bi', got {method!r}")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    grid = grid_image(pairs)
    if not cv2.imwrite(str(out), grid[..., ::-1]):
        raise OSError(f"could not write {out}")
    return out
