"""The demo weights that ship in the package: listed in the spec, sha256-pinned, loadable, small."""

from __future__ import annotations

import json

import pytest
import torch
from dfbench_recce.spec import SPEC, packaged_weights


@pytest.mark.parametrize("variant,det_id", [("lite", "recce_lite.demo"), ("lite_gf", "recce_lite_gf.demo")])
def test_demo_weights_load_through_the_core(variant, det_id):
    w = {(x.tag, x.variant): x for x in packaged_weights()}.get(("demo", variant))
    if w is None:
        pytest.skip(f"no packaged demo weights for {variant} in this checkout")
    assert w.sha256 and "held-out" in w.selection and "test split was never read" in w.selection
    build = pytest.importorskip("dfbench.build")
    det = build.build_detector(det_id)
    assert det.trained and det.variant.name == variant and det.net.fc.weight.dtype == torch.float32
    det.eval().configure_inference(channels_last=True, autocast="bf16")
    with torch.inference_mode():
        out = det(det.example_input(1))
    assert out.shape == (1,) and torch.isfinite(out).all()
    assert SPEC.default_weights == "demo"


def test_shipped_weight_files_are_small_and_portable():
    """`make demo` and git need a few MB, and a shipped config must not name the trainer's disk."""
    from importlib import resources

    root = resources.files("dfbench_recce") / "weights"
    dirs = [d for d in root.iterdir() if d.is_dir() and (d / "config.json").is_file()] if root.is_dir() else []
    if not dirs:
        pytest.skip("no packaged weights in this checkout")
    for d in dirs:
        assert (d / "model.safetensors").stat().st_size < 8 * 2**20, d.name
        text = (d / "config.json").read_text()
        cfg = json.loads(text)
        assert "/tmp/" not in text and "/root/" not in text and "/home/" not in text, d.name
        assert cfg["variant"] in {v.name for v in SPEC.variants}


def test_tagless_ids_take_their_own_variants_demo_weights_only():
    """(tag, variant) resolution: `recce_lite` gets the lite demo weights, the paper model none."""
    if not any(w.tag == "demo" for w in packaged_weights()):
        pytest.skip("no packaged demo weights in this checkout")
    from dfbench.registry import Registry

    reg = Registry()
    for det_id, variant in (("recce_lite", "lite"), ("recce_lite_gf", "lite_gf")):
        resolved = reg.resolve_detector(det_id)
        assert resolved.variant.name == variant
        assert resolved.weights is not None and resolved.weights.variant == variant
    assert reg.resolve_detector("recce").weights is None  # 299-px paper model: untrained, not lite weights
    assert reg.resolve_detector("recce_gf").weights is None
