"""LAA-Net: Localized Artifact Attention Network for Quality-Agnostic and Generalizable Deepfake
Detection (Nguyen et al., CVPR 2024) — https://arxiv.org/abs/2401.13856

A clean-room re-implementation written from our notes on LAA-Net (not shipped; no official code
copied). The network is an EfficientNet backbone (built with timm) whose last features go through
the gated E-FPN decoder to three heads: ``hm`` (artifact heatmap logits at 1/4 resolution),
``cls`` (one real/fake logit) and ``cstency`` (per-pixel consistency embedding).

Stable public API (the training code imports it; keep these signatures):

- ``LAANet(image_size=384, native_size=380, width_mult=1.4, depth_mult=1.8, num_features=None,
  head_conv=64, hm_channels=1, cstency_channels=256, dropout=0.4, drop_path_rate=0.2)``;
  ``LAANet.from_config(mapping)``; ``net.forward(x, heads=None) -> dict[str, Tensor]`` with ``hm``
  ``[B, 1, S/4, S/4]``, ``cls`` ``[B, 1]`` and ``cstency`` ``[B, 256, S/4, S/4]`` (logits);
  ``net.config`` (the dict it was built from); ``net.init_weights()`` (the official decoder init).
- ``LAANetDetector(net, input_spec)`` and ``build_detector(variant) -> LAANetDetector``;
  ``det.configure_inference(heads=("cls",), precision=None, channels_last=None, compile=None,
  fold_bn=None)``; ``det.explain(x) -> {"logits", "heatmap"}``.
- ``EFNB4_CONFIG`` / ``TEST_CONFIG``: the two variant configurations.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from dfbench.detector import Detector

from .model_config import EFNB4_CONFIG, TEST_CONFIG

if TYPE_CHECKING:
    from dfbench.specs import InputSpec, VariantSpec

log = logging.getLogger(__name__)

__all__ = ["EFNB4_CONFIG", "TEST_CONFIG", "HEADS", "LAANet", "LAANetDetector", "build_detector"]

HEADS: tuple[str, ...] = ("hm", "cls", "cstency")

_DECODER_BN_MOMENTUM = 0.1
_HM_PRIOR_BIAS = -2.19  # CenterNet prior: sigmoid(-2.19) ~ 0.1


# ---------------------------------------------------------------------------------------------
# Backbone
# ---------------------------------------------------------------------------------------------
def build_encoder(width_mult: float, depth_mult: float, num_features: int | None = None,
                  drop_path_rate: float = 0.0, native_size: int = 380) -> nn.Module:
    """An EfficientNet (TF flavour: BN eps 1e-3 and momentum 0.01 as the official backbone, SiLU,
    'same' padding) built with timm, without classifier or pooling: the core's
    :func:`dfbench.zoo.efficientnet.build_efficientnet`.

    ``width_mult=1.4, depth_mult=1.8`` is EfficientNet-B4, the same network as timm's
    ``tf_efficientnet_b4`` (tested). The strided convolutions keep the static padding the official
    code (lukemelas' EfficientNet) computes once for ``native_size`` (380) while it is fed 384 px.
    Never downloads anything.
    """
    from dfbench.zoo.efficientnet import build_efficientnet

    return build_efficientnet(width_mult, depth_mult, num_classes=0, native_size=native_size,
                              drop_path_rate=drop_path_rate, num_features=num_features, global_pool="")


# ---------------------------------------------------------------------------------------------
# Decoder and heads
# ---------------------------------------------------------------------------------------------
class ConvBNReLU(nn.Sequential):
    """k x k convolution (no bias) -> BatchNorm -> ReLU; 'same' size at stride 1."""

    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=(k - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout, momentum=_DECODER_BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)


class Inception(nn.Module):
    """Four-branch block with ONE shared 1x1 reduction (official quirk, reference §1.4).

    Branches: reduce(x), conv3(reduce(x)), conv5(reduce(x)), reduce(maxpool3(x)); concatenated.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels % 4:
            raise ValueError(f"Inception channels must be divisible by 4, got {channels}")
        c = channels // 4
        self.reduce = ConvBNReLU(channels, c, 1)
        self.conv3 = ConvBNReLU(c, c, 3)
        self.conv5 = ConvBNReLU(c, c, 5)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.reduce(x)
        if self.training:
            # The official block calls the shared reduction once per branch; in training each call
            # updates the BatchNorm running statistics, so we repeat the calls to train alike.
            b2, b3 = self.conv3(self.reduce(x)), self.conv5(self.reduce(x))
        else:  # identical results in eval: compute the reduction once
            b2, b3 = self.conv3(r), self.conv5(r)
        return torch.cat([r, b2, b3, self.reduce(self.pool(x))], dim=1)


class UpStage(nn.Module):
    """conv-BN-ReLU (or Inception) -> 2x transposed conv (k4 s2 p1, no bias) -> BN (no ReLU)."""

    def __init__(self, cin: int, cout: int, inception: bool = False) -> None:
        super().__init__()
        self.body: nn.Module = Inception(cin) if inception else ConvBNReLU(cin, cout, 3)
        self.up = nn.ConvTranspose2d(cout, cout, 4, stride=2, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout, momentum=_DECODER_BN_MOMENTUM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.up(self.body(x)))


def gate(d: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """E-FPN fusion: concat[D, (1 - sigmoid(D)) * F] — lateral detail where the decoder is unsure.

    Written as ``1 - sigmoid`` (not ``sigmoid(-D)``) to round exactly like the official code.
    """
    return torch.cat([d, (1 - torch.sigmoid(d)) * f], dim=1)


class EFPNDecoder(nn.Module):
    """The gated E-FPN: head features (1/32) back up to 1/4 resolution with three lateral gates."""

    def __init__(self, c_head: int, c_last: int, c_mid: int, c_low: int) -> None:
        super().__init__()
        self.stage1 = ConvBNReLU(c_head, c_last, 3)  # 1/32, ends in ReLU
        self.stage2 = UpStage(2 * c_last, c_mid)  # -> 1/16
        self.stage3 = UpStage(2 * c_mid, c_low)  # -> 1/8
        self.stage4 = UpStage(2 * c_low, 2 * c_low, inception=True)  # -> 1/4
        self.out_channels = 2 * c_low

    def forward(self, head: torch.Tensor, last: torch.Tensor, mid: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        d = gate(self.stage1(head), last)
        d = gate(self.stage2(d), mid)
        d = gate(self.stage3(d), low)
        return F.relu(self.stage4(d))


class ConvHead(nn.Sequential):
    """3x3 conv (bias) -> BN -> ReLU -> 1x1 conv: a dense map head (``hm``, ``cstency``)."""

    def __init__(self, cin: int, mid: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, mid, 3, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(mid)
        self.relu = nn.ReLU(inplace=True)
        self.out = nn.Conv2d(mid, cout, 1)


class ClsHead(nn.Sequential):
    """3x3 conv (bias) -> BN -> ReLU -> global average pool -> linear: one logit per image."""

    def __init__(self, cin: int, mid: int, cout: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, mid, 3, padding=1, bias=True)
        self.bn = nn.BatchNorm2d(mid, momentum=_DECODER_BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(mid, cout)


# ---------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------
class LAANet(nn.Module):
    """LAA-Net: EfficientNet encoder + gated E-FPN decoder + ``hm`` / ``cls`` / ``cstency`` heads.

    Input: ``[B, 3, S, S]`` float in [-1, 1]. ``forward(x, heads=None)`` returns a dict of logits
    for the requested heads (all three by default). Decoder widths follow the backbone taps, so
    any width/depth multiplier gives a consistent model.
    """

    def __init__(
        self,
        image_size: int = 384,
        native_size: int | None = 380,
        width_mult: float = 1.4,
        depth_mult: float = 1.8,
        num_features: int | None = None,
        head_conv: int = 64,
        hm_channels: int = 1,
        cstency_channels: int = 256,
        dropout: float = 0.4,
        drop_path_rate: float = 0.2,
        backbone: str = "tf_efficientnet",
    ) -> None:
        super().__init__()
        if backbone != "tf_efficientnet":
            raise ValueError(f"LAA-Net supports the 'tf_efficientnet' backbone family, got {backbone!r}")
        self.config: dict[str, Any] = {
            "backbone": backbone, "width_mult": width_mult, "depth_mult": depth_mult,
            "num_features": num_features, "image_size": image_size,
            "native_size": native_size if native_size is not None else image_size,
            "head_conv": head_conv, "hm_channels": hm_channels, "cstency_channels": cstency_channels,
            "dropout": dropout, "drop_path_rate": drop_path_rate,
        }
        self.encoder = build_encoder(width_mult, depth_mult, num_features, drop_path_rate,
                                     self.config["native_size"])
        # Taps: the output just before the last two downsamplings, the last block and the head.
        strides = [stage[0].conv_dw.stride[0] for stage in self.encoder.blocks]
        down = [i for i, s in enumerate(strides) if s > 1]
        self.tap_stages = (down[-2] - 1, down[-1] - 1, len(strides) - 1)
        chans = [stage[-1].conv_pwl.out_channels if hasattr(stage[-1], "conv_pwl") else stage[-1].conv_pw.out_channels
                 for stage in self.encoder.blocks]
        c_low, c_mid, c_last = (chans[i] for i in self.tap_stages)
        c_head = self.encoder.conv_head.out_channels
        self.decoder = EFPNDecoder(c_head, c_last, c_mid, c_low)
        self.dropout = nn.Dropout(dropout)
        cin = self.decoder.out_channels
        self.hm = ConvHead(cin, head_conv, hm_channels)
        self.cls = ClsHead(cin, head_conv, 1)
        self.cstency = ConvHead(cin, head_conv, cstency_channels)
        self.init_weights()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LAANet:
        """Build from a variant config (unknown keys are an error, so typos do not pass silently)."""
        return cls(**dict(config))

    @property
    def heatmap_size(self) -> int:
        return self.config["image_size"] // 4

    def init_weights(self) -> None:
        """The official decoder/head initialisation (reference §1.5); the backbone keeps timm's."""
        for m in [*self.decoder.modules(), *self.hm.modules(), *self.cls.modules(), *self.cstency.modules()]:
            if isinstance(m, nn.ConvTranspose2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.constant_(self.hm.out.bias, _HM_PRIOR_BIAS)
        n = self.cstency.out.out_channels
        nn.init.normal_(self.cstency.out.weight, 0.0, math.sqrt(2.0 / n))
        nn.init.zeros_(self.cstency.out.bias)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Backbone taps ``(head, last, mid, low)`` at 1/32, 1/32, 1/16 and 1/8 resolution."""
        enc = self.encoder
        x = enc.bn1(enc.conv_stem(x))
        taps = []
        for i, stage in enumerate(enc.blocks):
            x = stage(x)
            if i in self.tap_stages:
                taps.append(x)
        head = enc.bn2(enc.conv_head(x))
        low, mid, last = taps
        return head, last, mid, low

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        """Image -> the shared head input ``[B, C, S/4, S/4]``."""
        head, last, mid, low = (self.dropout(t) for t in self.features(x))
        return self.decoder(head, last, mid, low)

    def forward(self, x: torch.Tensor, heads: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
        w = self.encoder.conv_stem.weight
        if x.dtype != w.dtype and not torch.is_autocast_enabled(x.device.type):
            x = x.to(w.dtype)  # e.g. a float32 image into the float64 official-precision model
        d = self.decode(x)
        names = HEADS if heads is None else tuple(heads)
        unknown = set(names) - set(HEADS)
        if unknown:
            raise ValueError(f"unknown LAA-Net heads {sorted(unknown)}; choose from {HEADS}")
        return {name: getattr(self, name)(d) for name in HEADS if name in names}


# ---------------------------------------------------------------------------------------------
# The dfbench detector
# ---------------------------------------------------------------------------------------------
_PRECISIONS = {"fp64": torch.float64, "fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class LAANetDetector(Detector):
    """dfbench wrapper: uint8 crops -> [-1, 1] -> ``cls`` logit. ``explain`` adds the heatmap.

    Inference switches (:meth:`configure_inference`): which heads run (only ``cls`` by default,
    which skips ~1.3 GMACs of ``hm``/``cstency`` at 384), BatchNorm folding (on by default, eval
    only), precision (``fp64`` like the official code, ``fp32``, or ``bf16``/``fp16`` autocast),
    channels_last memory format and torch.compile.
    """

    net: LAANet

    def __init__(self, net: LAANet, input_spec: InputSpec) -> None:
        super().__init__(net, input_spec)
        self.inference_heads: tuple[str, ...] = ("cls",)
        self.autocast_dtype: torch.dtype | None = None
        self.channels_last = False
        self.fold_bn = True
        self.compile = False
        # (signature of the weights it was made from, the runnable): a BN-folded and/or compiled
        # copy of ``net``, kept out of the module tree so that it is never saved or trained.
        self._fast: tuple[tuple, Any] | None = None

    def configure_inference(self, heads: Iterable[str] = ("cls",), precision: str | None = None,
                            channels_last: bool | None = None, compile: bool | None = None,
                            fold_bn: bool | None = None, **options: Any) -> None:
        """Set fast-path options; ``None`` leaves a setting unchanged.

        ``precision``: ``"fp64"``/``"fp32"`` cast the weights; ``"bf16"``/``"fp16"`` keep fp32
        weights and run under autocast (bf16 uses the CPU's AMX units where present).
        ``fold_bn``: run an eval copy with BatchNorm folded into the convolutions (rebuilt
        automatically when the weights, dtype or device change). ``compile``: torch.compile it
        (compiling B4 costs ~100 s on a small CPU for a small gain, so it is opt-in).
        """
        if options:
            raise TypeError(f"unknown LAA-Net inference options: {sorted(options)}")
        heads = tuple(heads)
        if "cls" not in heads or set(heads) - set(HEADS):
            raise ValueError(f"heads must include 'cls' and be among {HEADS}, got {heads}")
        self.inference_heads = heads
        if precision is not None:
            if precision not in _PRECISIONS:
                raise ValueError(f"precision must be one of {sorted(_PRECISIONS)}, got {precision!r}")
            dtype = _PRECISIONS[precision]
            if dtype in (torch.float64, torch.float32):
                self.to(dtype)
                self.autocast_dtype = None
            else:
                self.to(torch.float32)
                self.autocast_dtype = dtype
        if channels_last is not None:
            self.channels_last = bool(channels_last)
            self.net.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        if fold_bn is not None:
            self.fold_bn = bool(fold_bn)
        if compile is not None:
            self.compile = bool(compile)
        self._fast = None

    def inference_options(self) -> dict[str, Any]:
        """The current switches, for the run protocol."""
        return {
            "heads": list(self.inference_heads),
            "precision": {v: k for k, v in _PRECISIONS.items()}[self.autocast_dtype or self.param_dtype],
            "channels_last": self.channels_last,
            "fold_bn": self.fold_bn,
            "compile": self.compile,
        }

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    # Plain Python bookkeeping (weight signatures, copying): keep torch.compile of the whole
    # detector (the harness's --compile) from tracing into it.
    @torch.compiler.disable
    def _inference_net(self) -> Any:
        if self.training or not (self.fold_bn or self.compile):
            return self.net
        stem = self.net.encoder.conv_stem.weight
        cl = stem.is_contiguous(memory_format=torch.channels_last) and not stem.is_contiguous()
        sig = (self.fold_bn, self.compile, cl, tuple((p.data_ptr(), p._version) for p in self.net.parameters()))
        if self._fast is None or self._fast[0] != sig:
            net: nn.Module = self.net
            if self.fold_bn:
                from .fast import fold_batchnorm

                with torch.inference_mode(False):  # normal tensors even if called in inference mode
                    net = fold_batchnorm(self.net)
                if cl:
                    net = net.to(memory_format=torch.channels_last)
            runnable = torch.compile(net, dynamic=False) if self.compile else net
            self._fast = (sig, runnable)
        return self._fast[1]

    def run_net(self, x: torch.Tensor, heads: Iterable[str]) -> dict[str, torch.Tensor]:
        """Normalised input -> the requested head outputs (fast-path switches applied)."""
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            return self._inference_net()(x, heads=tuple(heads))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.run_net(x, self.inference_heads)["cls"][:, 0]

    # How `dfbench predict --explain` titles the map and labels its colour bar.
    explain_heatmap_title = "LAA-Net artifact heatmap"
    explain_heatmap_label = "P(blending artifact), sigmoid of heatmap"

    @torch.no_grad()
    def explain(self, x: torch.Tensor) -> dict[str, Any]:
        """``logits`` ``[B]`` and ``heatmap`` ``[B, H, W]``: sigmoid(hm) resized to the crop size.

        The heatmap is where the model locates blending artifacts (its training target marks the
        most blended boundary points), so it shows *where* the decision comes from.
        """
        if x.dtype != torch.uint8:
            raise TypeError(f"{type(self).__name__} expects uint8 crops, got {x.dtype}")
        out = self.run_net(self.normalise(x), ("cls", "hm"))
        prob = torch.sigmoid(out["hm"][:, :1].float())
        heat = F.interpolate(prob, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)
        return {"logits": out["cls"][:, 0].float(), "heatmap": heat[:, 0].clamp_(0.0, 1.0)}


def build_detector(variant: VariantSpec) -> LAANetDetector:
    """The spec's factory: an untrained LAA-Net for ``variant`` (no download), in eval mode."""
    net = LAANet.from_config(variant.config)
    if net.config["image_size"] != variant.input.size:
        raise ValueError(f"variant {variant.name!r}: model image_size {net.config['image_size']} "
                         f"differs from input size {variant.input.size}")
    det = LAANetDetector(net, variant.input)
    return det.eval()
