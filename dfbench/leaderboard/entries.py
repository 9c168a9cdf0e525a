"""Leaderboard entries on disk: load, validate, and create or update one from a ``results.json``.

Files are written canonically (sorted keys, two-space indent, trailing newline) so that a
re-run that changes nothing changes no byte, and reviews see only real differences.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DfbenchError
from ..fileio import atomic_write_bytes
from .schema import UNRANKED_FLAGS, validate_entry

log = logging.getLogger(__name__)

DEFAULT_ROOT = "leaderboards"
RENDERED = ("README.md", "index.html")


class LeaderboardError(DfbenchError):
    """An entry is invalid, misplaced, or a rendered file is stale; the message says how to fix it."""


@dataclass(frozen=True)
class Entry:
    path: Path
    data: dict[str, Any]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.data["dataset"], self.data["protocol"], self.data["detector_id"])


def entry_path(root: str | Path, dataset: str, protocol: str, detector_id: str) -> Path:
    return Path(root) / dataset / protocol / f"{detector_id}.json"


def dumps(entry: dict[str, Any]) -> str:
    return json.dumps(entry, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_entry(root: str | Path, entry: dict[str, Any]) -> Path:
    problems = check_entry(entry)
    if problems:
        raise LeaderboardError(f"refusing to write an invalid entry for {entry.get('detector_id')}:\n  "
                               + "\n  ".join(problems))
    path = entry_path(root, entry["dataset"], entry["protocol"], entry["detector_id"])
    atomic_write_bytes(path, dumps(entry).encode())
    return path


def entry_files(root: str | Path) -> list[Path]:
    """All ``<dataset>/<protocol>/<id>.json`` files, in a stable order."""
    return sorted(Path(root).glob("*/*/*.json"))


def load_entries(root: str | Path = DEFAULT_ROOT, *, strict: bool = True) -> list[Entry]:
    """Every entry under ``root``; with ``strict`` an invalid one raises :class:`LeaderboardError`."""
    entries, problems = [], []
    for f in entry_files(root):
        try:
            data = json.loads(f.read_text())
        except json.JSONDecodeError as e:
            problems.append(f"{f}: not valid JSON ({e})")
            continue
        errs = check_entry(data, f, Path(root))
        if errs:
            problems += [f"{f}: {e}" for e in errs]
            continue
        entries.append(Entry(f, data))
    if problems and strict:
        raise LeaderboardError(f"{len(problems)} problem(s) in {root}:\n  " + "\n  ".join(problems))
    return entries


def validate_tree(root: str | Path = DEFAULT_ROOT) -> tuple[int, list[str]]:
    """(number of entry files, problems) for ``dfbench leaderboard validate``."""
    files = entry_files(root)
    problems = []
    for f in files:
        try:
            text = f.read_text()
            data = json.loads(text)
        except (OSError, json.JSONDecodeError) as e:
            problems.append(f"{f}: not valid JSON ({e})")
            continue
        problems += [f"{f}: {e}" for e in check_entry(data, f, Path(root))]
        if not problems and text != dumps(data):
            problems.append(f"{f}: not in canonical form (sorted keys, 2-space indent); rewrite it with "
                            f"`dfbench leaderboard add` or json.dumps(indent=2, sort_keys=True)")
    stray = sorted(p for p in Path(root).rglob("*.json") if p not in set(files))
    problems += [f"{p}: misplaced; entries live at <dataset>/<protocol>/<detector_id>.json" for p in stray]
    return len(files), problems


def check_entry(entry: Any, path: Path | None = None, root: Path | None = None) -> list[str]:
    """Schema errors plus the rules a schema cannot express."""
    errs = validate_entry(entry)
    if errs:
        return errs
    if path is not None and root is not None:
        want = entry_path(root, entry["dataset"], entry["protocol"], entry["detector_id"])
        if path.resolve() != want.resolve():
            errs.append(f"stored at the wrong place: its fields say {want}")
    flags = set(entry["flags"])
    rep, meas = entry.get("reported"), entry.get("measured")
    if rep and not meas and "reported-not-reproduced" not in flags:
        errs.append("a reported-only entry must carry the 'reported-not-reproduced' flag")
    if meas and "reported-not-reproduced" in flags and not rep:
        errs.append("'reported-not-reproduced' on an entry without a reported number")
    if rep and not rep["metrics"] and not rep.get("robustness"):
        errs.append("a reported block needs at least one metric or a robustness table")
    if rep and rep["confidence"] == "L" and "unverified-number" not in flags:
        errs.append("a confidence-L number must carry the 'unverified-number' flag")
    if meas and not meas["weights"].get("trained", True) and "untrained" not in flags:
        errs.append("measured with untrained weights: add the 'untrained' flag")
    if meas:
        for level, block in meas["metrics"].items():
            for m in ("auc", "ap"):
                v, ci = block.get(m), block.get(f"{m}_ci95")
                if v is not None and ci and None not in ci and not (ci[0] - 1e-9 <= v <= ci[1] + 1e-9):
                    errs.append(f"measured {level} {m} {v} lies outside its CI {ci}")
    return errs


# -- from results.json ------------------------------------------------------------------------

def slug(text: str) -> str:
    s = text.lower().replace("++", "pp").replace("+", "p")
    s = re.sub(r"[^a-z0-9.]+", "-", s).strip("-.")
    return s or "unknown"


def _detector_meta(det_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Name/paper from the registry when the plugin is installed; training facts of the weights."""
    from ..registry import get_registry

    try:
        resolved = get_registry().resolve_detector(det_id)
    except Exception:  # results of a detector whose plugin is not installed here
        return {"name": det_id, "in_dfbench": False}, {}
    spec, w = resolved.spec, resolved.weights
    meta = {"name": det_id, "family": spec.name, "in_dfbench": True}
    if spec.paper:
        meta["paper"] = spec.paper
    if spec.url:
        meta["url"] = spec.url
    facts = {"trained_on": w.trained_on, "selection": w.selection} if w else {}
    return meta, facts


