"""Xception as FaceForensics++ and DeepfakeBench use it: the core's Cadene-layout network
(:mod:`dfbench.zoo.xception`; at full width its state dict equals timm's ``legacy_xception`` and
DeepfakeBench's backbone, tested against ``pretrainedmodels`` in float64)."""

from __future__ import annotations

from dfbench.zoo.xception import Block, SeparableConv2d, Xception

__all__ = ["Block", "SeparableConv2d", "Xception"]
