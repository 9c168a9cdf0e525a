"""Xception encoder with the module names and padding of timm 0.3.4's ``xception`` (Cadene port).

"Xception: Deep Learning with Depthwise Separable Convolutions" (Chollet, CVPR 2017),
https://arxiv.org/abs/1610.02357.

RECCE's official checkpoints store the encoder under ``encoder.*`` with the layout of the Cadene
port that timm 0.3.4 shipped (``legacy_xception`` in timm 1.x). We write our own copy instead of
wrapping timm's so that (a) the widths can shrink for the millisecond ``test`` variants and (b) the
layer order RECCE depends on (it taps block4, block7 and block8 from the outside) is explicit
here. ``tests/test_model.py`` checks parity against timm's ``legacy_xception`` at full width.

Details that decide parity (see the reference notes): the stem convolutions have no padding
(299 -> 149 -> 147); a block's first ReLU is *not* in-place because the identity skip reads the
block input afterwards; strided blocks end in ``MaxPool2d(3, 2, 1)`` and use a 1x1 strided conv +
BN skip.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class SeparableConv2d(nn.Module):
    """Depthwise 3x3 (``conv1``) followed by pointwise 1x1 (``pointwise``), both without bias."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 3, stride: int = 1,
                 padding: int = 1, bias: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, in_ch, kernel_size, stride, padding, groups=in_ch, bias=bias)
        self.pointwise = nn.Conv2d(in_ch, out_ch, 1, 1, 0, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.conv1(x))


class Block(nn.Module):
    """Xception residual block: ``reps`` x [ReLU, SeparableConv, BN] (+ max-pool when strided).

    The ``rep`` Sequential indices are part of the checkpoint format (``rep.1.conv1.weight``...),
    so the ReLU modules must stay in the Sequential even though they hold no weights.
    """

    def __init__(self, in_ch: int, out_ch: int, reps: int, stride: int = 1,
                 start_with_relu: bool = True, grow_first: bool = True) -> None:
        super().__init__()
        if out_ch != in_ch or stride != 1:
            self.skip: nn.Module | None = nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False)
            self.skipbn: nn.Module | None = nn.BatchNorm2d(out_ch)
        else:
            self.skip = None
            self.skipbn = None
        layers: list[nn.Module] = []
        for i in range(reps):
            if grow_first:
                cin, cout = (in_ch if i == 0 else out_ch), out_ch
            else:
                cin, cout = in_ch, (in_ch if i < reps - 1 else out_ch)
            # The first ReLU must not be in-place: with an identity skip it would overwrite the
            # block input that the skip adds back (and the caller's tensor, e.g. RECCE's block4
            # embedding that the decoder also reads).
            layers.append(nn.ReLU(inplace=(i != 0)))
            layers.append(SeparableConv2d(cin, cout, 3, 1, 1))
            layers.append(nn.BatchNorm2d(cout))
        if not start_with_relu:
            layers = layers[1:]
        if stride != 1:
            layers.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.rep(x)
        skip = self.skipbn(self.skip(x)) if self.skip is not None else x
        return out + skip


class Xception(nn.Module):
    """Xception trunk (no classifier: RECCE never reads ``encoder.fc``; the converter drops it).

    ``stem`` = (conv1, conv2) widths, ``entry`` = block1..3 widths (block3's is the middle-flow
    width, 728 in the paper), ``exit`` = (block12, conv3, conv4) widths; ``exit[-1]`` is the
    feature width the head pools (2048).
    """

    def __init__(self, stem: Sequence[int] = (32, 64), entry: Sequence[int] = (128, 256, 728),
                 exit: Sequence[int] = (1024, 1536, 2048), in_chans: int = 3) -> None:
        super().__init__()
        s1, s2 = stem
        e1, e2, mid = entry
        x12, x3, x4 = exit
        self.num_features = x4
        self.mid_channels = mid
        self.conv1 = nn.Conv2d(in_chans, s1, 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(s1)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(s1, s2, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(s2)
        self.act2 = nn.ReLU(inplace=True)
        self.block1 = Block(s2, e1, 2, 2, start_with_relu=False)
        self.block2 = Block(e1, e2, 2, 2)
        self.block3 = Block(e2, mid, 2, 2)
        for i in range(4, 12):
            setattr(self, f"block{i}", Block(mid, mid, 3, 1))
        self.block12 = Block(mid, x12, 2, 2, grow_first=False)
        self.conv3 = SeparableConv2d(x12, x3, 3, 1, 1)
        self.bn3 = nn.BatchNorm2d(x3)
        self.act3 = nn.ReLU(inplace=True)
        self.conv4 = SeparableConv2d(x3, x4, 3, 1, 1)
        self.bn4 = nn.BatchNorm2d(x4)
        self.act4 = nn.ReLU(inplace=True)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        """conv1..block4: the 728-channel embedding RECCE decodes (19x19 at 299 px)."""
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        return self.block4(self.block3(self.block2(self.block1(x))))

    def exit_flow(self, x: torch.Tensor) -> torch.Tensor:
        """block9..conv4: from the attended block8 output to the 2048-channel map."""
        for i in (9, 10, 11, 12):
            x = getattr(self, f"block{i}")(x)
        x = self.act3(self.bn3(self.conv3(x)))
        return self.act4(self.bn4(self.conv4(x)))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Plain Xception features (used to check parity with timm's legacy_xception)."""
        x = self.stem(x)
        for i in range(5, 9):
            x = getattr(self, f"block{i}")(x)
        return self.exit_flow(x)
