"""One persistent pool of face workers per process: start-up is paid once, not per call.

A spawned worker pays ~1.5 s before its first crop (Python start, imports of cv2/dlib/numpy, the
dlib models). ``prepare`` used to create a pool per call, so a few videos with two workers were
slower than one process. :func:`shared_pool` keeps one ``spawn`` pool alive for the life of the
process and hands it to every ``prepare`` call with the same worker count; each worker warms up
in its initializer (imports, dlib's HOG detector and 68-point predictor) while the parent is still
indexing, and keeps those models in memory between videos (``dfbench.media.faces`` caches them
per process). Workers are single-threaded (OpenCV, OpenMP with passive waiting): parallelism
comes from the number of workers, and a thread pool per worker would oversubscribe the cores.

The pool is shut down at interpreter exit; a pool broken by a crashed worker is replaced.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_size = 0


def _init_worker() -> None:
    # Before torch (imported by some croppers) loads its OpenMP runtime: one passive thread. The
    # thread counts are overridden (the parent's, inherited, are sized for the model); a waiting
    # policy the user chose is kept.
    os.environ.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    for k, v in {"OMP_WAIT_POLICY": "PASSIVE", "KMP_BLOCKTIME": "0"}.items():
        os.environ.setdefault(k, v)
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover - cv2 is a core dependency
        pass
    try:  # warm the dlib models now, not on the first video
        from .faces import _get_model, predictor68_path

        _get_model("hog")
        _get_model("sp", predictor68_path())
    except Exception as e:  # no dlib / no models: the task itself reports the real error
        log.debug("face worker warm-up skipped: %s", e)
    from . import prepare  # noqa: F401  (the task module, imported once)


def _pid() -> int:
    return os.getpid()


def _worker_state() -> dict:
    import sys

    state = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "torch_loaded": "torch" in sys.modules}
    import cv2

    state["opencv"] = cv2.getNumThreads()
    return state


def shared_pool(workers: int) -> ProcessPoolExecutor:
    """The process-wide pool with ``workers`` processes (created on first use, then reused)."""
    import multiprocessing as mp

    global _pool, _size
    with _lock:
        broken = _pool is not None and getattr(_pool, "_broken", False)
        if _pool is None or _size != workers or broken:
            if _pool is not None:
                _pool.shutdown(wait=not broken, cancel_futures=True)
            # spawn, not fork: a forked child inherits OpenCV's thread-pool state from a parent
            # that has already run cv2 in parallel and can deadlock in its first cv2 call.
            _pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                                        initializer=_init_worker)
            _size = workers
        return _pool


def worker_pids() -> set[int]:
    """Process ids of the current pool's live workers (for tests and diagnostics)."""
    pool = _pool
    if pool is None:
        return set()
    # concurrent.futures keeps its worker processes by pid in ``_processes`` (CPython 3.8+); asking
    # the workers themselves would miss one still busy in its initializer.
    return {pid for pid, proc in dict(getattr(pool, "_processes", None) or {}).items() if proc.is_alive()}


def shutdown() -> None:
    """Stop the shared pool (at exit, or to free its memory)."""
    global _pool, _size
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
        _pool, _size = None, 0


atexit.register(shutdown)


def submit_all(fn: Any, tasks: list, *args: Any, workers: int):
    """Submit ``fn(task, *args)`` for every task to the shared pool; yields results as they finish."""
    from concurrent.futures import as_completed

    pool = shared_pool(workers)
    futures = [pool.submit(fn, t, *args) for t in tasks]
    for fut in as_completed(futures):
        yield fut.result()
