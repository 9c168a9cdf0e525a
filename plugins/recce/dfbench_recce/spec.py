"""The RECCE detector family as dfbench registers it (pure data: importing this never imports torch).

Variants: ``default`` (id ``recce``, the paper model), ``gf`` (``recce_gf``, global Fourier filter
+ spatial/frequency cross-attention, see :mod:`dfbench_recce.gf`), ``lite`` / ``lite_gf``
(``recce_lite``, ``recce_lite_gf``: the same topologies at 128 px and about a quarter of the widths,
small enough to train on the demo dataset on a CPU in minutes; they carry the ``demo`` weights), and
the tiny ``test`` / ``test_gf`` variants (64 px, narrow widths) that run in milliseconds for
contract tests.
"""

from __future__ import annotations

import logging

from dfbench.specs import DetectorSpec, InputSpec, VariantSpec, WeightsSpec

log = logging.getLogger(__name__)

PAPER = "End-to-End Reconstruction-Classification Learning for Face Forgery Detection (Cao et al., CVPR 2022)"


def _input(size: int) -> InputSpec:
    # Protocol of the official code: 299 px RGB faces, mean = std = 0.5 (i.e. [-1, 1]). The
    # official faces come from RetinaFace boxes the user extracts; dfbench standardises on the
    # aligned dlib crop at scale 1.3 so every detector sees the same faces.
    return InputSpec(unit="frame", size=size, colour="rgb", cropper="dlib_align",
                     crop_settings={"scale": 1.3}, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                     frames_per_video=32, aggregation="mean_logit", flip_test=False,
                     # The official code scores the face images it was given (faceless frames absent).
                     missing_face="skip")


_TINY = {"input_size": 64, "stem": (8, 16), "entry": (16, 24, 32), "exit": (48, 56, 64),
         "decoder": (16, 12, 8), "graph_dim": 16, "drop_rate": 0.2, "gf_dim": 16, "gf_heads": 2}

# Demo-sized RECCE: every block of the paper model, 128 px input (8x8 block4 grid, so the graph
# reasoning still sees 16x16 and 32x32 decoder neighbourhoods), middle-flow width 192 instead of
# 728. 1.7 M parameters (1.8 M with gf) against 25.8 M: ~30 training images/s on one CPU core.
_LITE = {"input_size": 128, "stem": (16, 32), "entry": (48, 96, 192), "exit": (256, 384, 512),
         "decoder": (96, 48, 24), "graph_dim": 48, "drop_rate": 0.2, "gf_dim": 48, "gf_heads": 4}

VARIANTS = (
    VariantSpec("default", _input(299), {"input_size": 299, "gf": False},
                "RECCE as in the paper: Xception encoder, reconstruction decoder, graph reasoning, "
                "reconstruction-guided attention (25.8 M parameters)."),
    VariantSpec("gf", _input(299), {"input_size": 299, "gf": True},
                "RECCE + learnable global Fourier filter on the block4 embedding and cross-modal "
                "attention between the spatial and frequency streams (dfbench seed variant)."),
    VariantSpec("lite", _input(128), {**_LITE, "gf": False},
                "RECCE at 128 px and reduced widths (1.7 M parameters) for CPU-trained demo weights."),
    VariantSpec("lite_gf", _input(128), {**_LITE, "gf": True},
                "recce_gf at 128 px and reduced widths (1.8 M parameters) for CPU-trained demo weights."),
    VariantSpec("test", _input(64), {**_TINY, "gf": False}, "Tiny RECCE for CPU contract tests."),
    VariantSpec("test_gf", _input(64), {**_TINY, "gf": True}, "Tiny recce_gf for CPU contract tests."),
)


def packaged_weights() -> tuple[WeightsSpec, ...]:
    """Weights shipped in ``dfbench_recce/weights/<dir>/``, read the core's one way
    (:func:`dfbench.packaged.packaged_weights`): the config names the variant and the tag, so
    ``lite_demo/`` and ``lite_gf_demo/`` both carry ``demo`` (``recce_lite.demo``, ``recce_lite_gf.demo``)."""
    from dfbench.packaged import packaged_weights as scan

    return scan("dfbench_recce", default_variant="default")


WEIGHTS: tuple[WeightsSpec, ...] = packaged_weights()

SPEC = DetectorSpec(
    name="recce",
    factory="dfbench_recce.model:build_detector",
    variants=VARIANTS,
    default_variant="default",
    weights=WEIGHTS,
    # Weights resolve by (tag, variant): an id without a tag (`recce_lite`, `recce_lite_gf`) takes
    # the demo weights of its own variant. The paper variants ship none, so `recce` / `recce_gf`
    # stay untrained (a user must pass --weights) rather than load another architecture's weights.
    default_weights="demo" if any(w.tag == "demo" for w in WEIGHTS) else None,
    paper=PAPER,
    url="https://github.com/VISION-SJTU/RECCE",
    license="MIT (official code); re-implementation Apache-2.0",
    weights_license="not stated separately (official repository: MIT)",
    description="Reconstruction-classification learning: a decoder reconstructs real faces; the "
                "reconstruction error guides attention on Xception features.",
    converter="dfbench_recce.convert:from_official",
)
