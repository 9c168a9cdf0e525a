"""Detector wrappers for the DeepfakeBench baselines (two-class networks -> one fake logit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dfbench.detector import Detector
from dfbench.zoo.efficientnet import build_efficientnet

from .xception import Xception


class TwoClassDetector(Detector):
    """Fake logit = out[1] - out[0] (its sigmoid is DeepfakeBench's softmax probability).

    ``resize_to``: the network's input size when it differs from the crop size (FF++'s 299 px
    Xception fed 256 px DeepfakeBench crops); bicubic, like DeepfakeBench's cv2.INTER_CUBIC.
    """

    def __init__(self, net: nn.Module, input_spec, resize_to: int | None = None) -> None:
        super().__init__(net, input_spec)
        self.resize_to = int(resize_to) if resize_to else None

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        if self.resize_to and x.shape[-1] != self.resize_to:
            x = F.interpolate(x, size=(self.resize_to, self.resize_to), mode="bicubic", align_corners=False)
        out = self.net(x)
        return out[:, 1] - out[:, 0]


def phase_only(x: torch.Tensor) -> torch.Tensor:
    """SPSL's extra channel: the grey image (channel mean of the normalised input) rebuilt from
    its Fourier phase alone (unit magnitude), per image.

    DeepfakeBench calls ``torch.fft.fftn`` without ``dim``, which also transforms along the batch
    axis, so its channel for one image depends on the other images of a 32-image batch; per image
    (this function) equals DeepfakeBench at batch size 1 and keeps scores independent of batching.
    """
    gray = x.mean(dim=1, keepdim=True)
    spectrum = torch.fft.fft2(gray, dim=(-2, -1))
    return torch.fft.ifft2(torch.exp(1j * torch.angle(spectrum)), dim=(-2, -1)).real.to(x.dtype)


class SPSLDetector(TwoClassDetector):
    """SPSL as DeepfakeBench trains it: Xception (4-channel stem) on RGB + the phase-only channel."""

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return super().logits(torch.cat([x, phase_only(x)], dim=1))


def xception_net(config: Mapping[str, Any]) -> Xception:
    keys = ("stem", "entry", "middle_blocks", "exit", "in_chans")
    return Xception(num_classes=2, **{k: config[k] for k in keys if k in config})


def efficientnet_net(config: Mapping[str, Any]) -> nn.Module:
    # DeepfakeBench swaps the stem for a plain unpadded nn.Conv2d(3, 48, 3, stride=2) and keeps
    # efficientnet_pytorch's block padding computed for 380 px, whatever the input size.
    net = build_efficientnet(config["width_mult"], config["depth_mult"], 2,
                             native_size=config["native_size"], stem_padding=False)
    # timm's (Google's) init draws the classifier from U(±1/sqrt(num_classes)), sized for 1000
    # classes: with 2 outputs the untrained logits have a std of ~5 and training from scratch
    # stalls (measured on the demo data: the loss stayed above chance for 16 epochs). PyTorch's
    # default Linear init (U(±1/sqrt(fan_in))) starts near p = 0.5. Loaded weights replace it anyway.
    net.get_classifier().reset_parameters()
    return net


def build_xception(variant) -> TwoClassDetector:
    return TwoClassDetector(xception_net(variant.config), variant.input, variant.config.get("resize_to"))


def build_spsl(variant) -> SPSLDetector:
    return SPSLDetector(xception_net(variant.config), variant.input, variant.config.get("resize_to"))


def build_efficientnet_b4(variant) -> TwoClassDetector:
    return TwoClassDetector(efficientnet_net(variant.config), variant.input)
