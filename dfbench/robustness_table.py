"""The robustness grid's tables: a cell's CSV row, the aggregates (per-type and overall mean AUC,
relative drop, an mCE-style ratio against a reference grid), ``robustness.csv`` and
``robustness.json`` on disk and the fixed-width summary printed by ``dfbench robustness``.

Pure bookkeeping over finished cells; :mod:`dfbench.robustness` runs the cells.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from .errors import DfbenchError
from .fileio import atomic_write_bytes

CSV_FILE = "robustness.csv"
JSON_FILE = "robustness.json"
CLEAN = "clean"
CSV_COLUMNS = (
    "type",
    "level",
    "auc",
    "ap",
    "eer",
    "acc",
    "auc_ci_low",
    "auc_ci_high",
    "frame_auc",
    "relative_drop",
    "n_real",
    "n_fake",
    "videos",
    "videos_scored",
    "videos_failed",
    "videos_lost_face",
    "frames",
    "protocol_hash",
    "run_dir",
)


def cell_row(name: str, level: int, result: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    v = result["metrics"].get("video", {}) or {}
    f = result["metrics"].get("frame", {}) or {}
    c = result["counts"]
    ci = v.get("auc_ci95") or [None, None]
    return {
        "type": name,
        "level": level,
        "auc": v.get("auc"),
        "ap": v.get("ap"),
        "eer": v.get("eer"),
        "acc": v.get("acc"),
        "auc_ci_low": ci[0],
        "auc_ci_high": ci[1],
        "frame_auc": f.get("auc"),
        "relative_drop": None,
        "n_real": v.get("n_real"),
        "n_fake": v.get("n_fake"),
        "videos": c.get("videos"),
        "videos_scored": c.get("videos_scored"),
        "videos_failed": c.get("videos_failed"),
        "videos_lost_face": None,
        "frames": c.get("frames"),
        "protocol_hash": result.get("protocol_hash"),
        "run_dir": str(run_dir),
    }


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _mean(values: list[Any]) -> float | None:
    vals = [float(x) for x in values if _finite(x)]
    return sum(vals) / len(vals) if vals else None


def summarise(
    rows: list[dict[str, Any]], reference: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Aggregates of a grid's rows (the clean row has type ``clean``); fills ``relative_drop``.

    Per-type mean = mean video AUC over that type's levels; overall mean = mean of the per-type
    means (types weigh equally even if their level counts differ); relative drop =
    ``(clean - x) / clean``. Cells with an undefined AUC (one class unscored) are left out of the
    means and listed in ``undefined``.
    """
    clean_row = next((r for r in rows if r["type"] == CLEAN), None)
    clean = clean_row["auc"] if clean_row else None
    grid: dict[str, dict[int, float | None]] = {}
    for r in rows:
        if r["type"] == CLEAN:
            continue
        grid.setdefault(r["type"], {})[int(r["level"])] = r["auc"]
        r["relative_drop"] = (
            (clean - r["auc"]) / clean if _finite(clean) and clean and _finite(r["auc"]) else None
        )
    per_type = {t: _mean(list(lv.values())) for t, lv in grid.items()}
    overall = _mean(list(per_type.values()))

    def drop(x: float | None) -> float | None:
        return (clean - x) / clean if _finite(clean) and clean and _finite(x) else None

    out: dict[str, Any] = {
        "metric": "video_auc",
        "clean": {
            k: clean_row.get(k) for k in ("auc", "ap", "eer", "acc", "auc_ci_low", "auc_ci_high")
        }
        if clean_row
        else None,
        "clean_auc": clean,
        "robustness": {
            t: {str(lv): auc for lv, auc in sorted(levels.items())} for t, levels in grid.items()
        },
        "per_type_mean": per_type,
        "mean": overall,
        "relative_drop": drop(overall),
        "per_type_relative_drop": {t: drop(m) for t, m in per_type.items()},
        "undefined": [
            f"{r['type']}:{r['level']}"
            for r in rows
            if r["type"] != CLEAN and not _finite(r["auc"])
        ],
    }
    if reference is not None:
        out["reference"] = corruption_error(grid, reference)
    return out


