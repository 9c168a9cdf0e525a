"""Tiny synthetic face-like data for training tests: reals are smooth, fakes carry a blended,
high-frequency patch in the centre (a crude stand-in for a blending boundary)."""

from __future__ import annotations

from pathlib import Path

import cv2
from dfbench_recce.data import ArrayDataset

from dfbench.testing.crops import checker_crops


def synthetic_crops(n: int, size: int = 64, seed: int = 0) -> ArrayDataset:
    """Alternating real/fake crops, two a video (:func:`dfbench.testing.crops.checker_crops`)."""
    return checker_crops(n, size, seed)


def write_folder(root: Path, ds: ArrayDataset, split: str) -> None:
    """Write crops as <root>/<split>/{real,fake}/vid<k>_<j>.png (two frames per video)."""
    for i in range(len(ds)):
        img, label = ds[i]
        d = root / split / ("fake" if label else "real")
        d.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d / f"vid{i // 2}_{i % 2}.png"), img.permute(1, 2, 0).numpy()[:, :, ::-1])
