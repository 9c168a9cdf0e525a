"""The official LAA-Net backbone's static TF-"same" padding (lukemelas' EfficientNet computes it
once for 380 px and the model is fed 384), as a drop-in for timm's dynamic same convolutions."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF 'SAME' padding (before, after) for one spatial dimension of ``size`` pixels."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class StaticPadConv2d(nn.Conv2d):
    """A convolution whose zero padding was fixed when the model was built.

    Reproduces lukemelas' ``Conv2dStaticSamePadding``: the padding is computed once for an
    assumed input size and then applied to whatever comes in. Symmetric padding is handed to the
    convolution itself (no extra copy); asymmetric padding goes through ``F.pad`` first.
    """

    def __init__(self, conv: nn.Conv2d, pad: tuple[int, int, int, int]) -> None:
        super().__init__(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0, conv.dilation,
            conv.groups, conv.bias is not None, device=conv.weight.device, dtype=conv.weight.dtype,
        )
        self.weight = conv.weight
        self.bias = conv.bias
        left, right, top, bottom = pad
        self.static_pad = (left, right, top, bottom)
        if left == right and top == bottom:
            self.padding = (top, left)
            self._explicit_pad: tuple[int, int, int, int] | None = None
        else:
            self._explicit_pad = self.static_pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._explicit_pad is not None:
            x = F.pad(x, self._explicit_pad)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", static_pad={self.static_pad}"


def _freeze_same_padding(encoder: nn.Module, native_size: int) -> None:
    """Replace timm's dynamic 'same' convolutions by static ones computed for ``native_size``.

    Walks the strided convolutions in network order, tracking the feature size the official code
    assumes (ceil(size / stride) after each stride), exactly as lukemelas' static padding does.
    Stride-1 convolutions are symmetric and independent of the input size, so timm's are kept.
    """
    size = native_size
    strided = [("conv_stem", encoder.conv_stem)]
    for s, stage in enumerate(encoder.blocks):
        for j, block in enumerate(stage):
            strided.append((f"blocks.{s}.{j}.conv_dw", block.conv_dw))
    for name, conv in strided:
        k, st = conv.kernel_size[0], conv.stride[0]
        if st == 1:
            continue
        top, bottom = same_padding(size, k, st)
        new = StaticPadConv2d(conv, (top, bottom, top, bottom))
        parent = encoder.get_submodule(name.rpartition(".")[0]) if "." in name else encoder
        setattr(parent, name.rpartition(".")[2], new)
        size = math.ceil(size / st)
