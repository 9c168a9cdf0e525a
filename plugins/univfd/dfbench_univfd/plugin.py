"""dfbench hooks for UnivFD: the detector family and the CLIP centre-crop "cropper" (no torch import)."""

from __future__ import annotations

from typing import Any

from dfbench import hookimpl
from dfbench.specs import CropperSpec


@hookimpl
def register_detectors(register) -> None:
    from .spec import SPEC

    register(SPEC)


@hookimpl
def register_croppers(register) -> None:
    register(CropperSpec(
        name="clip_center", factory="dfbench_univfd.crop:CenterCropper", defaults={},
        description="No face detection: CLIP's preprocessing geometry (shorter side resized to the "
                    "input size with PIL bicubic, centre crop) on the whole frame.",
    ))


@hookimpl
def register_commands(cli: Any) -> None:
    """``dfbench univfd train|export``."""
    from .commands import univfd

    cli.add_command(univfd)
