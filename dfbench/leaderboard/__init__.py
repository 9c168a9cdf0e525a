"""Leaderboards: one JSON file per (dataset, protocol, detector), rendered to Markdown and HTML.

``reported`` (a paper's number, its source and a confidence tag) and ``measured`` (dfbench's own
run: metrics with CIs, protocol hash, weights sha256, version, hardware, throughput, and the
``cost`` from ``dfbench bench``) sit side by side in each entry. ``add_result`` creates or updates
an entry from a ``results.json``; ``add_bench`` attaches a bench JSON's cost to every measured
entry of that detector; ``validate_tree`` checks every file; ``render_tree`` writes ``README.md``
and ``index.html`` (``check=True`` fails when they are stale).

Imports go one way: ``schema`` <- ``entries`` <- ``cost``/``render`` <- ``update`` <- ``cli``.
"""

from __future__ import annotations

from .cost import bench_documents, cost_block, is_bench_result
from .entries import (
    DEFAULT_ROOT,
    Entry,
    LeaderboardError,
    check_entry,
    entry_path,
    is_ranked,
    load_entries,
    validate_tree,
    write_entry,
)
from .render import render_html, render_markdown, render_tree
from .schema import ENTRY_SCHEMA, FLAGS, UNRANKED_FLAGS, validate_entry
from .update import add_bench, add_result, locked

__all__ = ["DEFAULT_ROOT", "ENTRY_SCHEMA", "FLAGS", "UNRANKED_FLAGS", "Entry", "LeaderboardError", "add_bench",
           "add_result", "bench_documents", "check_entry", "cost_block", "entry_path", "is_bench_result", "is_ranked",
           "load_entries", "locked", "render_html", "render_markdown", "render_tree", "validate_entry",
           "validate_tree", "write_entry"]
