"""UnivFD's network: open_clip's CLIP vision tower (frozen) + a linear probe to one fake logit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from dfbench.detector import Detector


class UnivFD(nn.Module):
    """``forward(x) -> [B, 1]`` on CLIP-normalised images. The encoder is built by ``open_clip``
    itself (QuickGELU, as OpenAI's weights were trained), so its numerics are open_clip's."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__()
        from open_clip.model import _build_vision_tower

        self.visual = _build_vision_tower(config["embed_dim"], dict(config["vision_cfg"]), quick_gelu=True)
        self.fc = nn.Linear(config["embed_dim"], 1)
        self.visual.requires_grad_(False)  # UnivFD never trains the encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.visual(x))


def build_detector(variant) -> Detector:
    return Detector(UnivFD(variant.config), variant.input)