def protocol_for(results: dict[str, Any], trained_on: str = "") -> tuple[str, dict[str, Any]]:
    """Directory slug and description of a run's protocol.

    The slug groups entries that may be compared in one table: evaluation level and training
    set. Everything else (frames, aggregation, cropper) is in ``measured.protocol`` and its hash.
    """
    p = results.get("protocol", {})
    unit = p.get("frames", {}).get("unit", "frame")
    train = trained_on or "unknown training set"
    info = {
        "level": "video",
        "train_set": train,
        "checkpoint_selection": p.get("checkpoint_selection") or "not stated by the weights",
        "frames_per_video": p.get("frames", {}).get("frames_per_video"),
        "aggregation": p.get("aggregation"),
        "preprocessing": f"dfbench cropper {p.get('cropper', {}).get('name', '?')}, {unit}s",
        "description": "measured by dfbench: video-level metrics with bootstrap CIs over videos; frame-level beside",
    }
    # Only the training set itself names the table (``demo/train (24 videos; …)`` -> ``demo-train``):
    # the details differ per weights and would put every entry in a table of its own.
    train_set = re.split(r"\s*[(:;,]", train, maxsplit=1)[0] or train
    return f"video_train-{slug(train_set)}", info


def measured_block(results: dict[str, Any]) -> dict[str, Any]:
    """The ``measured`` part of an entry from a clean (uncorrupted) ``results.json``."""
    keep_v = ("auc", "auc_ci95", "ap", "ap_ci95", "eer", "acc", "f1_best", "n_real", "n_fake")
    keep_f = ("auc", "ap", "eer", "acc", "f1_best", "n_real", "n_fake")
    m = results["metrics"]
    det, env, t, c = results["detector"], results.get("env", {}), results.get("throughput", {}), results["counts"]
    block: dict[str, Any] = {
        "status": "measured by dfbench",
        "protocol_hash": results["protocol_hash"],
        # Machine-independent (no file signatures or software versions): what other runs compare with.
        **({"protocol_core_hash": results["protocol_core_hash"]} if results.get("protocol_core_hash") else {}),
        "metrics": {"video": {k: m["video"][k] for k in keep_v if k in m.get("video", {})},
                    "frame": {k: m["frame"][k] for k in keep_f if k in m.get("frame", {})}},
        "counts": {k: c.get(k) for k in ("videos", "videos_scored", "videos_scored_real", "videos_scored_fake",
                                         "videos_failed", "frames") if k in c}
                  | ({"videos_indexed": results["dataset"]["videos_indexed"]}
                     if results["dataset"].get("videos_indexed") is not None else {}),
        "weights": {"tag": det.get("weights_tag"), "sha256": det.get("weights_sha256"),
                    "source": det.get("weights_source"), "trained": bool(det.get("trained"))},
        "protocol": {k: results.get("protocol", {}).get(k) for k in
                     ("aggregation", "flip_test", "missing_face", "precision", "checkpoint_selection")}
                    | {"frames": results.get("protocol", {}).get("frames"),
                       "cropper": (results.get("protocol", {}).get("cropper") or {}).get("name"),
                       "dataset_version": results["dataset"].get("version")}
                    # what the CIs resample (videos, or identity clusters) — absent in older results
                    | ({"bootstrap": m["video"]["bootstrap"]} if m.get("video", {}).get("bootstrap") else {}),
        "dfbench_version": str(env.get("dfbench", "unknown")),
        "git_commit": env.get("git_commit"),
        "hardware": {k: env.get(k) for k in ("cpu", "platform", "threads", "device", "torch", "python") if k in env},
        "throughput": {k: t.get(k) for k in ("videos_per_s", "model_frames_per_s", "peak_rss_mb", "precision",
                                             "batch_size", "device", "unit") if k in t},
    }
    if m.get("video", {}).get("roc"):
        block["roc"] = m["video"]["roc"]
    if results.get("per_method"):
        block["per_method"] = results["per_method"]
    return block


def subset_reason(results: dict[str, Any]) -> str | None:
    """Why a run did not score its whole split (``--limit``/``--limit-percent``), or None for a full run."""
    sub = ((results.get("protocol") or {}).get("dataset") or {}).get("subset")
    n = (results.get("counts") or {}).get("videos")
    indexed = (results.get("dataset") or {}).get("videos_indexed")
    if sub:
        opt = (f"--limit {sub['limit']}" if sub.get("limit") is not None
               else f"--limit-percent {sub.get('limit_percent')}")
        return f"scored a subset: {n} of {indexed if indexed is not None else '?'} videos ({opt})"
    if n is not None and indexed is not None and n < indexed:
        return f"scored a subset: {n} of {indexed} videos"
    return None


def is_ranked(entry: dict[str, Any]) -> bool:
    """Whether an entry takes part in the ranking: an explicit ``ranked`` wins, else no unranked flag."""
    if "ranked" in entry:
        return bool(entry["ranked"])
    return not set(entry.get("flags") or ()) & set(UNRANKED_FLAGS)
