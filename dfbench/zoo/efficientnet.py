"""EfficientNet in timm layout, matching lukemelas' ``efficientnet_pytorch`` network exactly.

Official checkpoints of SBI (``FFraw.tar``) and DeepfakeBench's EfficientNet-B4 store the
backbone with ``efficientnet_pytorch`` names (``_blocks.{i}._depthwise_conv``); dfbench keeps
networks in timm's layout (``blocks.{stage}.{j}.conv_dw``). This module builds the timm network
and maps names both ways.

What decides parity (float64, tested against the package):

- ``efficientnet_pytorch`` pads every strided convolution with ``Conv2dStaticSamePadding``:
  TF "SAME" padding computed once for the model's ``image_size`` (380 for B4) and then applied to
  whatever size comes in. timm's ``same`` padding is dynamic. Both agree at 380 px only, so we
  freeze the padding for ``native_size`` (:func:`freeze_same_padding`) and agree at every size.
- DeepfakeBench replaces the stem by a plain ``nn.Conv2d(3, 48, 3, stride=2)`` without padding
  (``stem_padding=False``), while the blocks keep padding computed for 380 px.
- BatchNorm eps 1e-3 (TF), SiLU (= ``MemoryEfficientSwish``), SE reduction from the block's
  input channels.
- ``efficientnet_pytorch`` 0.7.1 keeps the first block of each stage's stride as a list (``[1]``),
  so its ``stride == 1`` test fails and that block never adds its residual. timm adds it when the
  widths agree. In B0..B7 a stage's first block always changes the width, so the two agree; tiny
  test configurations must keep that property (the SBI ``test`` variant uses half widths).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

# EfficientNet-B0 stages in timm's arch-def notation; width/depth multipliers give B1..B7.
ARCH_B0 = [
    ["ds_r1_k3_s1_e1_c16_se0.25"],
    ["ir_r2_k3_s2_e6_c24_se0.25"],
    ["ir_r2_k5_s2_e6_c40_se0.25"],
    ["ir_r3_k3_s2_e6_c80_se0.25"],
    ["ir_r3_k5_s1_e6_c112_se0.25"],
    ["ir_r4_k5_s2_e6_c192_se0.25"],
    ["ir_r1_k3_s1_e6_c320_se0.25"],
]
B4 = {"width_mult": 1.4, "depth_mult": 1.8, "native_size": 380}
BN_EPS, BN_MOMENTUM = 1e-3, 0.01

# timm module names -> efficientnet_pytorch names
_DS = {"conv_dw": "_depthwise_conv", "bn1": "_bn1", "se.conv_reduce": "_se_reduce",
       "se.conv_expand": "_se_expand", "conv_pw": "_project_conv", "bn2": "_bn2"}
_IR = {"conv_pw": "_expand_conv", "bn1": "_bn0", "conv_dw": "_depthwise_conv", "bn2": "_bn1",
       "se.conv_reduce": "_se_reduce", "se.conv_expand": "_se_expand", "conv_pwl": "_project_conv",
       "bn3": "_bn2"}
_TOP = {"conv_stem": "_conv_stem", "bn1": "_bn0", "conv_head": "_conv_head", "bn2": "_bn1",
        "classifier": "_fc"}


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF 'SAME' padding (before, after) along one axis of ``size`` pixels."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class FixedPadConv2d(nn.Conv2d):
    """A convolution whose zero padding (left, right, top, bottom) was fixed at build time.

    Reproduces ``efficientnet_pytorch``'s ``Conv2dStaticSamePadding`` (lukemelas): the padding is
    computed once for an assumed input size and then applied to whatever comes in. Symmetric
    padding is handed to the convolution itself (no extra copy); asymmetric padding goes through
    ``F.pad`` first.
    """

    def __init__(self, conv: nn.Conv2d, pad: tuple[int, int, int, int]) -> None:
        super().__init__(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0,
                         conv.dilation, conv.groups, conv.bias is not None, device=conv.weight.device,
                         dtype=conv.weight.dtype)
        self.weight, self.bias = conv.weight, conv.bias
        left, right, top, bottom = (int(p) for p in pad)
        self.fixed_pad = (left, right, top, bottom)
        self._explicit_pad: tuple[int, int, int, int] | None = None
        if left == right and top == bottom:
            self.padding = (top, left)
        else:
            self._explicit_pad = self.fixed_pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._explicit_pad is not None:
            x = F.pad(x, self._explicit_pad)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", fixed_pad={self.fixed_pad}"


def _set(root: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, leaf = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, leaf, module)


def freeze_same_padding(net: nn.Module, native_size: int, stem_padding: bool = True) -> None:
    """Replace every strided convolution's dynamic 'same' padding by the static padding
    ``efficientnet_pytorch`` computes for ``native_size`` (feature size ceil(size / stride) after
    each stride). ``stem_padding=False``: the stem gets no padding at all (DeepfakeBench)."""
    size = native_size
    strided = [("conv_stem", net.conv_stem)]
    strided += [(f"blocks.{s}.{j}.conv_dw", b.conv_dw) for s, st in enumerate(net.blocks) for j, b in enumerate(st)]
    for name, conv in strided:
        k, stride = conv.kernel_size[0], conv.stride[0]
        if stride == 1:
            continue  # stride-1 'same' padding is symmetric and size independent: timm's is right
        before, after = same_padding(size, k, stride)
        pad = (before, after, before, after)
        if name == "conv_stem" and not stem_padding:
            pad = (0, 0, 0, 0)
        _set(net, name, FixedPadConv2d(conv, pad))
        size = math.ceil(size / stride)


def build_efficientnet(width_mult: float = 1.4, depth_mult: float = 1.8, num_classes: int = 2, *,
                       native_size: int = 380, stem_padding: bool = True, drop_rate: float = 0.0,
                       drop_path_rate: float = 0.0, num_features: int | None = None,
                       global_pool: str = "avg") -> nn.Module:
    """timm's EfficientNet (TF flavour) with static padding as ``efficientnet_pytorch`` has it.

    ``width_mult=1.4, depth_mult=1.8`` is EfficientNet-B4 (the state-dict layout of timm's
    ``tf_efficientnet_b4``). ``num_classes=0`` leaves no classifier; ``global_pool=""`` keeps the
    feature map (an encoder, as LAA-Net's). Never downloads anything.
    """
    from timm.layers import BatchNormAct2d
    from timm.models._efficientnet_builder import decode_arch_def, round_channels
    from timm.models.efficientnet import EfficientNet

    round_chs = partial(round_channels, multiplier=width_mult, divisor=8)
    net = EfficientNet(
        block_args=decode_arch_def(ARCH_B0, depth_mult), num_classes=num_classes,
        num_features=num_features or round_chs(1280), stem_size=32, round_chs_fn=round_chs, pad_type="same",
        act_layer=nn.SiLU, norm_layer=partial(BatchNormAct2d, eps=BN_EPS, momentum=BN_MOMENTUM),
        drop_rate=drop_rate, drop_path_rate=drop_path_rate, global_pool=global_pool,
    )
    freeze_same_padding(net, native_size, stem_padding=stem_padding)
    return net


def lukemelas_names(net: nn.Module) -> dict[str, str]:
    """Our (timm) state-dict key -> ``efficientnet_pytorch`` key, in our order."""
    from timm.models._efficientnet_blocks import DepthwiseSeparableConv

    flat, ds, i = {}, set(), 0
    for s, stage in enumerate(net.blocks):
        for j, block in enumerate(stage):
            flat[s, j] = i
            i += 1
            if isinstance(block, DepthwiseSeparableConv):
                ds.add((s, j))
    out = {}
    for key in net.state_dict():
        m = re.fullmatch(r"blocks\.(\d+)\.(\d+)\.(.+)\.(\w+)", key)
        if m:
            s, j, module, leaf = int(m[1]), int(m[2]), m[3], m[4]
            table = _DS if (s, j) in ds else _IR
            out[key] = f"_blocks.{flat[s, j]}.{table[module]}.{leaf}"
        else:
            module, _, leaf = key.rpartition(".")
            out[key] = f"{_TOP[module]}.{leaf}"
    return out


def compare_keys(state: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]]
                 ) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, mis-shaped) between a checkpoint and the expected names/shapes."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mismatched = [f"{k}: {list(state[k].shape)} vs {list(expected[k])}"
                  for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k])]
    return missing, unexpected, mismatched


def weights_dtype(state: Mapping[str, torch.Tensor]) -> torch.dtype:
    for v in state.values():
        if v.is_floating_point():
            return v.dtype
    return torch.float32
