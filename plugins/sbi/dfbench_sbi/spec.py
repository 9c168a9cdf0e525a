"""The SBI detector family as dfbench registers it (pure data: importing this never imports torch).

Official test protocol (``src/inference/inference_dataset.py`` and ``preprocess.py`` of
mapooon/SelfBlendedImages, read for these notes, not copied):

- 32 frames per video at ``np.linspace(0, n - 1, 32)`` truncated to int (dfbench's sampling rule);
- RetinaFace (resnet50_2020-07-20) boxes, each widened by w/8 left and right and h/8 top and
  bottom (``crop_face(..., phase='test')``), resized to 380 x 380, scaled to [0, 1] (no mean/std);
- EfficientNet-B4 with 2 outputs; p(fake) = softmax[:, 1], i.e. sigmoid(logit_fake - logit_real),
  which is the single logit this detector returns;
- video score: per frame the maximum over faces, then the **mean probability** over frames
  (``aggregation="mean_prob"``); frames without a face are skipped, a video without any face (or
  any error) scores 0.5.

The published variant crops with the ``sbi_official`` recipe: RetinaFace when its weights are given
(``DFBENCH_RETINAFACE_R50``), else SBI's arithmetic on MTCNN boxes (recorded as a fallback in the
protocol and flagged ``crops-fallback`` on the leaderboard). Its missing-face rule is ``skip_half``:
faceless frames are dropped and a video with no face at all scores 0.5, as the official code does.
Remaining deviation: one face per frame (the largest) instead of the maximum over all faces at
least half as large as the largest (datasets that ask for every face, FFIW, still get the maximum).
The ``test`` variant keeps a dlib stand-in for the same box (the ``laanet`` cropper with enlarge
1/8, no margin cut, resized straight to the input size) so contract tests need no face models.
"""

from __future__ import annotations

from dfbench.specs import DetectorSpec, InputSpec, VariantSpec

PAPER = "Detecting Deepfakes with Self-Blended Images (Shiohara & Yamasaki, CVPR 2022)"
URL = "https://github.com/mapooon/SelfBlendedImages"
WEIGHTS_LICENSE = ("SBI software licence (Yamasaki Lab): academic / non-profit noncommercial research use only; "
                   "not redistributed here")

EFNB4_CONFIG = {"width_mult": 1.4, "depth_mult": 1.8, "native_size": 380}
# Same topology, one block per stage and half the widths (so that, as in B4, no stage's first
# block maps equal widths: see dfbench.zoo.efficientnet on the residual quirk). Milliseconds on a CPU.
TEST_CONFIG = {"width_mult": 0.5, "depth_mult": 0.1, "native_size": 64}


def input_spec(size: int, official_crop: bool = True) -> InputSpec:
    """SBI's test protocol at ``size`` px (380 for the published model)."""
    # SBI's test crop: box + w/8 (h/8) per side, resized straight to the input size; the official
    # recipe runs it on RetinaFace (MTCNN offline), the stand-in on dlib's box.
    crop = (("sbi_official", {}) if official_crop
            else ("laanet", {"enlarge": 0.125, "base": size, "margin": 0}))
    return InputSpec(
        unit="frame", size=size, colour="rgb", cropper=crop[0], crop_settings=crop[1],
        mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0),
        frames_per_video=32, aggregation="mean_prob", flip_test=False, missing_face="skip_half",
    )


VARIANTS = (
    VariantSpec("efnb4", input_spec(380), dict(EFNB4_CONFIG),
                "EfficientNet-B4 at 380 px, the published model (17.6 M parameters)."),
    VariantSpec("test", input_spec(64, official_crop=False), dict(TEST_CONFIG),
                "Tiny SBI network (same topology, narrow, one block per stage, 64 px) for tests."),
)

def packaged_weights() -> tuple:
    """Weights shipped inside the package (``weights/<tag>/``: the demo weights of the ``test``
    variant trained with ``configs/demo.yaml``), read the core's one way (small JSON only)."""
    from dfbench.packaged import packaged_weights as scan

    return scan("dfbench_sbi", default_variant="test")


SPEC = DetectorSpec(
    name="sbi",
    factory="dfbench_sbi.model:build_detector",
    variants=VARIANTS,
    default_variant="efnb4",
    weights=packaged_weights(),
    default_weights=None,
    paper=PAPER,
    url=URL,
    license="Apache-2.0 (this re-implementation)",
    weights_license=WEIGHTS_LICENSE,
    description="EfficientNet-B4 trained on self-blended pseudo-fakes (a face blended with a "
                "transformed copy of itself); converted official weights via `dfbench convert sbi`.",
    converter="dfbench_sbi.convert:from_official",
)
