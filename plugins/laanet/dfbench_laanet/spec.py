"""The LAA-Net detector spec: variants, input contract, weights — pure data, no torch import.

Input contract of the official evaluation (reference §5.2, §5.5, §6): a RetinaFace box enlarged
by 25 % per side, resized to 256 px, a 5 px margin cropped, resized to 384 (the ``laanet``
cropper; dlib stands in for RetinaFace), scaled to [-1, 1]; 32 frames per video, the raw ``cls``
logits averaged over the frame and its horizontal flip, then over frames.
"""

from __future__ import annotations

import logging

from dfbench.specs import DetectorSpec, InputSpec, VariantSpec, WeightsSpec

from .model_config import EFNB4_CONFIG, TEST_CONFIG

log = logging.getLogger(__name__)

PAPER = ("LAA-Net: Localized Artifact Attention Network for Quality-Agnostic and Generalizable "
         "Deepfake Detection (Nguyen et al., CVPR 2024)")
URL = "https://arxiv.org/abs/2401.13856"
WEIGHTS_PACKAGE_DIR = "weights"


def input_spec(size: int, official_crop: bool = False) -> InputSpec:
    """The official evaluation protocol at ``size`` px.

    ``official_crop``: LAA-Net's own RetinaFace crop (``laanet_official``) when the RetinaFace
    weights are present, else the unchanged ``laanet`` dlib crop (recorded as a fallback).
    """
    return InputSpec(
        unit="frame",
        size=size,
        colour="rgb",
        cropper="laanet_official" if official_crop else "laanet",
        crop_settings={"offline_fallback": "laanet"} if official_crop else {},
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        frames_per_video=32,
        aggregation="mean_logit",
        flip_test=True,
        # The official (SBI-derived) inference gives a frame without a face, or a video that
        # fails, 0.5 and keeps it in the AUC (our clean-room notes on the SBI inference).
        missing_face="score_half",
    )


EFNB4 = VariantSpec(
    name="efnb4",
    input=input_spec(EFNB4_CONFIG["image_size"], official_crop=True),
    config=dict(EFNB4_CONFIG),
    description="EfficientNet-B4 + E-FPN at 384 px, the published model (27.1 M parameters).",
)
TEST = VariantSpec(
    name="test",
    input=input_spec(TEST_CONFIG["image_size"]),
    config=dict(TEST_CONFIG),
    description="Tiny LAA-Net (same topology, narrow, one block per stage, 64 px) for tests and demos.",
)


def packaged_weights() -> tuple[WeightsSpec, ...]:
    """Weights shipped inside the package (``weights/<tag>/``), read the core's one way."""
    from dfbench.packaged import packaged_weights as scan

    return scan("dfbench_laanet", WEIGHTS_PACKAGE_DIR, default_variant="test")


def laanet_spec() -> DetectorSpec:
    weights = packaged_weights()
    return DetectorSpec(
        name="laanet",
        factory="dfbench_laanet.model:build_detector",
        variants=(EFNB4, TEST),
        default_variant="efnb4",
        weights=weights,
        default_weights=None,
        paper=PAPER,
        url=URL,
        license="Apache-2.0 (this re-implementation); official weights: SnT academic licence",
        weights_license="SnT academic licence (official LAA-Net weights)",
        description=("Localized artifact attention: EfficientNet-B4 with a gated E-FPN decoder, trained "
                     "on pseudo-fakes (SBI/BI) with heatmap and self-consistency supervision."),
        converter="dfbench_laanet.convert:from_official",
    )
