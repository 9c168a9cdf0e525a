"""UnivFD's demo weights: a frozen, randomly initialised small ViT + a trained linear probe,
labelled as exactly that, loadable through the core."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import torch


def test_demo_weights_are_labelled_random_frozen_encoder_plus_trained_probe():
    from dfbench.build import build_detector
    from dfbench.registry import get_registry

    spec = get_registry().detectors["univfd"]
    demo = [w for w in spec.weights if w.tag == "demo"]
    if not demo:
        pytest.skip("no packaged demo weights in this checkout")
    for w in demo:
        assert w.variant.startswith("demo") and w.sha256
        assert "random" in w.description and "frozen" in w.description and "probe" in w.description
        assert "test split was never read" in w.selection
        det = build_detector(f"univfd_{w.variant}.demo")
        assert det.trained and "FROZEN AT ITS SEEDED RANDOM INITIALISATION" in det.variant.description
        with torch.inference_mode():
            out = det.eval()(det.example_input(2))
        assert out.shape == (2,) and torch.isfinite(out).all()
        d = resources.files("dfbench_univfd") / "weights" / w.source.rsplit("/", 1)[1]
        assert (d / "model.safetensors").stat().st_size < 3 * 2**20
        cfg = json.loads((d / "config.json").read_text())
        assert cfg["training"]["optim"] and "/tmp/" not in json.dumps(cfg)
