"""Xception with the module names of Cadene's port (timm's ``legacy_xception``), widths configurable.

Chollet, "Xception: Deep Learning with Depthwise Separable Convolutions", CVPR 2017,
https://arxiv.org/abs/1610.02357. The network FaceForensics++, DeepfakeBench and RECCE use (all
descend from Cadene's ``pretrainedmodels`` port, which timm 0.3.4 shipped as ``xception``): written
here once so tiny ``test`` variants can shrink every width, and so a family can tap blocks from the
outside (RECCE reads block4, block7 and block8). At full width the state dict equals timm's
``legacy_xception`` (tested by the DeepfakeBench and RECCE plugins, float64).

Details that decide parity: the stem convolutions have no padding (299 -> 149 -> 147); a block's
first ReLU is *not* in place, because the identity skip reads the block input afterwards (and a
caller may still hold it, e.g. RECCE's block4 embedding that its decoder also reads); strided
blocks end in ``MaxPool2d(3, 2, 1)`` with a strided 1x1 conv + BN skip; a final ReLU comes before
global average pooling. The ``rep`` Sequential indices are part of the checkpoint format
(``rep.1.conv1.weight``...), so the weightless ReLUs stay in it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class SeparableConv2d(nn.Module):
    """Depthwise conv (``conv1``) then pointwise 1x1 (``pointwise``), no biases by default."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride: int = 1, padding: int = 1,
                 bias: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, kernel_size, stride, padding, groups=cin, bias=bias)
        self.pointwise = nn.Conv2d(cin, cout, 1, 1, 0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.conv1(x))


class Block(nn.Module):
    """``reps`` x (ReLU, separable conv, BN) with a residual (+ max-pool when strided); a block that
    does not start with a ReLU shifts every ``rep`` index by one, as in the original layout."""

    def __init__(self, cin: int, cout: int, reps: int, stride: int = 1, start_with_relu: bool = True,
                 grow_first: bool = True) -> None:
        super().__init__()
        if cout != cin or stride != 1:
            self.skip: nn.Module | None = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
            self.skipbn: nn.Module | None = nn.BatchNorm2d(cout)
        else:
            self.skip = None
            self.skipbn = None
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
    """``forward(x) -> [B, num_classes]``; ``features`` (before the last ReLU) and ``logits`` as in
    the original port, ``forward_features`` as timm's (after it). ``num_classes=0``: no classifier.

    ``stem`` = (conv1, conv2) widths, ``entry`` = the entry-flow blocks' widths (the last is the
    middle-flow width, 728 in the paper), ``exit`` = (exit block, conv3, conv4) widths; ``exit[-1]``
    is the feature width the head pools (2048).
    """

    def __init__(self, num_classes: int = 2, stem: Sequence[int] = (32, 64),
                 entry: Sequence[int] = (128, 256, 728), middle_blocks: int = 8,
                 exit: Sequence[int] = (1024, 1536, 2048), in_chans: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_chans, stem[0], 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(stem[0])
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(stem[0], stem[1], 3, bias=False)
        self.bn2 = nn.BatchNorm2d(stem[1])
        self.act2 = nn.ReLU(inplace=True)
        chans = [stem[1], *entry]
        blocks = [Block(chans[i], chans[i + 1], 2, 2, start_with_relu=i > 0) for i in range(len(entry))]
        blocks += [Block(entry[-1], entry[-1], 3, 1) for _ in range(middle_blocks)]
        blocks += [Block(entry[-1], exit[0], 2, 2, grow_first=False)]
        self.n_blocks = len(blocks)
        for i, b in enumerate(blocks, 1):
            self.add_module(f"block{i}", b)
        self.conv3 = SeparableConv2d(exit[0], exit[1])
        self.bn3 = nn.BatchNorm2d(exit[1])
        self.act3 = nn.ReLU(inplace=True)
        self.conv4 = SeparableConv2d(exit[1], exit[2])
        self.bn4 = nn.BatchNorm2d(exit[2])
        self.act4 = nn.ReLU(inplace=True)
        self.mid_channels = entry[-1]
        self.num_features = exit[2]
        self.fc = nn.Linear(exit[2], num_classes) if num_classes else None

    def block(self, i: int) -> nn.Module:
        return getattr(self, f"block{i}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last BatchNorm's output (the original port's ``features``: no final ReLU)."""
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        for i in range(1, self.n_blocks + 1):
            x = self.block(i)(x)
        x = self.act3(self.bn3(self.conv3(x)))
        return self.bn4(self.conv4(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """timm's ``forward_features``: the 2048-channel map after the final ReLU."""
        return self.act4(self.features(x))

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        if self.fc is None:
            raise RuntimeError("this Xception was built without a classifier (num_classes=0)")
        return self.fc(F.adaptive_avg_pool2d(F.relu(features), 1).flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.features(x))


__all__ = ["Block", "SeparableConv2d", "Xception"]
