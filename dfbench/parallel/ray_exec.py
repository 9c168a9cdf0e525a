"""``--executor ray``: the face stage of a run sharded over a Ray cluster.

Videos are cut into small shards (a few videos each); each shard is one Ray CPU task (a
generator) that prepares its videos one by one and streams each :class:`PreparedVideo` back as
soon as it is ready. The driver keeps a bounded window of shards in flight and reads them in
input order, so the model sees the same stream as in a local run and results are identical to
it (see :mod:`dfbench.parallel.batching` for why batches may span videos).

A worker that dies mid-shard (killed, out of memory, a node lost) costs only the videos of that
shard it had not streamed back yet: the driver resubmits exactly those as a new task. A video
that kills its worker :data:`MAX_ATTEMPTS` times in a row is recorded as failed (it is the video,
not the cluster) and the shard goes on without it.

Ray is started once per process: ``RAY_ADDRESS`` (or ``ray.init(address=...)`` done by the
caller) connects to an existing cluster, otherwise a local Ray with ``--workers`` CPUs (default 2)
is started and kept for the life of the process, so a robustness grid starts it once.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
from collections import deque
from collections.abc import Iterator
from typing import Any

from ..errors import DfbenchError
from ..pipeline import FaceStage, PreparedVideo
from ..specs import VideoItem
from .local import mark_cache_written, single_thread, stage_blob

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
"""Tasks started for the same first video of a shard before that video is declared failed."""

_STAGES: dict[str, FaceStage] = {}
_REMOTE: Any = None
_ACTOR: tuple[Any, Any] | None = None
"""(key, handle) of the model actor this driver uses, see :func:`place_model`."""


def ensure_ray(num_cpus: int | None = None) -> Any:
    """Connect to ``RAY_ADDRESS`` or start a local Ray (once per process); return the module."""
    try:
        import ray
    except ImportError as exc:
        raise DfbenchError("--executor ray needs Ray: pip install 'dfbench[ray]' (or 'ray[default]')") from exc
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False, "include_dashboard": False}
        address = os.environ.get("RAY_ADDRESS")
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = max(int(num_cpus or 2), 1)
        ray.init(**kwargs)
    return ray


def _prepare_shard(blob: bytes, items: list[VideoItem]) -> Iterator[PreparedVideo]:
    """One Ray task: prepare ``items`` in order, streaming each video back when it is ready."""
    key = hashlib.sha256(blob).hexdigest()
    stage = _STAGES.get(key)
    if stage is None:
        import pickle

        single_thread()
        _STAGES.clear()  # one run's stage at a time per worker process
        stage = _STAGES[key] = pickle.loads(blob)
    for item in items:
        pv = stage.prepare(item)
        pv.timing["cache_put"] = float(pv.timing.get("cache_hits", 0) == 0 and pv.failure is None
                                       and stage.cache is not None)
        yield pv


def _remote(ray: Any) -> Any:
    global _REMOTE
    if _REMOTE is None:
        # max_retries=0: the driver retries only the unfinished part of a shard itself.
        _REMOTE = ray.remote(num_cpus=1, max_retries=0)(_prepare_shard)
    return _REMOTE


def shard_size_for(n_items: int, n_cpus: int) -> int:
    """Small shards: at least ~4 per CPU for balance, at most 8 videos lost to a dead worker."""
    return max(1, min(8, math.ceil(n_items / max(1, 4 * n_cpus))))


class _Shard:
    def __init__(self, items: list[VideoItem]) -> None:
        self.items = items
        self.next = 0  # index of the first video not received yet
        self.attempts = 0  # tasks started at the current ``next``
        self.gen: Any = None


def ray_prefetch(stage: FaceStage, items: list[VideoItem], workers: int | None = None,
                 stats: dict[str, int] | None = None, shard_size: int | None = None,
                 window: int | None = None) -> Iterator[PreparedVideo]:
    """Prepared videos of ``items``, in order, from Ray CPU tasks (see the module docstring)."""
    if not items:
        return
    ray = ensure_ray(workers)
    stats = stats if stats is not None else {}
    stats.setdefault("shards", 0)
    stats.setdefault("shards_retried", 0)
    stats.setdefault("videos_retried", 0)
    n_cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    size = shard_size or shard_size_for(len(items), n_cpus)
    window = window or 2 * n_cpus
    blob_ref = ray.put(stage_blob(stage))
    remote = _remote(ray)
    shards = deque(_Shard(items[i:i + size]) for i in range(0, len(items), size))
    stats["shards"] += len(shards)
    inflight: deque[_Shard] = deque()
    wrote_cache = False

    def start(sh: _Shard) -> None:
        sh.attempts += 1
        sh.gen = remote.remote(blob_ref, sh.items[sh.next:])

    try:
        while shards or inflight:
            while shards and len(inflight) < window:
                sh = shards.popleft()
                start(sh)
                inflight.append(sh)
            sh = inflight[0]
            while sh.next < len(sh.items):
                restart = False
                try:
                    pv = ray.get(next(sh.gen))
                    sh.attempts = 1  # the running task has reached the next video: its first attempt
                except StopIteration:
                    raise DfbenchError(f"a Ray task returned {sh.next} of {len(sh.items)} videos without an "
                                       f"error; the cluster is inconsistent") from None
                except Exception as e:  # the worker died (or the task failed outside prepare)
                    if sh.attempts < MAX_ATTEMPTS:
                        _note_retry(sh, e, stats)
                        start(sh)
                        continue
                    pv, restart = _given_up(sh, e), True
                wrote_cache |= bool(pv.timing.pop("cache_put", 0))
                sh.next += 1
                if restart and sh.next < len(sh.items):
                    sh.attempts = 0
                    start(sh)
                yield pv
            inflight.popleft()
    finally:
        for sh in inflight:
            if sh.gen is not None:
                try:
                    ray.cancel(sh.gen, force=True)
                except Exception:  # cancelling is best effort: the driver is leaving anyway
                    pass
        mark_cache_written(stage, wrote_cache)


def _note_retry(sh: _Shard, exc: BaseException, stats: dict[str, int]) -> None:
    left = len(sh.items) - sh.next
    stats["shards_retried"] += 1
    stats["videos_retried"] += left
    log.warning("a Ray worker died with %d unfinished videos of its shard (%s: %s); retrying them",
                left, type(exc).__name__, str(exc).splitlines()[0][:200] if str(exc) else "")


def _given_up(sh: _Shard, exc: BaseException) -> PreparedVideo:
    """The video at ``sh.next`` killed :data:`MAX_ATTEMPTS` workers: it is the video's failure."""
    item = sh.items[sh.next]
    log.warning("%s: the worker died %d times on this video; recorded as failed", item.key, sh.attempts)
    reason = f"worker died: {item.path} killed its worker process {sh.attempts} times ({type(exc).__name__})"
    return PreparedVideo(item=item, failure=reason, failure_kind="worker died", exception=True)


