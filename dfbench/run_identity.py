"""What makes a run *this* run: input checks, file signatures, software versions, resume, lock.

A number is only worth something when it is clear what produced it. :func:`dfbench.runner.evaluate`
uses this module to

- check the command-line values and the device before anything is written (:func:`check_args`,
  :func:`check_device`);
- sign every listed file (size + mtime, or the directory listing of a frame folder) so the
  protocol's ``dataset.index_sha256`` changes when a video is replaced, and the crop cache can
  tell a changed file from the one it cropped (:func:`file_signature`, :func:`index_checksum`);
- record the versions of the software that turns pixels into numbers (:func:`software_versions`);
- refuse to resume into a directory whose protocol differs, naming what changed
  (:func:`protocol_changes`);
- keep two processes from writing one run directory (:class:`RunLock`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .errors import DfbenchError
from .results import PARTIAL_FILE, PREDICTIONS_FILE, RESULTS_FILE

LOCK_FILE = ".dfbench.lock"


# -- command-line values and device -----------------------------------------------------------------

def check_args(*, limit: int | None = None, limit_percent: float | None = None, batch_size: int | None = None,
               frames_per_video: int | None = None) -> None:
    """One-line errors for values that would silently produce a different (or no) evaluation."""
    if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
        raise DfbenchError(f"--limit must be a positive number of videos, got {limit}; omit it to evaluate the whole split")
    if limit_percent is not None and not 0 < float(limit_percent) <= 100:
        raise DfbenchError(f"--limit-percent must be in (0, 100], got {limit_percent}; omit it to evaluate the whole split")
    if batch_size is not None and int(batch_size) < 1:
        raise DfbenchError(f"--batch-size must be at least 1, got {batch_size}")
    if frames_per_video is not None and int(frames_per_video) < 1:
        raise DfbenchError(f"--frames must be at least 1, got {frames_per_video}; omit it for the detector's protocol")


def check_device(device: str) -> None:
    """Refuse a device torch cannot use, before any output directory exists."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise DfbenchError(f"--device {device}: not a device; use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cpu":
        return
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DfbenchError(f"--device {device}: no CUDA GPU is visible to this torch "
                               f"(torch {torch.__version__}, cuda available: False); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DfbenchError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s); "
                               f"use cuda:0..cuda:{torch.cuda.device_count() - 1}")
        return
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DfbenchError(f"--device {device}: Apple MPS is not available on this machine; use --device cpu")
        return
    raise DfbenchError(f"--device {device}: dfbench runs on cpu, cuda[:N] or mps, not {dev.type!r}")


# -- file signatures and the dataset index ----------------------------------------------------------

def file_signature(item: Any) -> dict[str, Any]:
    """What identifies the content of a listed file without reading it: path, size, mtime.

    A frame folder is signed by its listing (names, sizes, mtimes). Extra identity the dataset
    gives (a Hugging Face dataset's row, revision) is kept from ``item.meta``, so two HF datasets
    never share a signature. A missing file signs as missing.
    """
    meta = {k: v for k, v in sorted(dict(getattr(item, "meta", {}) or {}).items()) if k != "missing"}
    path = str(item.path)
    sig: dict[str, Any] = {"path": path}
    if meta:
        sig["meta"] = json.loads(json.dumps(meta, default=str))
    try:
        st = os.stat(path)
    except OSError:
        sig["missing"] = True
        return sig
    if os.path.isdir(path):
        h = hashlib.sha256()
        with os.scandir(path) as it:
            for e in sorted(it, key=lambda e: e.name):
                est = e.stat()
                h.update(f"{e.name}\t{est.st_size}\t{est.st_mtime_ns}\n".encode())
        sig["listing_sha256"] = h.hexdigest()
    else:
        sig["size"], sig["mtime_ns"] = st.st_size, st.st_mtime_ns
    return sig


def index_checksum(items: list, signatures: dict[str, dict]) -> str:
    """sha256 over every item's key, label and file signature, in index order."""
    h = hashlib.sha256()
    for it in items:
        h.update(f"{it.key}\t{it.label}\t{json.dumps(signatures[it.key], sort_keys=True)}\n".encode())
    return h.hexdigest()


# -- software ---------------------------------------------------------------------------------------

def _dist_version(*names: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    for n in names:
        try:
            return version(n)
        except PackageNotFoundError:
            continue
    return None


def software_versions() -> dict[str, Any]:
    """Versions of everything between a file and a number (decoder, face tools, torch, plugins)."""
    import torch

    from . import __version__
    from .plugins import plugin_versions

    try:
        import cv2

        opencv = cv2.__version__
    except ImportError:
        opencv = None
    return {
        "dfbench": __version__,
        "plugins": plugin_versions(),
        "torch": torch.__version__,
        "opencv": opencv,
        "dlib": _dist_version("dlib", "dlib-bin"),
        "pyav": _dist_version("av"),
        "numpy": _dist_version("numpy"),
    }


# -- resume -----------------------------------------------------------------------------------------

def _diff(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new), key=str):
            out += _diff(old.get(k), new.get(k), f"{prefix}.{k}" if prefix else str(k))
        return out
    if json.dumps(old, sort_keys=True, default=str) == json.dumps(new, sort_keys=True, default=str):
        return []
    if isinstance(old, (dict, list)) or isinstance(new, (dict, list)) or len(str(old)) + len(str(new)) > 80:
        return [prefix]
    return [f"{prefix} ({old!r} -> {new!r})"]


