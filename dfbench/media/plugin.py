"""Built-in face croppers, registered through the ``register_croppers`` hook like any plugin's.

Importing this module is cheap (no dlib, no OpenCV): factories are import strings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..hookspecs import hookimpl
from ..specs import CropperSpec, InputSpec

CROPPERS = (
    CropperSpec(
        name="dlib_align",
        factory="dfbench.media.croppers:DlibAlignCropper",
        defaults={"scale": 1.3, "points": "dfb", "multi_face": "largest", "upsample": 0},
        description="DeepfakeBench-style: dlib HOG + landmarks, 5-point similarity to the ArcFace "
                    "template, margin scale 1.3, 256 px RGB.",
        prepare_input=InputSpec(unit="frame", size=256, cropper="dlib_align", frames_per_video=32),
    ),
    CropperSpec(
        name="laanet",
        factory="dfbench.media.croppers:LAANetCropper",
        defaults={"enlarge": 0.25, "base": 256, "margin": 5, "multi_face": "largest", "upsample": 0},
        description="LAA-Net evaluation crop: box +25% per side, 256 px, 5-px margin cut, resize to "
                    "384; dlib HOG stands in for RetinaFace; 81 (or 68 + forehead) landmarks.",
        prepare_input=InputSpec(unit="frame", size=384, cropper="laanet", frames_per_video=32),
    ),
    CropperSpec(
        name="mouth",
        factory="dfbench.media.mouth:MouthCropper",
        defaults={"window": 12, "patch": 96, "multi_face": "largest", "upsample": 0},
        description="LipForensics mouth crop: 68 landmarks smoothed over 12 frames, similarity to a "
                    "mean face on 5 stable points, 96x96 mouth patch, gray, centre 88x88.",
        temporal=True,
        prepare_input=InputSpec(unit="clip", size=88, colour="gray", clip_length=25, cropper="mouth",
                                frames_per_video=0, mean=(0.421,), std=(0.165,)),
    ),
    CropperSpec(
        name="laanet_official",
        factory="dfbench.media.recipes:LAANetOfficialCropper",
        defaults={"face_detector": "auto"},
        description="LAA-Net's own crop: retinaface-pytorch R50 box (larger and more confident), +int(25%) per "
                    "side, 256, 5-px cut, LAA-Net affine to size; MTCNN box when the R50 weights are absent.",
        prepare_input=InputSpec(unit="frame", size=384, cropper="laanet_official", frames_per_video=32),
    ),
    CropperSpec(
        name="sbi_official",
        factory="dfbench.media.recipes:SBIOfficialCropper",
        defaults={"face_detector": "auto"},
        description="SBI's test crop: retinaface-pytorch R50 boxes, w/8 h/8 margins, resize to size; faces "
                    ">= half the largest area as extra crops; MTCNN box when the R50 weights are absent.",
        prepare_input=InputSpec(unit="frame", size=380, cropper="sbi_official", frames_per_video=32),
    ),
    CropperSpec(
        name="recce_official",
        factory="dfbench.media.recipes:RECCEOfficialCropper",
        defaults={"face_detector": "auto"},
        description="RECCE: Pytorch_Retinaface R50 box x1.3 (margin assumed: RECCE publishes no crop script), "
                    "resize to size; MTCNN box when the R50 weights are absent.",
        prepare_input=InputSpec(unit="frame", size=299, cropper="recce_official", frames_per_video=32),
    ),
    CropperSpec(
        name="lipforensics_official",
        factory="dfbench.media.recipes_landmarks:LipForensicsOfficialCropper",
        defaults={"face_detector": "auto", "window": 12, "patch": 96},
        description="LipForensics: RetinaFace + FAN 68 points, 12-frame smoothing, similarity to the LRW "
                    "20-word mean face (user file; dfbench-v1 fallback), 96 patch, gray, centre 88.",
        temporal=True,
        prepare_input=InputSpec(unit="clip", size=88, colour="gray", clip_length=25,
                                cropper="lipforensics_official", frames_per_video=0, mean=(0.421,),
                                std=(0.165,)),
    ),
    CropperSpec(
        name="dfb",
        factory="dfbench.media.recipes_landmarks:DFBCropper",
        defaults={"res": 256, "scale": 1.3, "redetect_miss": "stop_video"},
        description="DeepfakeBench's dlib recipe: HOG (upsample 1, RGB), 81 (or 68) points, ArcFace similarity "
                    "with margin 1.3 at 256, second detection + landmarks on the aligned crop.",
        prepare_input=InputSpec(unit="frame", size=256, cropper="dfb", frames_per_video=32),
    ),
    CropperSpec(
        name="precropped",
        factory="dfbench.media.croppers:PrecroppedCropper",
        defaults={"colour": "rgb"},
        description="For datasets shipping face crops (WildDeepfake): no detection, resize to size.",
        prepare_input=InputSpec(unit="frame", size=256, cropper="precropped", frames_per_video=32),
    ),
)


@hookimpl
def register_croppers(register: Callable[[Any], None]) -> None:
    for spec in CROPPERS:
        register(spec)
