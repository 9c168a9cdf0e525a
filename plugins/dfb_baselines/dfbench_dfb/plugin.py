"""dfbench hook implementations for the DeepfakeBench baselines (no torch import here)."""

from __future__ import annotations

from typing import Any

from dfbench import hookimpl


@hookimpl
def register_detectors(register) -> None:
    from .spec import EFFICIENTNET_B4, SPSL, XCEPTION

    register(XCEPTION)
    register(EFFICIENTNET_B4)
    register(SPSL)


@hookimpl
def register_commands(cli: Any) -> None:
    """``dfbench xception|efficientnet_b4|spsl train|export``."""
    from .commands import efficientnet_b4, spsl, xception

    for group in (xception, efficientnet_b4, spsl):
        cli.add_command(group)
