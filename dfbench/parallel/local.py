"""``--workers N``: decode, corrupt and crop in N worker processes.

Each worker gets the run's :class:`~dfbench.pipeline.FaceStage` once (pickled at start-up) and
prepares one video per task, exactly as the in-process prefetch thread would; the driver keeps a
bounded window of tasks in flight and takes results back **in input order**, so the model sees
the same stream of videos whatever N is, and the driver's memory does not grow with the dataset.

Workers are spawned, not forked: a forked child inherits OpenCV's and torch's thread-pool state
from a parent that has already used them and can deadlock (see media/prepare.py). Each worker
runs with one torch, OpenCV and BLAS thread, so N workers use N cores, not N x cores.
"""

from __future__ import annotations

import os
import pickle
from collections import deque
from collections.abc import Iterator
from typing import Any

from ..pipeline import FaceStage, PreparedVideo
from ..specs import VideoItem

THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")

_STAGE: FaceStage | None = None


def single_thread() -> None:
    """One thread per library in this process (a worker's share of the machine is one core)."""
    for var in THREAD_ENV:
        os.environ[var] = "1"
    try:
        import cv2

        cv2.setNumThreads(1)
    except Exception:  # pragma: no cover - cv2 is a hard dependency
        pass
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set (a Ray worker reused for a second task)
        pass


def thread_counts() -> dict[str, object]:
    """This process's thread settings (what :func:`single_thread` sets; used by the tests)."""
    import cv2
    import torch

    return {"torch": torch.get_num_threads(), "interop": torch.get_num_interop_threads(),
            "cv2": cv2.getNumThreads(), **{v: os.environ.get(v) for v in THREAD_ENV}}


def die_with_parent() -> None:
    """A worker must not outlive a driver killed with -9 (it would hold memory and cores, and go
    on writing cache shards): Linux sends it SIGKILL when the parent dies; elsewhere a watchdog
    thread notices the parent is gone."""
    parent = os.getppid()
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="dfbench-parent-watch", daemon=True).start()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)


def _init(stage_blob: bytes) -> None:
    global _STAGE
    die_with_parent()
    single_thread()
    _STAGE = pickle.loads(stage_blob)


def _prepare(item: VideoItem) -> PreparedVideo:
    pv = _STAGE.prepare(item)
    # Whether this worker wrote to the crop cache: the driver re-finalizes the cache at the end.
    pv.timing["cache_put"] = float(pv.timing.get("cache_hits", 0) == 0 and pv.failure is None
                                   and _STAGE.cache is not None)
    return pv


def stage_blob(stage: FaceStage) -> bytes:
    """The face stage as workers receive it; a cropper that cannot be pickled is a clear error."""
    try:
        return pickle.dumps(stage)
    except Exception as e:
        from ..errors import DfbenchError

        raise DfbenchError(f"--workers/--executor ray: the cropper {type(stage.cropper).__name__} cannot be sent to "
                           f"worker processes ({type(e).__name__}: {e}); run without --workers") from e


def process_prefetch(stage: FaceStage, items: list[VideoItem], workers: int, window: int | None = None
                     ) -> Iterator[PreparedVideo]:
    """Prepared videos of ``items``, in order, from ``workers`` processes."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    if not items:
        return
    window = window or 2 * workers
    blob = stage_blob(stage)
    ctx = mp.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init, initargs=(blob,))
    todo = iter(items)
    inflight: deque[Any] = deque()
    wrote_cache = False
    try:
        for item in todo:
            inflight.append(pool.submit(_prepare, item))
            if len(inflight) >= window:
                break
        while inflight:
            pv = inflight.popleft().result()
            wrote_cache |= bool(pv.timing.pop("cache_put", 0))
            nxt = next(todo, None)
            if nxt is not None:
                inflight.append(pool.submit(_prepare, nxt))
            yield pv
    finally:
        for fut in inflight:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        mark_cache_written(stage, wrote_cache)


def mark_cache_written(stage: FaceStage, wrote: bool) -> None:
    """Workers wrote crops into the shared cache directory (each video its own shard file, written
    atomically); the driver's cache object must re-finalize the cache's table at the end."""
    if wrote and stage.cache is not None and hasattr(stage.cache, "_dirty"):
        stage.cache._dirty = True
