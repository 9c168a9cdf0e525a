"""Hook implementations of the built-in corruption plugin (entry point ``builtin_corruptions``).

Registers the DeeperForensics-1.0 suite (``df1.0``) and the extras exactly as a third-party
plugin would. Importing this module stays cheap: the specs are pure data (no cv2/av import).
"""

from __future__ import annotations

from collections.abc import Callable

from ..hookspecs import hookimpl
from ..specs import CorruptionSpec
from .catalog import BUILTIN


@hookimpl
def register_corruptions(register: Callable[[CorruptionSpec], None]) -> None:
    for spec in BUILTIN.values():
        register(spec)
