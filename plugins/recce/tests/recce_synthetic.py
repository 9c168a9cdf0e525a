"""Tiny synthetic face-like data for training tests: reals are smooth, fakes carry a blended,
high-frequency patch in the centre (a crude stand-in for a blending boundary)."""

from __future__ import annotations

from pathlib import Path

import cv2
import torch
from dfbench_recce.data import ArrayDataset


def synthetic_crops(n: int, size: int = 64, seed: int = 0) -> ArrayDataset:
    g = torch.Generator().manual_seed(seed)
    imgs, labels, groups = [], [], []
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    for i in range(n):
        base = torch.rand(3, 1, 1, generator=g) * 0.5 + 0.25
        tilt = (torch.rand(3, 1, 1, generator=g) - 0.5) * 0.4
        img = base + tilt * (xx + yy) / 2 + torch.randn(3, size, size, generator=g) * 0.02
        label = i % 2
        if label:
            q = size // 4
            checker = ((torch.arange(2 * q)[:, None] + torch.arange(2 * q)[None, :]) % 2).float()
            img[:, q:3 * q, q:3 * q] = 0.5 * img[:, q:3 * q, q:3 * q] + 0.5 * checker
        imgs.append((img.clamp(0, 1) * 255).round().to(torch.uint8))
        labels.append(label)
        groups.append(f"v{i // 2}")
    return ArrayDataset(torch.stack(imgs), labels, groups)


def write_folder(root: Path, ds: ArrayDataset, split: str) -> None:
    """Write crops as <root>/<split>/{real,fake}/vid<k>_<j>.png (two frames per video)."""
    for i in range(len(ds)):
        img, label = ds[i]
        d = root / split / ("fake" if label else "real")
        d.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d / f"vid{i // 2}_{i % 2}.png"), img.permute(1, 2, 0).numpy()[:, :, ::-1])
