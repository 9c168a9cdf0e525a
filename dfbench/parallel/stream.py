"""One entry point for the prepared-video stream, whatever the executor."""

from __future__ import annotations

from collections.abc import Iterator

from ..pipeline import FaceStage, PreparedVideo, prefetch
from ..specs import VideoItem
from . import check_executor


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
