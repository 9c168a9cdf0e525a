"""The RECCE detector family as dfbench registers it (pure data: importing this never imports torch).

Variants: ``default`` (id ``recce``, the paper model), ``gf`` (``recce_gf``, global Fourier filter
+ spatial/frequency cross-attention, see :mod:`dfbench_recce.gf`), and the tiny ``test`` /
``test_gf`` variants (64 px, narrow widths) that run in milliseconds for contract tests.
"""

from __future__ import annotations

import json
import logging
from importlib import resources

from dfbench.specs import DetectorSpec, InputSpec, VariantSpec, WeightsSpec

log = logging.getLogger(__name__)

PAPER = "End-to-End Reconstruction-Classification Learning for Face Forgery Detection (Cao et al., CVPR 2022)"


def _input(size: int) -> InputSpec:
    # Protocol of the official code: 299 px RGB faces, mean = std = 0.5 (i.e. [-1, 1]). The
    # official faces come from RetinaFace boxes the user extracts; dfbench standardises on the
    # aligned dlib crop at scale 1.3 so every detector sees the same faces.
    return InputSpec(unit="frame", size=size, colour="rgb", cropper="dlib_align",
                     crop_settings={"scale": 1.3}, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
                     frames_per_video=32, aggregation="mean_logit", flip_test=False)


_TINY = {"input_size": 64, "stem": (8, 16), "entry": (16, 24, 32), "exit": (48, 56, 64),
         "decoder": (16, 12, 8), "graph_dim": 16, "drop_rate": 0.2, "gf_dim": 16, "gf_heads": 2}

VARIANTS = (
    VariantSpec("default", _input(299), {"input_size": 299, "gf": False},
                "RECCE as in the paper: Xception encoder, reconstruction decoder, graph reasoning, "
                "reconstruction-guided attention (25.8 M parameters)."),
    VariantSpec("gf", _input(299), {"input_size": 299, "gf": True},
                "RECCE + learnable global Fourier filter on the block4 embedding and cross-modal "
                "attention between the spatial and frequency streams (dfbench seed variant)."),
    VariantSpec("test", _input(64), {**_TINY, "gf": False}, "Tiny RECCE for CPU contract tests."),
    VariantSpec("test_gf", _input(64), {**_TINY, "gf": True}, "Tiny recce_gf for CPU contract tests."),
)


def packaged_weights() -> tuple[WeightsSpec, ...]:
    """Weights shipped in ``dfbench_recce/weights/<tag>/`` (``model.safetensors`` + ``config.json``).

    The config names the variant and pins the sha256; its ``card`` says what the weights were
    trained on and how the checkpoint was selected. Only small JSON files are read here.
    """
    root = resources.files("dfbench_recce") / "weights"
    out = []
    if not root.is_dir():
        return ()
    for d in sorted(root.iterdir(), key=lambda p: p.name):
        if not (d.is_dir() and (d / "model.safetensors").is_file() and (d / "config.json").is_file()):
            continue
        try:
            cfg = json.loads((d / "config.json").read_text())
        except (OSError, ValueError) as exc:
            log.warning("skipping packaged RECCE weights %s: unreadable config.json (%s)", d.name, exc)
            continue
        card = cfg.get("card") or {}
        sel = cfg.get("selection") or {}
        out.append(WeightsSpec(
            tag=d.name, variant=cfg.get("variant", "default"), source=f"package://dfbench_recce/weights/{d.name}",
            sha256=cfg.get("sha256"), trained_on=card.get("trained_on", ""),
            selection=card.get("selection", json.dumps(sel) if sel else ""), license=card.get("license", ""),
            description=card.get("description", ""), reported=card.get("reported", {})))
    return tuple(out)


WEIGHTS: tuple[WeightsSpec, ...] = packaged_weights()

SPEC = DetectorSpec(
    name="recce",
    factory="dfbench_recce.model:build_detector",
    variants=VARIANTS,
    default_variant="default",
    weights=WEIGHTS,
    # `recce` resolves to the demo weights when they ship; `recce_gf.demo_gf` names the gf ones.
    default_weights="demo" if any(w.tag == "demo" for w in WEIGHTS) else None,
    paper=PAPER,
    url="https://github.com/VISION-SJTU/RECCE",
    license="MIT (official code); re-implementation Apache-2.0",
    description="Reconstruction-classification learning: a decoder reconstructs real faces; the "
                "reconstruction error guides attention on Xception features.",
    converter="dfbench_recce.convert:from_official",
)
