"""The LipForensics detector family as dfbench registers it (pure data: no torch import).

Variants:

- ``r18``: the official architecture (3D front end, ResNet-18 trunk, MS-TCN, mean consensus);
  official checkpoints convert into it (``dfbench convert lipforensics OFFICIAL.pth OUT_DIR``).
- ``r18_ta``: the same network with temporal attention pooling instead of the time mean; its
  per-frame weights come out of ``explain()``. Registered separately so the two are compared on one
  leaderboard, never substituted for each other.
- ``lite`` / ``lite_ta``: the same topology at a quarter of the widths, for the CPU-trained demo
  weights (the full model has no LRW-pretrained trunk offline and is 36 M parameters).
- ``test`` / ``test_ta``: tiny widths, 5-frame 24x24 clips, for contract tests on CPU.

Protocol option in ``variant.config``: ``ffpp_max_frames`` (110) — on FaceForensics++ and its
derivatives (FaceShifter, DeeperForensics) the paper scores only the first 110 frames of each video
(4 non-overlapping 25-frame clips); other datasets use all frames (``frames_per_video=0``). The
runner reads it through :func:`max_frames_for`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dfbench.specs import DetectorSpec, InputSpec, VariantSpec

PAPER = "Lips Don't Lie: A Generalisable and Robust Approach to Face Forgery Detection (CVPR 2021)"
URL = "https://arxiv.org/abs/2012.07657"

MEAN = (0.421,)
STD = (0.165,)
FFPP_MAX_FRAMES = 110
#: Dataset ids (and prefixes) to which the FF++ "first 110 frames" rule applies.
FFPP_LIKE = ("ffpp", "faceshifter", "fsh", "deeperforensics", "dfo")


def _input(size: int = 88, clip_length: int = 25, official_crop: bool = False) -> InputSpec:
    # official_crop (the published models): LipForensics' own recipe (RetinaFace + FAN + LRW mean
    # face) when the RetinaFace weights are present, else the unchanged dlib ``mouth`` crop.
    return InputSpec(
        unit="clip",
        size=size,
        colour="gray",
        clip_length=clip_length,
        cropper="lipforensics_official" if official_crop else "mouth",
        crop_settings={"offline_fallback": "mouth"} if official_crop else {},
        mean=MEAN,
        std=STD,
        frames_per_video=0,
        aggregation="mean_logit",
        flip_test=False,
        # The official evaluation scores the clips it could crop; a clip without a face is absent.
        missing_face="skip",
    )


_R18: dict[str, Any] = {"ffpp_max_frames": FFPP_MAX_FRAMES}
_LITE: dict[str, Any] = {
    "frontend_channels": 16,
    "widths": [16, 32, 64, 128],
    "blocks": [2, 2, 2, 2],
    "tcn_branch_channels": 64,
    "tcn_levels": 4,
    "attention_hidden": 64,
    "ffpp_max_frames": FFPP_MAX_FRAMES,
}
_TEST: dict[str, Any] = {
    "frontend_channels": 8,
    "widths": [8, 16, 16, 32],
    "blocks": [1, 1, 1, 1],
    "tcn_branch_channels": 8,
    "tcn_levels": 2,
    "attention_hidden": 8,
    "ffpp_max_frames": FFPP_MAX_FRAMES,
}

VARIANTS = (
    VariantSpec(
        "r18",
        _input(official_crop=True),
        {**_R18, "consensus": "mean"},
        "official LipForensics: ResNet-18 + MS-TCN, mean over time",
    ),
    VariantSpec(
        "r18_ta",
        _input(official_crop=True),
        {**_R18, "consensus": "attention"},
        "LipForensics with temporal attention pooling (exposes per-frame weights)",
    ),
    VariantSpec(
        "lite",
        _input(),
        {**_LITE, "consensus": "mean"},
        "quarter-width LipForensics for CPU demo training",
    ),
    VariantSpec(
        "lite_ta",
        _input(),
        {**_LITE, "consensus": "attention"},
        "quarter-width LipForensics with temporal attention, for CPU demo training",
    ),
    VariantSpec(
        "test",
        _input(size=24, clip_length=5),
        {**_TEST, "consensus": "mean"},
        "tiny variant for contract tests",
    ),
    VariantSpec(
        "test_ta",
        _input(size=24, clip_length=5),
        {**_TEST, "consensus": "attention"},
        "tiny attention variant for contract tests",
    ),
)


def max_frames_for(variant: VariantSpec, dataset: str) -> int:
    """Leading frames to score for ``dataset`` (0 = all): the FF++ 110-frame rule of the paper."""
    name = dataset.lower()
    if name.startswith(FFPP_LIKE):
        return int(variant.config.get("ffpp_max_frames", 0) or 0)
    return 0


def _weights() -> tuple:
    # The sha256 pins and cards live in each weights folder's config.json (one way for every family).
    from dfbench.packaged import packaged_weights

    return packaged_weights("dfbench_lipforensics")


def make_spec(weights: tuple | None = None, extra: Mapping[str, Any] | None = None) -> DetectorSpec:
    w = _weights() if weights is None else weights
    return DetectorSpec(
        name="lipforensics",
        factory="dfbench_lipforensics.model:create_detector",
        variants=VARIANTS,
        default_variant="r18",
        weights=w,
        default_weights=None,
        paper=PAPER,
        url=URL,
        license="MIT (official weights); this implementation Apache-2.0",
        weights_license="MIT (official repository); the front-end was pre-trained on LRW (check its terms)",
        description="Mouth-region spatio-temporal detector: 3D conv + ResNet-18 + multi-scale TCN",
        converter="dfbench_lipforensics.convert:from_official",
        **dict(extra or {}),
    )


SPEC = make_spec()
