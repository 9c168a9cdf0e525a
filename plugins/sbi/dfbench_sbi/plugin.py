"""dfbench hook implementations for SBI (cheap imports only: torch loads when a model is built)."""

from __future__ import annotations

from typing import Any

from dfbench import hookimpl


@hookimpl
def register_detectors(register) -> None:
    from .spec import SPEC

    register(SPEC)


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``dfbench sbi train``."""
    from .commands import sbi

    cli.add_command(sbi)
