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

import logging
import os
import pickle
from collections import deque
from collections.abc import Iterator
from typing import Any

from ..pipeline import FaceStage, PreparedVideo
from ..specs import VideoItem

log = logging.getLogger(__name__)

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


MAX_ATTEMPTS = 3
"""Times a video may kill its worker (prepared alone) before it is recorded as failed."""


def process_prefetch(stage: FaceStage, items: list[VideoItem], workers: int, window: int | None = None
                     ) -> Iterator[PreparedVideo]:
    """Prepared videos of ``items``, in order, from ``workers`` processes.

    A worker that dies (killed, out of memory, a crash in a decoder) breaks the whole pool: a new
    pool takes over, finished results are kept, and the videos that were in flight are prepared
    again **one at a time**, so a video that kills its worker is identified exactly; after
    :data:`MAX_ATTEMPTS` such deaths it is recorded as failed (``worker died``) and the run goes on.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    if not items:
        return
    window = window or 2 * workers
    blob = stage_blob(stage)
    ctx = mp.get_context("spawn")

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init, initargs=(blob,))

    pool = new_pool()
    todo = iter(items)
    inflight: deque[list[Any]] = deque()  # [item, future or None (to submit)], in input order
    wrote_cache = False
    careful = 0  # videos still to prepare one at a time after a broken pool
    attempts = 0  # deaths of a worker preparing the head video alone

    def submit(entry: list[Any]) -> None:
        entry[1] = pool.submit(_prepare, entry[0])

    def rebuild() -> None:
        """The pool broke: a new one; finished results are kept, the rest go one at a time."""
        nonlocal pool, careful
        pool.shutdown(wait=False, cancel_futures=True)
        pool = new_pool()
        careful = max(careful, len(inflight))
        for entry in inflight:
            f = entry[1]
            if f is not None and not (f.done() and not f.cancelled() and f.exception() is None):
                entry[1] = None
        log.warning("a worker process died; preparing the %d videos in flight one at a time", len(inflight))

    def top_up() -> None:
        try:
            if careful:
                if inflight and inflight[0][1] is None:
                    submit(inflight[0])
                return
            for entry in inflight:
                if entry[1] is None:
                    submit(entry)
            while len(inflight) < window:
                nxt = next(todo, None)
                if nxt is None:
                    break
                inflight.append([nxt, None])
                submit(inflight[-1])
        except BrokenProcessPool:  # it broke between two results: nobody to blame yet
            rebuild()
            top_up()

    try:
        top_up()
        while inflight:
            item, fut = inflight[0]
            try:
                pv = fut.result()
            except BrokenProcessPool as e:
                attempts += bool(careful)  # alone in the pool: it is this video that kills workers
                rebuild()
                if attempts < MAX_ATTEMPTS:
                    top_up()
                    continue
                pv = PreparedVideo(item=item, failure=f"worker died: the worker preparing {item.path} died "
                                   f"{attempts} times ({type(e).__name__})", failure_kind="worker died",
                                   exception=True)
            inflight.popleft()
            attempts = 0
            careful = max(0, careful - 1)
            wrote_cache |= bool(pv.timing.pop("cache_put", 0))
            top_up()
            yield pv
    finally:
        for entry in inflight:
            if entry[1] is not None:
                entry[1].cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        mark_cache_written(stage, wrote_cache)


def mark_cache_written(stage: FaceStage, wrote: bool) -> None:
    """Workers wrote crops into the shared cache directory (each video its own shard file, written
    atomically); the driver's cache object must re-finalize the cache's table at the end."""
    if wrote and stage.cache is not None and hasattr(stage.cache, "_dirty"):
        stage.cache._dirty = True
