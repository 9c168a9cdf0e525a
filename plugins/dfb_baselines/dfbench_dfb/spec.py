"""Xception and EfficientNet-B4 as DeepfakeBench trains them (pure data: no torch import).

Input protocols:

- ``xception`` and ``efficientnet_b4``: DeepfakeBench's own configs — its aligned crop (dlib
  5-point similarity to the ArcFace template, margin scale 1.3; the ``dlib_align`` cropper, whose
  template equals DeepfakeBench's ``img_align_crop``) at ``resolution: 256``, mean = std = 0.5.
  These are the protocols behind DeepfakeBench's reported numbers (leaderboard ids ``*.dfb``).
- ``xception_ffpp``: FaceForensics++'s Xception protocol — the same 256 px crops resized to 299
  inside the detector with bicubic interpolation (DeepfakeBench's loader resizes to its
  ``resolution`` with ``cv2.INTER_CUBIC``), [-1, 1].

All: 32 evenly spaced frames per video; p(fake) = softmax[:, 1] of two outputs, so the detector's
logit is ``out[1] - out[0]``; DeepfakeBench's video score averages frame probabilities
(``mean_prob``). Its released checkpoints are state dicts of its detector classes (``backbone.*``),
converted by :mod:`dfbench_dfb.convert`.
"""

from __future__ import annotations

from dfbench.packaged import packaged_weights
from dfbench.specs import DetectorSpec, InputSpec, VariantSpec

DFB_PAPER = "DeepfakeBench: A Comprehensive Benchmark of Deepfake Detection (Yan et al., NeurIPS 2023 D&B)"
DFB_URL = "https://github.com/SCLBD/DeepfakeBench"
DFB_WEIGHTS_LICENSE = "CC BY-NC 4.0 (DeepfakeBench's released weights; not redistributed here)"


def demo_weights(family: str) -> tuple:
    """The demo weights shipped in ``dfbench_dfb/weights/<family>/<tag>/`` (trained with
    ``configs/<family>_demo.yaml`` by the core's classifier task); small JSON reads only."""
    return packaged_weights("dfbench_dfb", f"weights/{family}", default_variant="demo")


def dfb_input(size: int) -> InputSpec:
    return InputSpec(unit="frame", size=size, colour="rgb", cropper="dlib_align", crop_settings={"scale": 1.3},
                     mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), frames_per_video=32,
                     aggregation="mean_prob", flip_test=False)


_XCEPTION_TINY = {"stem": (8, 16), "entry": (16, 24, 32), "middle_blocks": 1, "exit": (40, 48, 56)}
# The packaged demo weights' network: the same Xception layout, narrow (0.2 M parameters), two
# middle blocks, fed 96 px crops directly (DeepfakeBench's config, scaled down for a CPU budget of minutes).
_XCEPTION_DEMO = {"stem": (16, 32), "entry": (32, 64, 96), "middle_blocks": 2, "exit": (128, 160, 192)}

XCEPTION = DetectorSpec(
    name="xception",
    factory="dfbench_dfb.model:build_xception",
    weights=demo_weights("xception"),
    variants=(
        VariantSpec("default", dfb_input(256), {"resize_to": None},
                    "DeepfakeBench's config: 256 px aligned crops fed directly (20.8 M parameters)."),
        VariantSpec("ffpp", dfb_input(256), {"resize_to": 299},
                    "FaceForensics++ protocol: the same 256 px crops resized to 299 (bicubic) inside."),
        VariantSpec("test", dfb_input(48), {**_XCEPTION_TINY, "resize_to": 56},
                    "Tiny Xception (narrow, one middle block) with the resize step, for tests."),
        VariantSpec("demo", dfb_input(96), {**_XCEPTION_DEMO, "resize_to": None},
                    "Small Xception (narrow, two middle blocks, 0.2 M parameters) on 96 px crops: the "
                    "demo weights' network (trained from scratch on the demo dataset), not the published model."),
    ),
    default_variant="default",
    paper="FaceForensics++: Learning to Detect Manipulated Facial Images (Rössler et al., ICCV 2019); "
          "weights: " + DFB_PAPER,
    url=DFB_URL,
    license="Apache-2.0 (this implementation)",
    weights_license=DFB_WEIGHTS_LICENSE,
    description="Xception (Cadene layout) classifying aligned face crops; the baseline of FF++ and "
                "DeepfakeBench. `dfbench convert xception ckpt_best.pth OUT` reads DeepfakeBench's file.",
    converter="dfbench_dfb.convert:xception_from_dfb",
)

