"""Reference networks for the parity tests: the PyPI packages' own code, wrapped the way
DeepfakeBench's detector classes wrap them, with calibrated synthetic weights."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn


def calibrated(net: nn.Module, size: int, seed: int = 0) -> nn.Module:
    """Random weights and BN affine parameters; BN statistics measured on random images so that
    the logits depend on the input (neither collapsing nor exploding)."""
    g = torch.Generator().manual_seed(seed)
    dtype = next(net.parameters()).dtype
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * p.detach().std().clamp_min(0.05))
        for m in bns:
            m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g, dtype=dtype))
            m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g, dtype=dtype))
            m.reset_running_stats()
            m.momentum = None
        net.train()
        net(torch.rand(4, 3, size, size, generator=g, dtype=dtype) * 2 - 1)
    return net.eval()


def pretrainedmodels_xception(seed: int = 0, size: int = 299) -> nn.Module:
    """Cadene's ``pretrainedmodels`` Xception (2 classes, ``fc`` renamed ``last_linear`` as its
    factory does), loaded from the package's file without importing the package's model zoo."""
    spec = importlib.util.find_spec("pretrainedmodels")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pretrainedmodels is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "xception.py"
    mod_spec = importlib.util.spec_from_file_location("_pretrainedmodels_xception", path)
    mod = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(mod)
    net = mod.Xception(num_classes=2)
    net.last_linear = net.fc
    del net.fc
    return calibrated(net.double(), size, seed)


def dfb_xception_state(ref: nn.Module) -> dict[str, torch.Tensor]:
    """``XceptionDetector.state_dict()`` for a backbone: ``backbone.*`` + the unused adjust_channel."""
    state = {"backbone." + k: v for k, v in ref.state_dict().items()}
    g = torch.Generator().manual_seed(9)
    state.update({"backbone.adjust_channel.0.weight": torch.randn(512, 2048, 1, 1, generator=g, dtype=torch.float64),
                  "backbone.adjust_channel.0.bias": torch.zeros(512, dtype=torch.float64),
                  "backbone.adjust_channel.1.weight": torch.ones(512, dtype=torch.float64),
                  "backbone.adjust_channel.1.bias": torch.zeros(512, dtype=torch.float64),
                  "backbone.adjust_channel.1.running_mean": torch.zeros(512, dtype=torch.float64),
                  "backbone.adjust_channel.1.running_var": torch.ones(512, dtype=torch.float64),
                  "backbone.adjust_channel.1.num_batches_tracked": torch.tensor(0)})
    return state


class DFBEfficientNet(nn.Module):
    """DeepfakeBench's EfficientNetB4 backbone around ``efficientnet_pytorch``: plain unpadded
    stem conv, classifier removed, features -> global average pool -> ``last_layer``."""

    def __init__(self, width: float, depth: float, image_size: int) -> None:
        super().__init__()
        ep = pytest.importorskip("efficientnet_pytorch")
        self.efficientnet = ep.EfficientNet.from_name("efficientnet-b4", width_coefficient=width,
                                                      depth_coefficient=depth, image_size=image_size)
        stem = self.efficientnet._conv_stem.out_channels
        self.efficientnet._conv_stem = nn.Conv2d(3, stem, kernel_size=3, stride=2, bias=False)
        self.efficientnet._fc = nn.Identity()
        self.last_layer = nn.Linear(self.efficientnet._bn1.num_features, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_layer(F.adaptive_avg_pool2d(self.efficientnet.extract_features(x), 1).flatten(1))


def dfb_efficientnet(width: float, depth: float, image_size: int, fed: int, seed: int = 0) -> DFBEfficientNet:
    return calibrated(DFBEfficientNet(width, depth, image_size).double(), fed, seed)


def rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    return float(((ours - ref).abs() / ref.abs().clamp_min(1e-12)).max())


def pretrainedmodels_spsl(seed: int = 0, size: int = 256) -> nn.Module:
    """The pretrainedmodels Xception with the 4-channel stem DeepfakeBench's SPSL swaps in."""
    net = pretrainedmodels_xception(seed, size=size)
    with torch.no_grad():
        conv = nn.Conv2d(4, 32, 3, 2, 0, bias=False).double()
        conv.weight.copy_(net.conv1.weight.mean(dim=1, keepdim=True).repeat(1, 4, 1, 1)
                          + 0.05 * torch.randn(32, 4, 3, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64))
    net.conv1 = conv
    return net


def dfb_phase(img: torch.Tensor) -> torch.Tensor:
    """DeepfakeBench's ``phase_without_amplitude``, as written there: ``fftn`` over every axis."""
    gray = torch.mean(img, dim=1, keepdim=True)
    return torch.real(torch.fft.ifftn(torch.exp(1j * torch.angle(torch.fft.fftn(gray)))))
