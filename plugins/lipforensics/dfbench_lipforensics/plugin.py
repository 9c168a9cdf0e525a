"""dfbench hook implementations for LipForensics (cheap imports only: no torch at import time)."""

from __future__ import annotations

from typing import Any

from dfbench import hookimpl


@hookimpl
def register_detectors(register) -> None:
    from .spec import SPEC

    register(SPEC)


@hookimpl
def register_commands(cli: Any) -> None:
    from .commands import lipforensics_group

    cli.add_command(lipforensics_group)
