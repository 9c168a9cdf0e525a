"""dfbench hook implementations for the DeepfakeBench baselines (no torch import here)."""

from __future__ import annotations

from dfbench import hookimpl


@hookimpl
def register_detectors(register) -> None:
    from .spec import EFFICIENTNET_B4, SPSL, XCEPTION

    register(XCEPTION)
    register(EFFICIENTNET_B4)
    register(SPSL)
