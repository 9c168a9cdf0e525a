"""Create or update leaderboard entries: ``add_result`` (a run) and ``add_bench`` (its cost).

This is the top of the leaderboard package: it imports :mod:`.entries` (the data layer),
:mod:`.cost` and :mod:`.render`, and none of them imports it back. Every read-modify-write of
the tree holds one lock per leaderboard root (``<root>/.lock``, an ``flock`` released by the
kernel if the holder dies), and every file is replaced atomically, so a results run and a bench
cost added at the same moment never lose each other's update or leave half a file.

Hygiene rules (what may replace what, and what is ranked):

- a subset run (``--limit``/``--limit-percent``) never replaces an entry measured on the full
  split; it is refused with a message saying how to file it elsewhere;
- entries from subset runs, partial datasets (``--allow-partial``) or a protocol other than the
  board's (frames, aggregation, flip test or cropper overridden, or ``--protocol`` forcing another
  table) are flagged, with the reason in ``flag_reasons``, and ``ranked: false``;
- a robustness (corrupted) run attaches only to the clean entry measured under the same protocol.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..fileio import file_lock
from .cost import add_bench_locked, inherited_cost
from .entries import (
    DEFAULT_ROOT,
    LeaderboardError,
    _detector_meta,
    entry_path,
    measured_block,
    protocol_for,
    slug,
    subset_reason,
    write_entry,
)
from .schema import SCHEMA_VERSION, UNRANKED_FLAGS

LOCK_FILE = ".lock"
# The run settings that decide which table a number may sit in, compared with the detector's own.
PROTOCOL_KEYS = ("frames_per_video", "aggregation", "flip_test", "cropper", "size", "clip_length")
_DERIVED_FLAGS = {"reported-not-reproduced", "untrained", "demo-data", "partial-dataset", "subset", "other-protocol",
                  "crops-fallback"}


@contextlib.contextmanager
def locked(root: str | Path, timeout: float = 300.0) -> Iterator[None]:
    """Hold the leaderboard lock of ``root`` (not re-entrant: take it once per operation)."""
    with file_lock(Path(root) / LOCK_FILE, timeout=timeout):
        yield


def add_result(results: dict[str, Any], root: str | Path = DEFAULT_ROOT, *, detector_id: str | None = None,
               protocol: str | None = None, trained_on: str | None = None, render: bool = True,
               rank: bool | None = None) -> Path:
    """Create or update the entry for ``results`` (a loaded ``results.json``); returns its path.

    A clean run replaces ``measured`` (keeping any ``reported`` number, robustness points and the
    ``cost`` from ``dfbench bench``; a new entry inherits the cost of the same detector id elsewhere);
    a corrupted run adds its video AUC to ``measured.robustness`` of the clean entry, which must
    exist and have been measured under the same protocol. ``rank`` overrides the default ranking
    (flagged entries are not ranked). ``render`` re-writes README.md/index.html.
    """
    with locked(root):
        path = _add_result(results, root, detector_id=detector_id, protocol=protocol, trained_on=trained_on,
                           rank=rank)
        if render:
            _render(root)
    return path


def add_bench(bench: dict[str, Any] | list[dict[str, Any]], root: str | Path = DEFAULT_ROOT, *,
              detector_id: str | None = None, render: bool = True) -> list[Path]:
    """Attach the cost of each bench result to every measured entry of its detector (see
    :func:`dfbench.leaderboard.cost.add_bench_locked`), under the leaderboard lock."""
    with locked(root):
        written = add_bench_locked(bench, root, detector_id=detector_id)
        if render:
            _render(root)
    return written


def render_locked(root: str | Path = DEFAULT_ROOT, check: bool = False) -> list[Path]:
    with locked(root):
        return _render(root, check)


def _render(root: str | Path, check: bool = False) -> list[Path]:
    from .render import render_tree

    return render_tree(root, check=check)


def clean_protocol_hash(results: dict[str, Any], core: bool = False) -> str:
    """The protocol hash the clean run of a corrupted ``results`` would have (same videos, settings).

    ``core=True``: the machine-independent hash (``protocol_core_hash``: without this copy's file
    signatures and software versions), the one to compare with a clean run made on another machine."""
    from ..runner import protocol_core_hash, protocol_hash

    proto = copy.deepcopy(results["protocol"])
    proto["corruption"] = None
    return protocol_core_hash(proto) if core else protocol_hash(proto)


def same_protocol(entry_measured: dict[str, Any], results: dict[str, Any]) -> tuple[bool, str, str]:
    """Whether the clean protocol of ``results`` is the entry's: by the core hash when the entry
    stores one (runs from different machines or dataset copies compare equal), else by the full
    hash (entries written before the core hash existed). Returns (equal, entry's hash, run's hash)."""
    want = entry_measured.get("protocol_core_hash")
    if want:
        got = clean_protocol_hash(results, core=True)
    else:
        want, got = entry_measured["protocol_hash"], clean_protocol_hash(results)
    return got == want, want, got


def protocol_differences(results: dict[str, Any], det_id: str) -> list[str]:
    """Settings of the run that differ from the detector's own input spec (empty when it is not
    installed here: nothing to compare with)."""
    from ..registry import get_registry

    try:
        own = get_registry().resolve_detector(det_id).variant.input.to_dict()
    except Exception:  # noqa: BLE001 - results of a detector whose plugin is not installed here
        return []
    ran = dict((results.get("protocol") or {}).get("input") or {})
    if not ran:
        return []
    cropper = ((results.get("protocol") or {}).get("cropper") or {}).get("name")
    if cropper and cropper != "precropped":
        ran["cropper"] = cropper
    return [f"{k} {ran[k]!r} (the detector's own: {own[k]!r})" for k in PROTOCOL_KEYS
            if k in ran and k in own and ran[k] != own[k] and not (k == "cropper" and ran[k] == "precropped")]


def _add_result(results, root, *, detector_id, protocol, trained_on, rank) -> Path:
    det_id = detector_id or results["detector"]["id"]
    meta, facts = _detector_meta(det_id)
    auto_slug, proto_info = protocol_for(results, trained_on or facts.get("trained_on", ""))
    proto_slug = protocol or auto_slug
    dataset = slug(results["dataset"]["id"]).replace("-", "_")
    path = entry_path(root, dataset, proto_slug, det_id)
    old = _read_entry(path)
    corr = results.get("corruption")
    if corr:
        return _add_robustness(results, root, path, old, det_id, dataset, corr)
    subset = subset_reason(results)
    old_meas = (old or {}).get("measured")
    if subset and old_meas and "subset" not in (old.get("flags") or ()):
        n_old = old_meas["counts"].get("videos_scored")
        raise LeaderboardError(
            f"{det_id} on {dataset}: this run {subset}; it would replace the full-split entry at {path} "
            f"({n_old} videos scored). Refusing. Re-run without --limit/--limit-percent, or file the subset run "
            f"elsewhere (--root DIR or --detector-id ID)")
    entry = old or {"schema_version": SCHEMA_VERSION, "detector_id": det_id, "detector": meta, "dataset": dataset,
                    "protocol": proto_slug, "protocol_info": proto_info, "flags": []}
    # A clean re-run replaces the metrics, not what was attached to them: robustness points and the
    # cost from `dfbench bench` (a new entry inherits the cost already known for this detector id).
    old_measured = entry.get("measured") or {}
    entry["measured"] = measured_block(results)
    if old_measured.get("robustness") and old_measured.get("protocol_hash") and \
            same_protocol(old_measured, results)[0]:
        entry["measured"]["robustness"] = old_measured["robustness"]
    if old_measured.get("cost"):
        entry["measured"]["cost"] = old_measured["cost"]
    if "cost" not in entry["measured"]:
        cost = inherited_cost(root, det_id)
        if cost:
            entry["measured"]["cost"] = cost
    flags = set(entry["flags"]) - _DERIVED_FLAGS
    reasons: dict[str, str] = {}
    recipe = ((results.get("protocol") or {}).get("cropper") or {}).get("recipe") or {}
    if recipe.get("fallback"):
        flags.add("crops-fallback")
        reasons["crops-fallback"] = str(recipe.get("fallback_reason") or "an offline stand-in made the crops")[:300]
    if not entry["measured"]["weights"]["trained"]:
        flags.add("untrained")
    if dataset == "demo":
        flags.add("demo-data")
    if results["dataset"].get("allow_partial") or results["dataset"].get("count_warnings"):
        flags.add("partial-dataset")
        warn = results["dataset"].get("count_warnings") or []
        reasons["partial-dataset"] = ("; ".join(map(str, warn)) if warn else "run with --allow-partial")[:300]
    if subset:
        flags.add("subset")
        reasons["subset"] = subset
    diffs = protocol_differences(results, det_id)
    if diffs:
        flags.add("other-protocol")
        reasons["other-protocol"] = "; ".join(diffs)
    entry["flags"] = sorted(flags)
    entry["flag_reasons"] = reasons
    if not reasons:
        entry.pop("flag_reasons")
    entry["ranked"] = (not flags & set(UNRANKED_FLAGS)) if rank is None else bool(rank)
    if dataset == "demo" and not entry.get("footnote"):
        entry["footnote"] = ("Embedded demo split (generated faces, self-blended and face-swapped fakes): "
                             "a smoke test of the whole pipeline, not a benchmark. Numbers vary per machine.")
    return write_entry(root, entry)


def _read_entry(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LeaderboardError(f"{path} is not valid JSON ({e}); restore it (`git checkout -- {path}`) or delete "
                               f"it, then add the run again") from None


def _add_robustness(results, root, path: Path, old, det_id: str, dataset: str, corr: dict) -> Path:
    if not old or not old.get("measured"):
        raise LeaderboardError(f"add the clean run of {det_id} on {dataset} first: robustness points attach "
                               f"to the entry at {path}")
    auc = results["metrics"].get("video", {}).get("auc")
    if auc is None:
        raise LeaderboardError(f"{det_id} on {dataset} with {corr['name']}:{corr['level']} has no video AUC")
    same, want, got = same_protocol(old["measured"], results)
    if not same:
        raise LeaderboardError(
            f"{det_id} on {dataset} with {corr['name']}:{corr['level']}: its clean protocol ({got}) differs from "
            f"the entry's ({want}) at {path}, so its AUC is not comparable with the clean number. Re-run the "
            f"corruption with the same settings, videos and weights as the clean run, or add the matching clean "
            f"run first")
    rob = old["measured"].setdefault("robustness", {})
    rob.setdefault(corr["name"], {})[str(corr["level"])] = auc
    return write_entry(root, old)
