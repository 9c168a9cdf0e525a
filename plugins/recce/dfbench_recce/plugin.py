"""dfbench hook implementations for RECCE (cheap imports only: torch loads when a command runs)."""

from __future__ import annotations

from typing import Any

from dfbench import hookimpl


@hookimpl
def register_detectors(register) -> None:
    from .spec import SPEC

    register(SPEC)


@hookimpl
def register_commands(cli: Any) -> None:
    from .commands import recce

    cli.add_command(recce)