class _ModelActor:
    """The model on a GPU of the cluster (``num_gpus=1``): scores full, fixed-shape batches."""

    def __init__(self, det_blob: bytes, device: str, opts: dict[str, Any], threads: int) -> None:
        import pickle

        import torch

        from ..pipeline import ModelStage

        # On CPU the thread count changes how oneDNN splits reductions, and so the last bits of
        # a logit: the actor uses the driver's (Ray would otherwise give it one thread).
        torch.set_num_threads(threads)
        self.stage = ModelStage(pickle.loads(det_blob), device=device, **opts)

    def logits(self, units: Any) -> Any:
        return self.stage.logits(units)


def place_model(det: Any, *, device: str, workers: int | None = None, actor_gpus: float = 1.0,
                force_actor: bool = False, **opts: Any) -> tuple[Any, Any]:
    """``(model stage, run_batch)`` for a Ray run.

    The model runs in the driver when this process can use ``device`` (start the driver on the
    GPU node). Otherwise, for ``--device cuda`` on a cluster with GPUs, it runs in a Ray actor
    holding one GPU, and the driver keeps a CPU copy only to record what ran and to shape the
    batches; ``run_batch`` sends each full batch to the actor. ``force_actor``/``actor_gpus``
    exist so the actor path can be tested on a CPU-only cluster.
    """
    import pickle

    from ..pipeline import ModelStage
    from ..run_identity import check_device

    if not force_actor:
        try:
            check_device(device)
            return ModelStage(det, device=device, **opts), None
        except DfbenchError as local_error:
            if not str(device).startswith("cuda"):
                raise
            ray = ensure_ray(workers)
            if ray.cluster_resources().get("GPU", 0) < 1:
                raise DfbenchError(f"{local_error}; nor does the Ray cluster have a GPU (ray status)") from None
            remote_device = "cuda"  # Ray sets CUDA_VISIBLE_DEVICES: the actor sees its GPU as cuda:0
    else:
        ray = ensure_ray(workers)
        remote_device = device
    import torch

    global _ACTOR
    # One actor per process, reused while the same detector object is scored with the same options
    # (every cell of a robustness grid); a new one first releases the old one's GPU.
    key = (ray.get_runtime_context().get_job_id(), id(det), (det.weights_info or {}).get("sha256"),
           remote_device, actor_gpus,
           tuple(sorted((k, str(v)) for k, v in opts.items())), torch.get_num_threads())
    if _ACTOR is not None and _ACTOR[0] != key:
        if _ACTOR[0][0] == key[0]:  # an actor of an earlier Ray session is gone already
            ray.kill(_ACTOR[1])
        _ACTOR = None
    if _ACTOR is None:
        blob = pickle.dumps(det)
        _ACTOR = (key, ray.remote(num_gpus=actor_gpus, num_cpus=0, max_restarts=2, max_task_retries=2)(
            _ModelActor).remote(blob, remote_device, opts, torch.get_num_threads()))
    actor = _ACTOR[1]
    local = ModelStage(det, device="cpu", **opts)
    log.info("the model runs in a Ray actor on %s", remote_device)

    def run_batch(units: Any) -> Any:
        return ray.get(actor.logits.remote(units))

    return local, run_batch
