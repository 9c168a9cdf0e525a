"""The SBI network (EfficientNet-B4, timm layout) and its dfbench detector wrapper."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from dfbench.detector import Detector
from dfbench.zoo.efficientnet import build_efficientnet

from .spec import EFNB4_CONFIG


def build_net(config: Mapping[str, Any] | None = None) -> nn.Module:
    """EfficientNet with 2 outputs (real, fake), padding frozen as ``efficientnet_pytorch`` has it
    for ``native_size`` (the official network is built for 380 px)."""
    c = {**EFNB4_CONFIG, **dict(config or {})}
    return build_efficientnet(c["width_mult"], c["depth_mult"], 2, native_size=c["native_size"])


class SBIDetector(Detector):
    """Input [0, 1] RGB (no mean/std, as the official inference); output logit_fake - logit_real,
    whose sigmoid is exactly the official softmax probability of "fake"."""

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out[:, 1] - out[:, 0]


def build_detector(variant) -> SBIDetector:
    return SBIDetector(build_net(variant.config), variant.input)
