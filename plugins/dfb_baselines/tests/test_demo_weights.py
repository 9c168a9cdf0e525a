"""The demo weights that ship in the package: one set per family, listed in its spec, carded,
sha256-pinned, small, portable, and loadable through the core (`dfbench run`'s path)."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import torch

FAMILIES = ("xception", "efficientnet_b4", "spsl")


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_ships_demo_weights_of_its_demo_variant(family):
    from dfbench.build import build_detector
    from dfbench.registry import get_registry

    spec = get_registry().detectors[family]
    demo = [w for w in spec.weights if w.tag == "demo"]
    assert [w.variant for w in demo] == ["demo"], "one demo set, for the labelled demo variant"
    w = demo[0]
    assert w.sha256 and "held out by video" in w.trained_on and "test split was never read" in w.selection
    assert "not the published model" in w.description
    assert spec.default_weights is None  # the paper model (default variant) stays untrained
    det = build_detector(f"{family}_demo.demo")
    assert det.trained and det.variant.name == "demo"
    with torch.inference_mode():
        out = det.eval()(det.example_input(2))
    assert out.shape == (2,) and torch.isfinite(out).all()


def test_shipped_files_are_small_portable_and_one_family_each():
    root = resources.files("dfbench_dfb") / "weights"
    for family in FAMILIES:
        d = root / family / "demo"
        assert (d / "model.safetensors").stat().st_size < 3 * 2**20, family
        text = (d / "config.json").read_text()
        assert "/tmp/" not in text and "/root/" not in text and "/home/" not in text, family
        cfg = json.loads(text)
        assert cfg["detector"] == family and cfg["tag"] == "demo" and cfg["training"]["detector"] == family


def test_module_entry_point_runs_the_family_commands():
    """`torchrun -m dfbench_dfb <family> train ...` needs a module with the same commands."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "dfbench_dfb", "efficientnet_b4", "train", "--print-config",
                          "--set", "variant=test"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "detector: efficientnet_b4" in out.stdout and "variant: test" in out.stdout
