"""The demo weights that ship in the package: listed in the spec, sha256-pinned, loadable."""

from __future__ import annotations

import pytest
import torch
from dfbench_recce.spec import SPEC, packaged_weights


@pytest.mark.parametrize("tag,variant,det_id", [("demo", "default", "recce.demo"), ("demo_gf", "gf", "recce_gf.demo_gf")])
def test_demo_weights_load_through_the_core(tag, variant, det_id):
    w = {x.tag: x for x in packaged_weights()}.get(tag)
    if w is None:
        pytest.skip(f"no packaged {tag} weights in this checkout")
    assert w.variant == variant and w.sha256 and "held-out" in w.selection
    build = pytest.importorskip("dfbench.build")
    det = build.build_detector(det_id)
    assert det.trained and det.variant.name == variant and det.net.fc.weight.dtype == torch.float32
    det.eval().configure_inference(channels_last=True, autocast="bf16")
    with torch.inference_mode():
        out = det(det.example_input(1))
    assert out.shape == (1,) and torch.isfinite(out).all()
    if tag == "demo":
        assert SPEC.default_weights == "demo"
