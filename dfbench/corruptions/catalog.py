"""The built-in corruptions as pure data: parameter tables and :class:`CorruptionSpec` objects.

This module imports nothing heavy (no numpy, cv2 or av) because the plugin hook imports it every
time the registry is built, e.g. for ``dfbench list``. The implementations live in
:mod:`dfbench.corruptions.deeperforensics` and :mod:`dfbench.corruptions.extra` and are named by
import string.

The DeeperForensics-1.0 table is the one of the official ``get_distortion_parameter``
(EndlessSora/DeeperForensics-1.0, ``perturbation/add_distortion_to_video.py``); index 0 is level 1.
"""

from __future__ import annotations

from ..specs import CorruptionSpec

LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)

DF_SUITE = "df1.0"

# -- DeeperForensics-1.0 (official values) -------------------------------------------------------
SATURATION = (0.4, 0.3, 0.2, 0.1, 0.0)  # CS: chroma scale in the mapped YCbCr space
CONTRAST = (0.85, 0.725, 0.6, 0.475, 0.35)  # CC: multiply every channel
BLOCK = (16, 32, 48, 64, 80)  # BW: 8x8 gray blocks per 256 px of the short side
NOISE = (0.001, 0.002, 0.005, 0.01, 0.05)  # GNC: variance in the scaled YCbCr space
BLUR = (7, 9, 13, 17, 21)  # GB: kernel size k, sigma k/6
PIXELATION = (2, 3, 4, 5, 6)  # official "JPEG": down-scale factor, no codec involved
COMPRESSION = (30, 32, 35, 38, 40)  # VC: H.264 CRF

# -- extras (our choices, documented in docs/corruptions.md) -------------------------------------
# JPEG quality through libjpeg (cv2.imencode); evenly spaced over the range where detectors break.
JPEG_QUALITY = (90, 70, 50, 30, 10)
# Down-scale factor; level 1 is a mild 720p -> 480p-like reduction, level 5 a quarter resolution.
DOWNSCALE = (1.5, 2.0, 2.5, 3.0, 4.0)
# H.265 CRF: FFmpeg's H.265 guide equates x265 CRF 28 with x264 CRF 23, so the VC table + 5 gives
# roughly the same visual quality per level as the official H.264 levels.
H265 = (35, 37, 40, 43, 45)

_IMPL = "dfbench.corruptions.deeperforensics"
_EXTRA = "dfbench.corruptions.extra"


def _table(values: tuple) -> dict[int, object]:
    # A plain dict (not a read-only proxy) so that dataclasses.asdict / json can serialise specs.
    return dict(zip(LEVELS, values, strict=True))


BUILTIN: dict[str, CorruptionSpec] = {
    spec.name: spec
    for spec in (
        CorruptionSpec(
            name="saturation",
            apply=f"{_IMPL}:saturation",
            suites=(DF_SUITE,),
            official_name="CS",
            parameters=_table(SATURATION),
            description="Colour saturation change: chroma scaled towards gray in YCbCr (DeeperForensics CS).",
        ),
        CorruptionSpec(
            name="contrast",
            apply=f"{_IMPL}:contrast",
            suites=(DF_SUITE,),
            official_name="CC",
            parameters=_table(CONTRAST),
            description="Colour contrast change: every channel multiplied by a factor (DeeperForensics CC).",
        ),
        CorruptionSpec(
            name="block",
            apply=f"{_IMPL}:block",
            suites=(DF_SUITE,),
            official_name="BW",
            parameters=_table(BLOCK),
            description="Local block-wise distortion: random 8x8 gray blocks, redrawn every frame "
            "(DeeperForensics BW); frames with a short side under 256 px get none.",
        ),
        CorruptionSpec(
            name="noise",
            apply=f"{_IMPL}:noise",
            suites=(DF_SUITE,),
            official_name="GNC",
            parameters=_table(NOISE),
            description="White Gaussian noise in YCbCr, redrawn every frame (DeeperForensics GNC); "
            "the parameter is the variance.",
        ),
        CorruptionSpec(
            name="blur",
            apply=f"{_IMPL}:blur",
            suites=(DF_SUITE,),
            official_name="GB",
            parameters=_table(BLUR),
            description="Gaussian blur with a k x k kernel and sigma k/6 (DeeperForensics GB).",
        ),
        CorruptionSpec(
            name="pixelation",
            apply=f"{_IMPL}:pixelation",
            suites=(DF_SUITE,),
            official_name="JPEG",
            parameters=_table(PIXELATION),
            description="Pixelation: bilinear down-scale by q and back up. The official code calls it "
            "'JPEG' but no JPEG codec is involved (see 'jpeg' for real JPEG coding).",
        ),
        CorruptionSpec(
            name="compression",
            apply=f"{_IMPL}:compression",
            suites=(DF_SUITE,),
            scope="video",
            official_name="VC",
            parameters=_table(COMPRESSION),
            description="Video compression: the whole clip encoded with H.264 (libx264) at a CRF "
            "and decoded back (DeeperForensics VC).",
        ),
        CorruptionSpec(
            name="jpeg",
            apply=f"{_EXTRA}:jpeg",
            parameters=_table(JPEG_QUALITY),
            description="Real JPEG coding of every frame at a quality (libjpeg through OpenCV).",
        ),
        CorruptionSpec(
            name="downscale",
            apply=f"{_EXTRA}:downscale",
            parameters=_table(DOWNSCALE),
            description="Resolution loss: area down-scale by a factor, bilinear up-scale back.",
        ),
        CorruptionSpec(
            name="h265",
            apply=f"{_EXTRA}:h265",
            scope="video",
            parameters=_table(H265),
            description="Video compression with H.265 (libx265) at a CRF, decoded back.",
        ),
    )
}

# Official DeeperForensics type names are accepted wherever a corruption name is (e.g. "GB:3").
OFFICIAL_ALIASES: dict[str, str] = {
    s.official_name: s.name for s in BUILTIN.values() if s.official_name
}

SUITES: dict[str, list[str]] = {
    DF_SUITE: [s.name for s in BUILTIN.values() if DF_SUITE in s.suites]
}


def parameter(name: str, level: int) -> object:
    """The parameter a built-in corruption uses at ``level`` (no validation: callers check)."""
    return BUILTIN[name].parameters[level]
