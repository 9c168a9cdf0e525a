"""Cost figures from ``dfbench bench`` on leaderboard entries (``measured.cost``).

A bench JSON (see :mod:`dfbench.bench`) says what a detector costs: parameters, GMACs per input,
the best model-only throughput with the configuration that reached it, and end-to-end videos/s
through the real pipeline. Those figures belong to the architecture, not to a dataset or to whose
weights were loaded, so one bench run is attached to every *measured* entry of that detector, on
every dataset and protocol. Reported-only entries get none: their ``measured`` block would have no
metrics, and a leaderboard row must not look reproduced when it is not.

The stored block is a pure function of the bench JSON (no dates), so adding the same file twice
changes no byte; it keeps the machine facts (cpu, threads, torch, device) because speeds only mean
something next to the hardware they were measured on.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path
from typing import Any

from ..ids import covers
from .entries import DEFAULT_ROOT, Entry, LeaderboardError, load_entries, write_entry

log = logging.getLogger(__name__)

# Keys every `dfbench bench` document has and a results.json lacks (it has `metrics` instead).
BENCH_KEYS = ("summary", "params", "gmacs", "throughput", "input", "detector", "env")
HARDWARE_KEYS = ("cpu", "platform", "threads", "torch", "device", "python")


def is_bench_result(doc: Any) -> bool:
    """True for one detector's ``dfbench bench`` JSON (not a ``results.json``)."""
    return (isinstance(doc, dict) and all(k in doc for k in BENCH_KEYS) and "metrics" not in doc
            and isinstance(doc["throughput"], list) and isinstance(doc["summary"], dict))


def bench_documents(doc: Any) -> list[dict[str, Any]] | None:
    """The bench results in a loaded bench file (one detector, or a list from ``-d a -d b``), else None."""
    docs = doc if isinstance(doc, list) else [doc]
    if docs and all(is_bench_result(d) for d in docs):
        return docs
    return None


def _sig(x: Any, digits: int = 6) -> float | None:
    """Round to significant digits: tiny test variants keep their (small) GMACs, big ones lose noise."""
    return None if x is None else float(f"{float(x):.{digits}g}")


def _e2e_video(e2e: dict[str, Any]) -> str | None:
    video = e2e.get("video")
    if not video:
        return None
    # A user's --video is a local path: keep only its name, the directory says nothing to a reader.
    return video if video.startswith("generated ") else Path(video).name


def cost_block(bench: dict[str, Any]) -> dict[str, Any]:
    """The ``measured.cost`` block of an entry from one detector's bench JSON."""
    if not is_bench_result(bench):
        raise LeaderboardError("not a `dfbench bench` JSON: expected the keys " + ", ".join(BENCH_KEYS))
    s, env, best = bench["summary"], bench.get("env") or {}, bench.get("best") or {}
    e2e = bench.get("end_to_end") or {}
    hardware = {k: env[k] for k in HARDWARE_KEYS if env.get(k) is not None}
    hardware.setdefault("device", bench.get("device", "cpu"))
    if bench.get("threads") is not None:
        hardware.setdefault("threads", bench["threads"])
    block: dict[str, Any] = {
        "source": "dfbench bench",
        "benchmarked_id": str(bench["detector"].get("id")),
        "bench_schema_version": int(bench.get("schema_version", 1)),
        "params": int(bench["params"]),
        "params_m": s["params_m"],
        "gmacs": _sig(bench["gmacs"]),
        "gmacs_per_video": _sig(bench.get("gmacs_per_video")),
        "unit": bench["input"]["unit"],
        "latency_ms_p50": s.get("latency_ms_p50"),
        "latency_ms_p95": s.get("latency_ms_p95"),
        "units_per_s": s.get("units_per_s"),
        "best_config": s["best_config"],
        "best": {k: best[k] for k in ("precision", "channels_last", "compile", "batch_size") if k in best},
        "videos_per_s": s.get("videos_per_s"),
        "e2e_video": _e2e_video(e2e),
        "e2e_units": e2e.get("units"),
        "peak_rss_delta_mb": s.get("peak_rss_delta_mb"),
        "hardware": hardware,
        "dfbench_version": str(env.get("dfbench", "unknown")),
        "git_commit": env.get("git_commit"),
    }
    return block


def _matches(entry_id: str, bench_id: str) -> bool:
    """``laanet_efnb4`` (benchmarked without weights) covers ``laanet_efnb4.<any tag>``: weights do not
    change the cost. A tagged id (``laanet_efnb4.demo``) covers only itself."""
    return covers(bench_id, entry_id)


def matching_entries(entries: list[Entry], bench_id: str) -> list[Entry]:
    return [e for e in entries if e.data.get("measured") and _matches(e.data["detector_id"], bench_id)]


def add_bench_locked(bench: dict[str, Any] | list[dict[str, Any]], root: str | Path = DEFAULT_ROOT, *,
                     detector_id: str | None = None) -> list[Path]:
    """Attach the cost of each bench result to every measured entry of its detector; returns the paths.

    The caller holds the leaderboard lock (:func:`dfbench.leaderboard.update.add_bench` does).

    ``detector_id`` files the figures under another id (same matching rule: an id without a tag
    covers all its tagged entries). Raises :class:`LeaderboardError` when no measured entry matches:
    add the detector's ``results.json`` first.
    """
    docs = bench_documents(bench)
    if docs is None:
        raise LeaderboardError("not a `dfbench bench` JSON: expected the keys " + ", ".join(BENCH_KEYS)
                               + " (a results.json goes through add_result)")
    entries = load_entries(root)
    written: list[Path] = []
    for doc in docs:
        cost = cost_block(doc)
        target = detector_id or cost["benchmarked_id"]
        hits = matching_entries(entries, target)
        if not hits:
            reported = sorted({e.data["detector_id"] for e in entries if _matches(e.data["detector_id"], target)})
            hint = (f" (only reported, not measured, entries exist: {', '.join(reported)})" if reported else "")
            raise LeaderboardError(
                f"no measured leaderboard entry for {target!r} under {root}{hint}: cost figures attach to "
                f"dfbench's own runs. Add the run first (`dfbench leaderboard add RUN/results.json`), or pass "
                f"--detector-id with the id of a measured entry")
        for e in hits:
            data = copy.deepcopy(e.data)
            data["measured"]["cost"] = cost
            written.append(write_entry(root, data))
            log.info("cost of %s -> %s", cost["benchmarked_id"], e.path)
    return written


def inherited_cost(root: str | Path, detector_id: str) -> dict[str, Any] | None:
    """The cost already stored for ``detector_id`` on another measured entry (a new dataset's entry
    should show it too), or None: the same id, or a bench of the untagged id (``laanet_efnb4`` covers
    ``laanet_efnb4.demo``). Unrelated invalid files do not block this lookup."""
    for e in load_entries(root, strict=False):
        cost = (e.data.get("measured") or {}).get("cost")
        if cost and (e.data["detector_id"] == detector_id or _matches(detector_id, cost["benchmarked_id"])):
            return copy.deepcopy(cost)
    return None
