"""dfbench: an open benchmark and evaluation harness for deepfake detectors.

Public API (imported lazily so that ``import dfbench`` stays cheap):
``evaluate``, ``build_detector``, ``get_registry``, ``hookimpl``.
"""

from __future__ import annotations

from typing import Any

from .hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl", "evaluate", "build_detector", "get_registry"]


def __getattr__(name: str) -> Any:
    if name == "evaluate":
        from .runner import evaluate

        return evaluate
    if name == "build_detector":
        from .build import build_detector

        return build_detector
    if name == "get_registry":
        from .registry import get_registry

        return get_registry
    raise AttributeError(name)
