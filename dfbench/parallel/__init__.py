"""Where a run's videos are prepared, and how their crops reach the model (issue 19).

- ``workers=0`` (default): one prefetch thread in the driver (:func:`dfbench.pipeline.prefetch`).
- ``workers=N``: N spawned worker processes, one thread each (:mod:`.local`).
- ``executor="ray"``: shards of videos as Ray CPU tasks on a cluster (:mod:`.ray_exec`).

Whatever the source, :func:`.batching.score_stream` packs the units of consecutive videos into fixed-shape
model batches, so every combination gives the same logits, records and results (:mod:`.batching`).

Heavy imports (torch, Ray) happen in the submodules, so the CLI can import the flags cheaply.
"""

from __future__ import annotations

from ..errors import DfbenchError

EXECUTORS = ("local", "ray")


def check_executor(executor: str, workers: int | None) -> None:
    if executor not in EXECUTORS:
        raise DfbenchError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers is not None and workers < 0:
        raise DfbenchError(f"--workers must be >= 0 (0: prepare videos in the driver), got {workers}")