def corruption_error(
    grid: dict[str, dict[int, float | None]], reference: dict[str, Any]
) -> dict[str, Any]:
    """ImageNet-C-style corruption error against a reference detector's grid, error = 1 - AUC.

    ``CE_t = sum_l (1 - AUC_t,l) / sum_l (1 - AUCref_t,l)`` over the levels both grids have;
    ``mCE`` is the mean over types. Below 1 means more robust than the reference. Normalising by a
    fixed reference makes hard and easy corruption types count alike.
    """
    ref_grid = reference.get("robustness") or {}
    per_type: dict[str, float | None] = {}
    for t, levels in grid.items():
        ref = {int(k): v for k, v in (ref_grid.get(t) or {}).items()}
        common = [lv for lv in levels if lv in ref and _finite(levels[lv]) and _finite(ref[lv])]
        den = sum(1.0 - ref[lv] for lv in common)
        per_type[t] = sum(1.0 - levels[lv] for lv in common) / den if common and den > 0 else None
    return {
        "detector": (reference.get("detector") or {}).get("id"),
        "ce": per_type,
        "mce": _mean(list(per_type.values())),
    }


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_COLUMNS})
    atomic_write_bytes(path, buf.getvalue().encode())


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``robustness.csv`` with numbers parsed back (empty cells -> None)."""
    ints = {"level", "n_real", "n_fake", "videos", "videos_scored", "videos_failed", "videos_lost_face", "frames"}
    text = {"type", "protocol_hash", "run_dir"}
    rows = []
    with open(path, newline="") as fh:
        for r in csv.DictReader(fh):
            rows.append(
                {
                    k: (v if k in text else None if v == "" else int(v) if k in ints else float(v))
                    for k, v in r.items()
                }
            )
    return rows


def load_robustness(path: str | Path) -> dict[str, Any]:
    """Read ``robustness.json`` from an output directory (or the file itself)."""
    p = Path(path)
    p = p / JSON_FILE if p.is_dir() else p
    if not p.exists():
        raise DfbenchError(
            f"no {JSON_FILE} in {path}: pass the --output directory of a finished `dfbench robustness`."
        )
    return json.loads(p.read_text())


def _model_path_line(mp: dict[str, Any] | None) -> list[str]:
    if not mp:
        return []
    text = f"{mp['backend']} {mp['precision']}" + (" + channels_last" if mp.get("channels_last") else "")
    return [f"model     {text} in every cell" + (" (compiled)" if mp.get("compile") else "")]


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """A fixed-width table: one row per type, one column per level, then mean and drop."""
    levels = [str(lv) for lv in doc["levels"]]

    def f(x: Any) -> str:
        return f"{x:.3f}" if _finite(x) else "  n/a"

    head = (
        f"{'type':<12} " + " ".join(f"{'L' + lv:>6}" for lv in levels) + f" {'mean':>6} {'drop':>7}"
    )
    lines = [
        f"detector  {doc['detector'].get('id')}  on {doc['dataset'].get('id')}/{doc['dataset'].get('split')}"
        f"  corruptions on {doc['applied_to']}  seed {doc['seed']}",
        f"clean     video AUC {f(doc.get('clean_auc'))}",
        *_model_path_line(doc.get("model_path")),
        "",
        head,
    ]
    for t, lv in doc["robustness"].items():
        d = doc["per_type_relative_drop"].get(t)
        lines.append(
            f"{t:<12} "
            + " ".join(f"{f(lv.get(x)):>6}" for x in levels)
            + f" {f(doc['per_type_mean'].get(t)):>6} {(f'{100 * d:6.1f}%') if _finite(d) else '   n/a':>7}"
        )
    d = doc.get("relative_drop")
    lines.append(
        f"{'mean':<12} "
        + " ".join(" " * 6 for _ in levels)
        + f" {f(doc.get('mean')):>6} {(f'{100 * d:6.1f}%') if _finite(d) else '   n/a':>7}"
    )
    if doc.get("reference"):
        lines.append(f"mCE vs {doc['reference'].get('detector')}: {f(doc['reference'].get('mce'))}")
    if doc.get("undefined"):
        lines.append(f"undefined AUC (one class unscored): {', '.join(doc['undefined'])}")
    lost = [f"{r['type']}:{r['level']} {r['videos_lost_face']}" for r in doc.get("rows", [])
            if r.get("videos_lost_face")]
    if lost:
        lines.append(f"videos that lost their face (scored by --missing-face {doc.get('missing_face')}): "
                     + ", ".join(lost))
    return lines
