"""Where a run's videos are prepared, and how their crops reach the model (issue 19).

- ``workers=0`` (default): one prefetch thread in the driver (:func:`dfbench.pipeline.prefetch`).
- ``workers=N``: N spawned worker processes, one thread each (:mod:`.local`).
- ``executor="ray"``: shards of videos as Ray CPU tasks on a cluster (:mod:`.ray_exec`).

Whatever the source, :func:`score_stream` packs the units of consecutive videos into fixed-shape
model batches, so every combination gives the same logits, records and results (:mod:`.batching`).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import DfbenchError
from ..pipeline import FaceStage, PreparedVideo, prefetch
from ..specs import VideoItem
from .batching import fixed_shape_logits, score_stream

EXECUTORS = ("local", "ray")

__all__ = ["EXECUTORS", "check_executor", "fixed_shape_logits", "prepared_stream", "score_stream"]


def check_executor(executor: str, workers: int | None) -> None:
    if executor not in EXECUTORS:
        raise DfbenchError(f"--executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    if workers is not None and workers < 0:
        raise DfbenchError(f"--workers must be >= 0 (0: prepare videos in the driver), got {workers}")


def prepared_stream(stage: FaceStage, items: list[VideoItem], *, workers: int | None = 0,
                    executor: str = "local", stats: dict | None = None) -> Iterator[PreparedVideo]:
    """Prepared videos of ``items`` in input order, from the chosen executor."""
    check_executor(executor, workers)
    if executor == "ray":
        from .ray_exec import ray_prefetch

        return ray_prefetch(stage, items, workers=workers or None, stats=stats)
    if workers:
        from .local import process_prefetch

        return process_prefetch(stage, items, workers)
    return prefetch(stage, items)