EFFICIENTNET_B4 = DetectorSpec(
    name="efficientnet_b4",
    factory="dfbench_dfb.model:build_efficientnet_b4",
    weights=demo_weights("efficientnet_b4"),
    variants=(
        VariantSpec("default", dfb_input(256), {"width_mult": 1.4, "depth_mult": 1.8, "native_size": 380},
                    "EfficientNet-B4 as DeepfakeBench builds it: unpadded stem, block padding computed "
                    "for 380 px, fed 256 px crops (17.6 M parameters)."),
        VariantSpec("test", dfb_input(64), {"width_mult": 0.5, "depth_mult": 0.1, "native_size": 76},
                    "Tiny EfficientNet with the same padding quirks (computed for 76 px, fed 64 px)."),
        VariantSpec("demo", dfb_input(96), {"width_mult": 0.5, "depth_mult": 0.3, "native_size": 128},
                    "Small EfficientNet (half width, 0.6 M parameters; padding computed for 128 px, fed 96 px): "
                    "the demo weights' network (trained from scratch on the demo dataset), not the published model."),
    ),
    default_variant="default",
    paper="EfficientNet (Tan & Le, ICML 2019) as a deepfake baseline; weights: " + DFB_PAPER,
    url=DFB_URL,
    license="Apache-2.0 (this implementation)",
    weights_license=DFB_WEIGHTS_LICENSE,
    description="EfficientNet-B4 classifying DeepfakeBench-aligned face crops at 256 px. "
                "`dfbench convert efficientnet_b4 ckpt_best.pth OUT` reads DeepfakeBench's file.",
    converter="dfbench_dfb.convert:efficientnet_from_dfb",
)


# SPSL (Liu et al., CVPR 2021), as DeepfakeBench implements it: the full Xception (not the shallow
# one of the paper) with a 4-channel stem fed RGB + the phase-only reconstruction of the grey
# image. Chosen over F3Net as dfbench's frequency-domain family: both have DeepfakeBench
# checkpoints (spsl_best.pth, f3net_best.pth), but SPSL's is a single Xception whose parity can be
# checked against the PyPI reference network (pretrainedmodels), and it is the stronger baseline in
# DeepfakeBench's table (cross-dataset mean AUC .7875 vs .7645; Celeb-DF v2 .7650 vs .7352).
SPSL = DetectorSpec(
    name="spsl",
    factory="dfbench_dfb.model:build_spsl",
    weights=demo_weights("spsl"),
    variants=(
        VariantSpec("default", dfb_input(256), {"in_chans": 4, "resize_to": None},
                    "Xception with a 4-channel stem on RGB + phase-only grey channel, 256 px (20.8 M parameters)."),
        VariantSpec("test", dfb_input(48), {**_XCEPTION_TINY, "in_chans": 4, "resize_to": None},
                    "Tiny SPSL (narrow Xception, one middle block) for tests."),
        VariantSpec("demo", dfb_input(96), {**_XCEPTION_DEMO, "in_chans": 4, "resize_to": None},
                    "Small SPSL (the demo Xception with the 4-channel stem, 96 px): the demo weights' network "
                    "(trained from scratch on the demo dataset), not the published model."),
    ),
    default_variant="default",
    paper="Spatial-Phase Shallow Learning: Rethinking Face Forgery Detection in Frequency Domain "
          "(Liu et al., CVPR 2021); weights: " + DFB_PAPER,
    url=DFB_URL,
    license="Apache-2.0 (this implementation)",
    weights_license=DFB_WEIGHTS_LICENSE,
    description="Frequency-domain baseline: the phase spectrum's reconstruction as a 4th input channel "
                "of Xception. `dfbench convert spsl spsl_best.pth OUT` reads DeepfakeBench's file.",
    converter="dfbench_dfb.convert:spsl_from_dfb",
)
