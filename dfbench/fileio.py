"""Crash-safe file writes, hashing and an inter-process lock, with no heavy imports.

Every module that writes a result, a leaderboard entry, a cache shard or a checkpoint goes
through here, so "never a half-written file" is implemented once. This module must stay
importable without torch (``dfbench --help`` and the leaderboard commands import it), which is
why it lives apart from :mod:`dfbench.weights`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def cache_root(*parts: str) -> Path:
    """dfbench's cache directory, ``$DFBENCH_CACHE`` or ``~/.cache/dfbench`` (``~`` expanded), joined
    with ``parts`` (``"crops"``, ``"onnx"``, ``"precision"``, ...): every cache lives under one root."""
    env = os.environ.get("DFBENCH_CACHE")
    return (Path(env).expanduser() if env else Path.home() / ".cache" / "dfbench").joinpath(*parts)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (weights can be gigabytes)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@contextlib.contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """A temp path beside ``path`` for the block to write (by any means, e.g. a library's own
    ``save(file)``); renamed over ``path`` when the block ends, removed if it raises: never a half file.

    The temp name carries the pid and the thread so two writers of the same target (processes, or
    threads of one process: a run's crop-cache writer and another run's in the same process) never
    share a temp file; the last ``os.replace`` wins, whole.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}-{threading.get_ident()}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | Path, data: bytes, *, fsync: bool = True) -> None:
    """Write ``data`` to a temp file in the same directory, fsync, then rename (:func:`atomic_target`).
    ``fsync=False`` is for caches that can be rebuilt."""
    with atomic_target(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        if fsync:
            os.fsync(f.fileno())


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars/arrays, paths and sets (numpy imported lazily)."""
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if type(o).__module__ == "numpy":
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def atomic_write_json(path: str | Path, obj: Any, *, sort_keys: bool = False) -> None:
    text = json.dumps(obj, indent=2, sort_keys=sort_keys, default=json_default) + "\n"
    atomic_write_bytes(path, text.encode())


class LockTimeout(TimeoutError):
    """Another process held the lock for longer than the timeout."""


@contextlib.contextmanager
def file_lock(path: str | Path, timeout: float = 120.0, poll: float = 0.05) -> Iterator[Path]:
    """Exclusive inter-process lock on ``path`` (created next to the data it guards).

    Uses ``fcntl.flock`` where available (released by the kernel when the holder dies, so a
    kill -9 never leaves a stale lock); elsewhere falls back to ``O_EXCL`` creation. The holder's
    pid is written into the file so a stuck lock can be traced.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None  # type: ignore[assignment]
    if fcntl is not None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as e:
                    if e.errno not in (errno.EAGAIN, errno.EACCES):
                        raise
                    if time.monotonic() > deadline:
                        raise LockTimeout(f"{path} is held by another process (pid {_holder(path)}); "
                                          f"wait for it or remove the file if that process is gone") from None
                    time.sleep(poll)
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield path
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    while True:  # pragma: no cover - Windows
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise LockTimeout(f"{path} is held by another process (pid {_holder(path)})") from None
            time.sleep(poll)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def _holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "?"
    except OSError:
        return "?"
