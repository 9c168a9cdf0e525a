"""Re-save trained RECCE weights for shipping (``dfbench recce export``): the training core's
:func:`dfbench.training.export.export_weights`, importable from here."""

from __future__ import annotations

from dfbench.training.export import export_weights

__all__ = ["export_weights"]