_HINTS = {
    "dataset.index_sha256": "a listed file was added, removed, relabelled or changed size/mtime",
    "detector.weights_sha256": "the weights file changed",
}


def protocol_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable paths of what differs between two protocols (``a.b (x -> y)``)."""
    changes = _diff(old, new)
    return [f"{c}: {_HINTS[c.split(' ')[0]]}" if c.split(" ")[0] in _HINTS else c for c in changes]


# -- one writer per run directory -------------------------------------------------------------------

def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunLock:
    """``OUT/.dfbench.lock`` holding the writer's pid. A second writer refuses; a lock left by a
    process that no longer exists (kill -9) is taken over."""

    def __init__(self, out: Path) -> None:
        self.path = Path(out) / LOCK_FILE
        self.held = False

    def acquire(self) -> RunLock:
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(self.path.read_text().strip() or 0)
                except (OSError, ValueError):
                    pid = 0
                if pid and pid != os.getpid() and _alive(pid):
                    raise DfbenchError(
                        f"{self.path.parent} is being written by another dfbench process (pid {pid}, "
                        f"lock {self.path}); wait for it to finish or pass another --output (if no dfbench "
                        f"process {pid} is running, the pid was reused: delete {self.path})") from None
                # Stale (its writer is gone) or unreadable: take it over.
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()}\n")
            self.held = True
            return self
        raise DfbenchError(f"could not take the run lock {self.path}; another process keeps replacing it")

    def release(self) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


# -- protocol hashes, resume and the run's environment (moved from runner.py) -------------------

def protocol_hash(protocol: dict[str, Any]) -> str:
    blob = json.dumps(protocol, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]



def _check_resume(out: Path, phash: str, protocol: dict[str, Any]) -> None:
    """Refuse to mix two protocols in one directory, naming what changed."""
    prev = out / "protocol.json"
    if not (out / PARTIAL_FILE).exists() and not (out / RESULTS_FILE).exists():
        return
    try:
        saved = json.loads(prev.read_text()) if prev.exists() else {}
    except (OSError, ValueError):
        saved = {}
    old = saved.get("protocol_hash")
    if old == phash:
        return
    changes = protocol_changes(saved.get("protocol") or {}, protocol) if saved.get("protocol") else []
    what = "; ".join(changes[:6]) + (f"; and {len(changes) - 6} more" if len(changes) > 6 else "") if changes \
        else f"protocol {old} vs {phash}"
    raise DfbenchError(
        f"{out} holds a run with a different protocol (changed: {what}). Its numbers are not this run's: "
        f"pass --force-new to start over in {out}, or another --output directory."
    )


def _clear_run(out: Path) -> None:
    """``--force-new``: remove a previous run's files (the lock stays: we hold it)."""
    for name in (PARTIAL_FILE, RESULTS_FILE, PREDICTIONS_FILE, "protocol.json"):
        (out / name).unlink(missing_ok=True)



def protocol_core_hash(protocol: dict[str, Any]) -> str:
    """The hash of what defines the evaluation itself, without this machine's file signatures and
    software versions: equal across machines for the same dataset, detector, weights and protocol
    (what leaderboards compare), while ``protocol_hash`` also pins this copy of the data."""
    core = json.loads(json.dumps(protocol, default=str))
    core.pop("software", None)
    core.get("dataset", {}).pop("index_sha256", None)
    return protocol_hash(core)



def environment(device: str) -> dict[str, Any]:
    """The machine and software a run ran on (``results.json[\"env\"]``)."""
    import platform
    import subprocess

    import numpy as np
    import torch

    from . import __version__
    from .threads import report as thread_report

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                cwd=Path(__file__).resolve().parent).stdout.strip() or None
    except Exception:
        commit = None
    sw = software_versions()
    return {
        "dfbench": __version__,
        "plugins": sw["plugins"],
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "thread_settings": thread_report(),
        "device": device,
        "gpu": _gpu_name(device),
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "opencv": sw["opencv"],
        "dlib": sw["dlib"],
        "pyav": sw["pyav"],
        "git_commit": commit,
    }


def _gpu_name(device: str) -> str | None:
    import torch

    if not str(device).startswith("cuda") or not torch.cuda.is_available():
        return None
    try:
        return torch.cuda.get_device_name(torch.device(device))
    except Exception:  # a name is informative, never worth failing a finished run over
        return None
