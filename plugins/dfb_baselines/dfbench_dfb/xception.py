"""Xception with the module names of Cadene's port (timm's ``legacy_xception``), widths configurable.

Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017. This is the
network FaceForensics++ and DeepfakeBench use (both descend from Cadene's ``pretrainedmodels``
port): unpadded 3x3 stem convolutions (299 -> 149 -> 147), blocks of ReLU -> separable conv -> BN,
strided blocks ending in ``MaxPool2d(3, 2, 1)`` with a strided 1x1 conv + BN skip, and a final ReLU
before global average pooling. Written here so the tiny ``test`` variant can shrink every width;
at full width the state dict equals timm's ``legacy_xception`` (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class SeparableConv2d(nn.Module):
    """Depthwise conv (``conv1``) then pointwise 1x1 (``pointwise``), no biases."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, padding: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, kernel_size, 1, padding, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.conv1(x))


class Block(nn.Module):
    """``reps`` x (ReLU, separable conv, BN) with a residual; the Sequential's indices follow the
    original layout (a block that does not start with a ReLU shifts every index by one)."""

    def __init__(self, cin: int, cout: int, reps: int, stride: int = 1, start_with_relu: bool = True,
                 grow_first: bool = True) -> None:
        super().__init__()
        if cout != cin or stride != 1:
            self.skip = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
            self.skipbn = nn.BatchNorm2d(cout)
        else:
            self.skip = None
        widths = ([(cin, cout)] + [(cout, cout)] * (reps - 1)) if grow_first else \
            ([(cin, cin)] * (reps - 1) + [(cin, cout)])
        layers: list[nn.Module] = []
        for a, b in widths:
            # The first ReLU must not work in place: the skip branch reads the block input.
            layers += [nn.ReLU(inplace=bool(layers)), SeparableConv2d(a, b), nn.BatchNorm2d(b)]
        if not start_with_relu:
            layers = layers[1:]
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skipbn(self.skip(x)) if self.skip is not None else x
        return self.rep(x) + skip


class Xception(nn.Module):
    """``forward(x) -> [B, num_classes]``; ``features``/``logits`` as in the original port."""

    def __init__(self, num_classes: int = 2, stem: Sequence[int] = (32, 64),
                 entry: Sequence[int] = (128, 256, 728), middle_blocks: int = 8,
                 exit: Sequence[int] = (1024, 1536, 2048), in_chans: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, stem[0], 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(stem[0])
        self.conv2 = nn.Conv2d(stem[0], stem[1], 3, bias=False)
        self.bn2 = nn.BatchNorm2d(stem[1])
        chans = [stem[1], *entry]
        blocks = [Block(chans[i], chans[i + 1], 2, 2, start_with_relu=i > 0) for i in range(len(entry))]
        blocks += [Block(entry[-1], entry[-1], 3, 1) for _ in range(middle_blocks)]
        blocks += [Block(entry[-1], exit[0], 2, 2, grow_first=False)]
        self.n_blocks = len(blocks)
        for i, b in enumerate(blocks, 1):
            self.add_module(f"block{i}", b)
        self.conv3 = SeparableConv2d(exit[0], exit[1])
        self.bn3 = nn.BatchNorm2d(exit[1])
        self.conv4 = SeparableConv2d(exit[1], exit[2])
        self.bn4 = nn.BatchNorm2d(exit[2])
        self.num_features = exit[2]
        self.fc = nn.Linear(exit[2], num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for i in range(1, self.n_blocks + 1):
            x = getattr(self, f"block{i}")(x)
        x = F.relu(self.bn3(self.conv3(x)))
        return self.bn4(self.conv4(x))

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(F.adaptive_avg_pool2d(F.relu(features), 1).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(x))
