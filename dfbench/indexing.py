"""Resolve a dataset id to its list of videos (no torch import: ``dfbench index`` stays fast)."""

from __future__ import annotations

from pathlib import Path

from .registry import Registry, get_registry
from .specs import DatasetSpec, VideoItem


def resolve_dataset_items(dataset: str | DatasetSpec, split: str, *, data_root: str | Path | None = None,
                          options: dict | None = None,
                          registry: Registry | None = None) -> tuple[DatasetSpec, list[VideoItem], list[str]]:
    """Index a dataset split through its plugin; returns (spec, items, count warnings).

    The root comes from the ``resolve_dataset_root`` hook: site plugins first, then
    ``--data-root``, then ``DFBENCH_<NAME>_ROOT``.
    """
    from .datasets.common import check_counts, index_dataset

    reg = registry or get_registry()
    spec = reg.dataset(dataset) if isinstance(dataset, str) else dataset
    root = reg.pm.hook.resolve_dataset_root(spec=spec, data_dir=Path(data_root) if data_root else None)
    opts = dict(options or {})
    items = list(index_dataset(spec, root, split, opts))
    warnings = check_counts(spec, items, split, opts)
    return spec, items, warnings
