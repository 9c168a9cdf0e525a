"""The reference side of the parity tests: the ``efficientnet_pytorch`` package's own network,
built as SBI's ``Detector`` builds it, with synthetic weights that keep activations informative."""

from __future__ import annotations

import pytest
import torch


def calibrated(net: torch.nn.Module, size: int, seed: int = 0) -> torch.nn.Module:
    """Random weights and BatchNorm affine parameters, with BatchNorm statistics measured on
    random images, so the logits depend on the input instead of collapsing or exploding."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * p.detach().std().clamp_min(0.05))
        for m in bns:
            m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g, dtype=m.weight.dtype))
            m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g, dtype=m.bias.dtype))
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one pass sets the batch statistics
        net.train()
        net(torch.rand(4, 3, size, size, generator=g, dtype=next(net.parameters()).dtype))
    return net.eval()


def sbi_reference(width: float, depth: float, image_size: int, seed: int = 0) -> torch.nn.Module:
    """``EfficientNet.from_name('efficientnet-b4', num_classes=2)`` (overridden widths for the tiny
    network), float64, calibrated synthetic weights."""
    ep = pytest.importorskip("efficientnet_pytorch")
    net = ep.EfficientNet.from_name("efficientnet-b4", width_coefficient=width, depth_coefficient=depth,
                                    image_size=image_size, num_classes=2).double()
    return calibrated(net, image_size, seed)


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return float(((ours - ref).abs() / ref.abs().clamp_min(1e-12)).max())
