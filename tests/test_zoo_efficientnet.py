"""The core's EfficientNet pieces shared by SBI, the DeepfakeBench baseline and LAA-Net's backbone:
TF 'same' padding arithmetic and convolutions whose padding was fixed for an assumed input size
(``efficientnet_pytorch``'s static padding; LAA-Net's 380-px quirk is tested with LAA-Net)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from dfbench.zoo.efficientnet import FixedPadConv2d, same_padding


def test_same_padding_arithmetic():
    assert same_padding(384, 3, 2) == (0, 1)
    assert same_padding(96, 5, 2) == (1, 2)  # TF-SAME at the real 96 px input of block 6
    assert same_padding(95, 5, 2) == (2, 2)  # what the official code computed for 380 px
    assert same_padding(24, 5, 2) == (1, 2)
    assert same_padding(7, 3, 1) == (1, 1)


def test_fixed_pad_conv_pads_like_explicit_zero_padding():
    torch.manual_seed(0)
    base = torch.nn.Conv2d(4, 4, 5, stride=2, groups=4, bias=False)
    x = torch.randn(1, 4, 96, 96)
    for pad in [(2, 2, 2, 2), (1, 2, 1, 2)]:
        conv = FixedPadConv2d(base, pad)
        want = F.conv2d(F.pad(x, pad), base.weight, None, 2, 0, 1, 4)
        assert torch.allclose(conv(x), want, atol=1e-6)
        assert conv(x).shape[-1] == 48
    assert not torch.allclose(FixedPadConv2d(base, (2, 2, 2, 2))(x), FixedPadConv2d(base, (1, 2, 1, 2))(x))
