"""Inference-only rewrites of :class:`~dfbench_laanet.model.LAANet` (the fast path).

:func:`fold_batchnorm` returns a copy of the network in which every BatchNorm that follows a
convolution (backbone, decoder, heads, the transposed convolutions included) is folded into that
convolution's weights and bias. On CPU, eval-mode BatchNorm is a separate memory-bound pass over
each activation map; folding removes ~150 of them. The copy computes the same function up to
floating-point rounding; it is never trained or saved (the detector keeps the original).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from .model import ClsHead, ConvBNReLU, ConvHead, LAANet, UpStage


def _fold(conv: nn.Module, bn: nn.BatchNorm2d, transpose: bool = False) -> nn.Module:
    return fuse_conv_bn_eval(conv.eval(), bn.eval(), transpose=transpose)


def _bn_tail(bn: nn.BatchNorm2d) -> nn.Module:
    """What remains of a BatchNorm after folding: timm's BatchNormAct2d keeps its activation."""
    act = getattr(bn, "act", None)
    return act if act is not None else nn.Identity()


@torch.no_grad()
def fold_batchnorm(net: LAANet) -> LAANet:
    """An eval-mode copy of ``net`` with BatchNorm folded into the preceding convolutions."""
    fused = copy.deepcopy(net).eval()
    enc = fused.encoder
    enc.conv_stem, enc.bn1 = _fold(enc.conv_stem, enc.bn1), _bn_tail(enc.bn1)
    for stage in enc.blocks:
        for block in stage:
            # timm block layouts: InvertedResidual (conv_pw/bn1, conv_dw/bn2, conv_pwl/bn3) and
            # DepthwiseSeparable (conv_dw/bn1, conv_pw/bn2).
            pairs = ([("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")] if hasattr(block, "conv_pwl")
                     else [("conv_dw", "bn1"), ("conv_pw", "bn2")])
            for c, b in pairs:
                bn = getattr(block, b)
                setattr(block, c, _fold(getattr(block, c), bn))
                setattr(block, b, _bn_tail(bn))
    enc.conv_head, enc.bn2 = _fold(enc.conv_head, enc.bn2), _bn_tail(enc.bn2)
    for m in list(fused.modules()):
        if isinstance(m, (ConvBNReLU, ConvHead, ClsHead)):
            m.conv, m.bn = _fold(m.conv, m.bn), nn.Identity()
        if isinstance(m, UpStage):
            m.up, m.bn = _fold(m.up, m.bn, transpose=True), nn.Identity()
    for p in fused.parameters():
        p.requires_grad_(False)
    return fused
