"""Exceptions with messages that say what to do next."""

from __future__ import annotations

import difflib


class DfbenchError(Exception):
    """Base class; the CLI prints the message and exits non-zero."""


def first_line(e: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (its type's name if it has none), for quoting a
    library's error inside one of ours without its traceback or graph dump."""
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:limit]


def brief(e: BaseException, limit: int = 200) -> str:
    """``"Type: first line"`` (or just the type) of an exception."""
    return f"{type(e).__name__}: {first_line(e, limit)}" if str(e).strip() else type(e).__name__


class UnknownNameError(DfbenchError, KeyError):
    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind, self.name, self.known = kind, name, known
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        msg = f"unknown {kind} {name!r}.{hint} Run `dfbench list {kind}s` to see all {len(known)}."
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


class UnknownDetectorError(UnknownNameError):
    def __init__(self, name: str, known: list[str]):
        super().__init__("detector", name, known)


class UnknownDatasetError(UnknownNameError):
    def __init__(self, name: str, known: list[str]):
        super().__init__("dataset", name, known)


class UnknownCorruptionError(UnknownNameError):
    def __init__(self, name: str, known: list[str]):
        super().__init__("corruption", name, known)


class UnknownCropperError(UnknownNameError):
    def __init__(self, name: str, known: list[str]):
        super().__init__("cropper", name, known)


class DuplicateNameError(DfbenchError):
    """Two plugins registered the same name."""


class DatasetNotFoundError(DfbenchError):
    """A dataset root is missing; the message names ``--data-root`` and the environment variable."""


class DatasetCountMismatch(DfbenchError):
    """What is on disk differs from the official counts; ``--allow-partial`` goes on anyway."""


class WeightsError(DfbenchError):
    """Weights missing, tampered with (sha256 mismatch) or not loadable safely."""


class CheckpointMismatchError(DfbenchError):
    """An official checkpoint has missing, unexpected or mis-shaped keys."""

    def __init__(self, model: str, missing=(), unexpected=(), mismatched=()):
        self.missing, self.unexpected, self.mismatched = list(missing), list(unexpected), list(mismatched)
        lines = [f"this is not an official {model} checkpoint:"]
        for title, items in (("missing keys", self.missing), ("unexpected keys", self.unexpected),
                             ("mis-shaped keys (name: checkpoint vs expected)", self.mismatched)):
            if items:
                shown = ", ".join(str(i) for i in items[:12])
                more = f" … (+{len(items) - 12} more)" if len(items) > 12 else ""
                lines.append(f"  {len(items)} {title}: {shown}{more}")
        super().__init__("\n".join(lines))


class MediaError(DfbenchError):
    """A video or image could not be read; recorded per video, never fatal for a run."""
