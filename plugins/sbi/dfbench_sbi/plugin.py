"""dfbench hook implementations for SBI (cheap imports only: torch loads when a model is built)."""

from __future__ import annotations

from dfbench import hookimpl


@hookimpl
def register_detectors(register) -> None:
    from .spec import SPEC

    register(SPEC)
