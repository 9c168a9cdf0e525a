"""Synthetic face-crop-like data for crop-classifier training tests (the core's and every family's).

Smooth "reals" (a random base colour and tilt plus a little noise); "fakes" carry a high-frequency
checker patch blended into the centre (a crude stand-in for a blending boundary), so a tiny
network learns the task in a few steps. Which crops are fake and how they group into videos is the
caller's choice, so each test keeps the layout it was written for.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..training.crops import ArrayDataset


def checker_crops(n: int, size: int, seed: int, *, label: Callable[[int], int] = lambda i: i % 2,
                  group: Callable[[int], str] = lambda i: f"v{i // 2}") -> ArrayDataset:
    """``n`` uint8 crops of ``size`` px drawn from ``seed``; crop ``i`` is fake when ``label(i)``
    and belongs to video ``group(i)``."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    imgs, labels, groups = [], [], []
    for i in range(n):
        base = torch.rand(3, 1, 1, generator=g) * 0.5 + 0.25
        tilt = (torch.rand(3, 1, 1, generator=g) - 0.5) * 0.4
        img = base + tilt * (xx + yy) / 2 + torch.randn(3, size, size, generator=g) * 0.02
        fake = label(i)
        if fake:
            q = size // 4
            checker = ((torch.arange(2 * q)[:, None] + torch.arange(2 * q)[None, :]) % 2).float()
            img[:, q:3 * q, q:3 * q] = 0.5 * img[:, q:3 * q, q:3 * q] + 0.5 * checker
        imgs.append((img.clamp(0, 1) * 255).round().to(torch.uint8))
        labels.append(fake)
        groups.append(group(i))
    return ArrayDataset(torch.stack(imgs), labels, groups)


__all__ = ["checker_crops"]
