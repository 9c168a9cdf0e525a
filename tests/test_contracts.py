"""Contract checks over every registered detector's tiny `test` variant (design: Tests)."""

import pytest

from dfbench.registry import get_registry
from dfbench.testing import check_detector

REGISTRY = get_registry()
FAMILIES = sorted(REGISTRY.detectors)


@pytest.mark.parametrize("family", FAMILIES)
def test_detector_contract(family):
    spec = REGISTRY.detectors[family]
    for v in spec.variants:
        if v.name.startswith("test"):
            check_detector(spec, v.name, registry=REGISTRY)


@pytest.mark.parametrize("family", FAMILIES)
def test_declared_weights_resolve_and_load(family):
    """Every weights tag a plugin declares must exist, match its pinned sha256 and load."""
    from dfbench.build import build_detector

    spec = REGISTRY.detectors[family]
    for w in spec.weights:
        base = spec.name if w.variant == "default" else f"{spec.name}_{w.variant}"
        if w.source.startswith("hf://"):
            continue  # network; covered by the hub tests against a local endpoint
        det = build_detector(f"{base}.{w.tag}")
        assert det.trained and det.weights_info["sha256"]


def test_check_detector_catches_a_broken_detector():
    import torch

    from dfbench.detector import Detector
    from dfbench.specs import DetectorSpec, InputSpec, VariantSpec

    class BatchLeaky(torch.nn.Module):
        def forward(self, x):  # depends on the other samples in the batch
            return (x.mean(dim=(1, 2, 3)) - x.mean())[:, None]

    def build(v):
        return Detector(BatchLeaky(), v.input)

    variants = (VariantSpec("default", InputSpec(size=8)), VariantSpec("test", InputSpec(size=8)))
    spec = DetectorSpec(name="leaky", factory=build, variants=variants, default_variant="default")
    with pytest.raises(AssertionError, match="batch size"):
        check_detector(spec)
