"""dfbench.fileio: torch-free atomic writes, hashing and an inter-process lock, implemented once."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import subprocess
import sys
from pathlib import Path

import pytest

from dfbench.fileio import (
    LockTimeout,
    atomic_write_bytes,
    atomic_write_json,
    file_lock,
    sha256_file,
)

ROOT = Path(__file__).resolve().parents[1]


def test_importable_without_torch():
    # torch blocked: fileio, the results writer and the leaderboard data layer must still import.
    code = ("import sys; sys.modules['torch'] = None\n"
            "import dfbench.fileio, dfbench.leaderboard.entries, dfbench.leaderboard.schema\n"
            "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_atomic_write_and_hash(tmp_path, monkeypatch):
    import numpy as np

    p = tmp_path / "sub" / "x.json"
    atomic_write_json(p, {"a": np.float32(0.5), "b": np.arange(2), "c": Path("q"), "d": {1}})
    assert p.read_text() == '{\n  "a": 0.5,\n  "b": [\n    0,\n    1\n  ],\n  "c": "q",\n  "d": [\n    1\n  ]\n}\n'
    assert sha256_file(p) == hashlib.sha256(p.read_bytes()).hexdigest()

    atomic_write_bytes(p, b"old")
    with pytest.raises(TypeError):
        atomic_write_json(p, {"x": object()})
    import os

    def boom(*a):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(p, b"new")
    assert p.read_bytes() == b"old" and [f.name for f in p.parent.iterdir()] == ["x.json"]  # no temp left


def _bump(path: str, lock: str, n: int) -> None:
    for _ in range(n):
        with file_lock(lock):
            v = int(Path(path).read_text())
            Path(path).write_text(str(v + 1))


def test_lock_serialises_processes(tmp_path):
    counter = tmp_path / "n"
    counter.write_text("0")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_bump, args=(str(counter), str(tmp_path / ".lock"), 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert counter.read_text() == "160"


def test_lock_times_out_naming_the_holder(tmp_path):
    with file_lock(tmp_path / ".lock"):
        ctx = mp.get_context("fork")
        q = ctx.Queue()

        def try_lock():
            try:
                with file_lock(tmp_path / ".lock", timeout=0.2):
                    q.put("got it")
            except LockTimeout as e:
                q.put(str(e))

        p = ctx.Process(target=try_lock)
        p.start()
        p.join(30)
        msg = q.get(timeout=5)
    import os

    assert "held by another process" in msg and str(os.getpid()) in msg


def test_no_private_copies_of_atomic_write_or_hashing():
    """fsync'ed writes and chunked file hashing live in fileio.py only (the runner's append-only
    partial log is the one other fsync)."""
    offenders = []
    for path in sorted((ROOT / "dfbench").rglob("*.py")):
        if path.name == "fileio.py":
            continue
        text = path.read_text()
        if "os.fsync" in text and path.name != "runner.py":
            offenders.append(f"{path.name}: os.fsync")
        if ".update(block)" in text:
            offenders.append(f"{path.name}: chunked sha256")
        if "def atomic_write" in text or "def sha256_file" in text:
            offenders.append(f"{path.name}: defines its own helper")
    assert offenders == []


def test_threads_writing_the_same_file_never_collide(tmp_path):
    """Two runs in one process may write the same cached crop at once (a stopped run's writer
    thread and its re-run): each writer has its own temp file, and the target ends whole."""
    import threading

    target, errors = tmp_path / "crop.png", []
    payload = bytes(range(256)) * 64

    def writer():
        try:
            for _ in range(100):
                atomic_write_bytes(target, payload, fsync=False)
        except Exception as e:  # noqa: BLE001  (collected: the assertion below names it)
            errors.append(e)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert target.read_bytes() == payload
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crop.png"]  # no temp file left behind


def test_every_cache_lives_under_one_root(tmp_path, monkeypatch):
    """Crops, exports, precision choices, the demo and Hugging Face media share one root."""
    from dfbench.datasets.demo import default_cache_root
    from dfbench.fileio import cache_root
    from dfbench.onnx_export import cache_root as onnx_root
    from dfbench.precision import cache_dir as precision_dir
    from dfbench.run_inputs import default_cache_dir

    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path))
    assert cache_root() == default_cache_dir() == default_cache_root() == tmp_path
    assert (onnx_root(), precision_dir(), cache_root("crops")) == (tmp_path / "onnx", tmp_path / "precision",
                                                                   tmp_path / "crops")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DFBENCH_CACHE", "~/c")
    assert cache_root("onnx") == tmp_path / "home" / "c" / "onnx"
    monkeypatch.setenv("DFBENCH_CACHE", "")  # set but empty: the default, not the working directory
    assert cache_root() == tmp_path / "home" / ".cache" / "dfbench"
