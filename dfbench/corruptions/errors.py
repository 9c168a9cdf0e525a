"""Exceptions raised by the built-in corruptions, with messages that say what to pass instead.

Unknown names use the core :class:`dfbench.errors.UnknownCorruptionError` (with "did you mean").
"""

from __future__ import annotations

from ..errors import DfbenchError


class CorruptionLevelError(DfbenchError, ValueError):
    """A severity level outside the levels a corruption declares."""

    def __init__(self, name: str, level: object, levels: tuple[int, ...]):
        self.name, self.level, self.levels = name, level, levels
        valid = ", ".join(str(v) for v in levels)
        super().__init__(
            f"corruption {name!r} has no level {level!r}; valid levels are {valid} "
            f"(e.g. '{name}:{levels[0]}')."
        )


class CorruptionInputError(DfbenchError, ValueError):
    """Frames of the wrong dtype or shape, a malformed ``name:level`` string or a bad seed."""
