"""UnivFD as dfbench registers it (pure data).

Official method (WisconsinAIVision/UniversalFakeDetect, read for these notes): OpenAI CLIP
ViT-L/14's image embedding (768-d, after the projection) with a trained linear layer
``fc: Linear(768, 1)``; p(fake) = sigmoid(fc(embedding)). Released: ``fc_weights.pth`` (the
probe only); the encoder is OpenAI's CLIP, which the user fetches with their own ``open_clip``
cache. Preprocessing: CLIP mean/std; the official validation centre-crops 224 px without
resizing, CLIP's own preprocessing resizes the shorter side to 224 first — dfbench uses CLIP's
(cropper ``clip_center``), since video frames are larger than the generator images UnivFD was
tested on. A face-crop variant (``univfd_face``: ``dlib_align`` at 224 px) is offered for face
datasets; which one produced a number is in the run protocol (cropper recipe).
Video score: the mean logit over 32 frames (UnivFD is an image detector; dfbench's choice).
"""

from __future__ import annotations

from dfbench.packaged import packaged_weights
from dfbench.specs import DetectorSpec, InputSpec, VariantSpec

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
VIT_L14 = {"embed_dim": 768, "vision_cfg": {"image_size": 224, "layers": 24, "width": 1024, "patch_size": 14}}
# A tiny ViT with the same structure (class token, pre/post LayerNorm, projection) for tests.
TINY = {"embed_dim": 16, "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "patch_size": 8, "head_width": 16}}
# The packaged demo weights' network. No CLIP weights exist offline, so the encoder of the demo
# weights is this small ViT left frozen at its seeded random initialisation; only the probe was
# trained: UnivFD's method (frozen encoder + linear probe) without CLIP's features.
DEMO = {"embed_dim": 128, "vision_cfg": {"image_size": 96, "layers": 4, "width": 96, "patch_size": 8,
                                         "head_width": 32}}
_DEMO_NOTE = ("small ViT (4 layers, width 96, 96 px) FROZEN AT ITS SEEDED RANDOM INITIALISATION (no CLIP weights "
              "offline) + a linear probe trained on the demo dataset: UnivFD's method without CLIP's features")


def clip_input(size: int, face: bool = False) -> InputSpec:
    return InputSpec(unit="frame", size=size, colour="rgb",
                     cropper="dlib_align" if face else "clip_center",
                     crop_settings={"scale": 1.3} if face else {},
                     mean=CLIP_MEAN, std=CLIP_STD, frames_per_video=32, aggregation="mean_logit", flip_test=False)


SPEC = DetectorSpec(
    name="univfd",
    factory="dfbench_univfd.model:build_detector",
    # Demo weights (dfbench_univfd/weights/<dir>/, trained with configs/demo.yaml): random frozen encoder + probe.
    weights=packaged_weights("dfbench_univfd", default_variant="demo"),
    variants=(
        VariantSpec("default", clip_input(224), dict(VIT_L14),
                    "Frozen CLIP ViT-L/14 (QuickGELU, OpenAI weights) + linear probe, whole frame."),
        VariantSpec("face", clip_input(224, face=True), dict(VIT_L14),
                    "The same model on DeepfakeBench-aligned face crops at 224 px."),
        VariantSpec("test", clip_input(32), dict(TINY), "Tiny ViT (2 layers, width 32, 32 px) for tests."),
        VariantSpec("demo", clip_input(96), dict(DEMO), f"Demo weights' network, whole frame: {_DEMO_NOTE}."),
    ),
    default_variant="default",
    paper="Towards Universal Fake Image Detectors that Generalize Across Generative Models "
          "(Ojha, Li & Lee, CVPR 2023)",
    url="https://github.com/WisconsinAIVision/UniversalFakeDetect",
    license="Apache-2.0 (this implementation)",
    weights_license="probe: see the UniversalFakeDetect repository licence; encoder: OpenAI CLIP (MIT); "
                    "not redistributed here",
    description="Nearest-neighbour/linear probe on a frozen CLIP ViT-L/14 embedding; "
                "`dfbench convert univfd fc_weights.pth OUT` adds the CLIP encoder from your open_clip cache.",
    converter="dfbench_univfd.convert:from_official",
)
