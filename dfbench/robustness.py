"""The robustness grid: one detector on one dataset, clean and under every (corruption type, level).

``run_robustness`` evaluates the clean split and then every cell of a corruption suite (by default
DeeperForensics-1.0: 7 types x 5 levels) through :func:`dfbench.runner.evaluate`, one run
directory per cell, so each cell is resumable and so is the whole grid (finished cells are read
back, an interrupted one continues where it stopped). It writes, RobustBench-style, the
*unaggregated* table and the aggregates next to it:

- ``OUT/robustness.csv``  one row per cell (and one ``clean`` row): video AUC, AP, EER, ACC, the
  AUC's bootstrap CI, frame AUC, counts, the relative drop from clean and the cell's protocol hash;
- ``OUT/robustness.json`` the summary the leaderboard shows: clean AUC, mean AUC per type over
  levels, the overall mean (mean of the per-type means, the "Avg" column of the LipForensics and
  LAA-Net tables), the relative drop ``(clean - mean) / clean``, and ``robustness`` =
  ``{type: {level: auc}}``; with a reference grid (``reference=``) also a corruption-error ratio in
  the manner of ImageNet-C's mCE, with error = 1 - AUC;
- ``OUT/robustness.png``  AUC against level, one line per type, clean as a dashed line.
- ``OUT/robustness_grid.png``, ``OUT/robustness.html``  one panel per type (the leaderboard's style).

Where corruptions apply is part of each cell's protocol (``applied_to``): on full frames before
face detection (default, the published protocol) or on cached crops (``corrupt_crops=True``:
much faster because faces are detected once, but a different protocol, and recorded as such).
Corruption seeds derive from (run seed, video key, type, level), so a re-run with the same seed
gives identical numbers.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import DfbenchError
from .figures import robustness_auc_png as plot  # the classic one-chart PNG (kept: docs, tests)

log = logging.getLogger(__name__)

ROBUSTNESS_SCHEMA_VERSION = 1
CSV_FILE = "robustness.csv"
JSON_FILE = "robustness.json"
PLOT_FILE = "robustness.png"
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


def _atomic_write(path: Path, data: bytes | dict) -> None:
    from .fileio import atomic_write_bytes, atomic_write_json

    if isinstance(data, dict):
        atomic_write_json(path, data)
    else:
        atomic_write_bytes(path, data)


def parse_levels(text: str | Sequence[int] | None) -> list[int] | None:
    """``"1-5"`` -> [1..5], ``"1,3,5"`` -> [1, 3, 5], ``"2"`` -> [2]; None means every level."""
    if text is None:
        return None
    if not isinstance(text, str):
        return sorted({int(x) for x in text})
    levels: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        try:
            if sep:
                a, b = int(lo), int(hi)
                if a > b:
                    raise ValueError
                levels.update(range(a, b + 1))
            else:
                levels.add(int(part))
        except ValueError:
            raise DfbenchError(f"--levels: expected e.g. '1-5' or '1,3,5', got {text!r}") from None
    if not levels:
        raise DfbenchError(f"--levels selects no level: {text!r}; e.g. '1-5'")
    return sorted(levels)


def corruption_grid(
    suite: str = "df1.0", levels: Sequence[int] | None = None
) -> list[tuple[str, int]]:
    """The (type, level) cells of ``suite`` (a suite tag, types and/or ``name:level`` items,
    comma-separated) restricted to ``levels``; order follows the suite, duplicates dropped."""
    from .corruptions import expand_corruption

    cells = list(dict.fromkeys(expand_corruption(suite)))
    if levels is not None:
        wanted = set(levels)
        cells = [c for c in cells if c[1] in wanted]
        if not cells:
            raise DfbenchError(f"no cell of {suite!r} has a level in {sorted(wanted)}")
    return cells


def cell_dir(output: Path, name: str | None, level: int | None) -> Path:
    return output / (CLEAN if name is None else f"{name}-{level}")


def _row(name: str, level: int, result: dict[str, Any], run_dir: Path) -> dict[str, Any]:
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
    _atomic_write(path, buf.getvalue().encode())


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


def run_robustness(
    detector: Any,
    dataset: str,
    output: str | Path,
    *,
    suite: str = "df1.0",
    levels: Sequence[int] | str | None = None,
    split: str = "test",
    seed: int = 0,
    corrupt_crops: bool = False,
    weights: str | None = None,
    reference: str | Path | dict | None = None,
    include_clean: bool = True,
    make_plot: bool = True,
    progress: bool = True,
    registry: Any = None,
    **evaluate_kwargs: Any,
) -> dict[str, Any]:
    """Evaluate ``detector`` on ``dataset`` clean and for every (type, level) of ``suite``.

    Writes ``OUT/robustness.csv``, ``OUT/robustness.json``, ``OUT/robustness.png``,
    ``OUT/robustness_grid.png`` and ``OUT/robustness.html`` (figures unless ``make_plot`` is
    false or no corrupted cell was run) and returns
    the summary (with ``rows``). ``evaluate_kwargs`` go to :func:`dfbench.runner.evaluate`
    unchanged (``data_root``, ``limit``, ``batch_size``, ``precision``, ``cache_dir``, ...), so
    every cell shares one protocol except the corruption. Re-running with the same ``output``
    resumes: finished cells are verified against their protocol and read back.
    """
    from .build import build_detector
    from .registry import get_registry
    from .run_identity import check_args, check_device
    from .runner import evaluate

    for bad in ("corruption", "severity", "output", "split", "seed", "corrupt_crops"):
        if bad in evaluate_kwargs:
            raise TypeError(f"run_robustness() sets {bad!r} itself")
    # Bad values and devices are refused before the grid's directory exists.
    check_device(evaluate_kwargs.get("device", "cpu"))
    check_args(**{k: evaluate_kwargs.get(k) for k in ("limit", "limit_percent", "batch_size", "frames_per_video")})
    reg = registry or get_registry()
    out = Path(output)
    cells = corruption_grid(suite, parse_levels(levels) if isinstance(levels, str) else levels)
    for name, _ in cells:
        reg.corruption(name)  # unknown or unregistered -> a clear error before any work
    # One detector object for the whole grid: weights load (and hash) once.
    det = (
        build_detector(detector, weights=weights, registry=reg)
        if isinstance(detector, str)
        else detector
    )
    if not det.trained and not evaluate_kwargs.get("allow_untrained"):
        from .runner import untrained_message

        raise DfbenchError(untrained_message(det, reg))
    ref = _load_reference(reference)
    out.mkdir(parents=True, exist_ok=True)

    plan: list[tuple[str | None, int | None]] = ([(None, None)] if include_clean else []) + list(
        cells
    )
    rows: list[dict[str, Any]] = []
    header: dict[str, Any] | None = None
    clean_faces: dict[str, bool] = {}
    clean_items = None
    for i, (name, level) in enumerate(plan, 1):
        run_dir = cell_dir(out, name, level)
        log.info(
            "robustness cell %d/%d: %s", i, len(plan), CLEAN if name is None else f"{name}:{level}"
        )
        result = evaluate(
            det,
            dataset,
            split=split,
            corruption=None if name is None else f"{name}:{level}",
            seed=seed,
            output=run_dir,
            corrupt_crops=corrupt_crops,
            progress=f"cell {i}/{len(plan)}: {CLEAN if name is None else f'{name}:{level}'}" if progress else False,
            registry=reg,
            **evaluate_kwargs,
        )
        header = header or result
        if _model_path(result["protocol"]) != _model_path(header["protocol"]):
            # With --precision auto each cell re-checks the cached choice; a grid whose cells ran
            # differently (a failed re-check, another runtime) would mix two models' numbers.
            raise DfbenchError(
                f"cell {CLEAN if name is None else f'{name}:{level}'} ran as {_model_path(result['protocol'])}, "
                f"the first cell as {_model_path(header['protocol'])} ({run_dir}); every cell must run the same "
                "way: re-run with an explicit --precision/--backend (e.g. --precision fp32)"
            )
        row = _row(CLEAN if name is None else name, 0 if name is None else level, result, run_dir)
        if name is None:
            clean_faces = _faces_by_video(run_dir)
            clean_items = result["protocol"]["dataset"]["items_sha256"]
        else:
            if include_clean and result["protocol"]["dataset"]["items_sha256"] != clean_items:
                raise DfbenchError(
                    f"cell {name}:{level} was evaluated on other videos than the clean run ({run_dir}); "
                    "every cell must use the clean run's videos: re-run with the same dataset options"
                )
            if include_clean:
                row["videos_lost_face"] = _lost_faces(clean_faces, _faces_by_video(run_dir))
        rows.append(row)

    summary = summarise(rows, ref)
    det_block = dict(header["detector"]) if header else {}
    doc: dict[str, Any] = {
        "schema_version": ROBUSTNESS_SCHEMA_VERSION,
        "detector": det_block,
        "dataset": header["dataset"] if header else {"id": dataset, "split": split},
        "suite": suite,
        "levels": sorted({lv for _, lv in cells}),
        "seed": seed,
        "applied_to": "crops" if corrupt_crops else "full frames before face detection",
        "missing_face": header["protocol"]["missing_face"] if header else None,
        "model_path": _model_path(header["protocol"]) if header else None,
        **summary,
        "rows": rows,
    }
    write_csv(rows, out / CSV_FILE)
    _atomic_write(out / JSON_FILE, doc)
    if make_plot and summary["robustness"]:
        title = (
            f"{det_block.get('id', '')} on {doc['dataset'].get('id')}/{split} ({doc['applied_to']})"
        )
        plot(summary, out / PLOT_FILE, title=title)
        # The leaderboard-style small multiples (robustness_grid.png) and the hoverable
        # robustness.html, so a grid's figures need no separate `dfbench figures` step.
        from .figures import robustness_figures

        robustness_figures(doc, out, title)
    return {**doc, "output_dir": str(out)}


def _model_path(protocol: dict[str, Any]) -> dict[str, Any]:
    """How the network ran in a cell: precision, memory format, compile and runtime."""
    backend = protocol.get("backend") or {}
    return {
        "precision": protocol.get("precision"),
        "channels_last": protocol.get("channels_last"),
        "compile": protocol.get("compile"),
        "backend": backend.get("name", "torch"),
    }


def _faces_by_video(run_dir: Path) -> dict[str, bool]:
    """Video key -> whether a face was found in it (False: no face at all, whatever the policy
    did with it: failed under ``skip``, scored 0.5 under ``score_half``)."""
    from .results import PARTIAL_FILE, failure_kind, read_partial

    out = {}
    for key, rec in read_partial(Path(run_dir) / PARTIAL_FILE).items():
        if rec["status"] == "ok":
            out[key] = not rec.get("faceless", False)
        elif failure_kind(rec) == "no face":
            out[key] = False
    return out


def _lost_faces(clean: dict[str, bool], cell: dict[str, bool]) -> int:
    """Videos with a face in the clean run and none under the corruption (matched by key)."""
    return sum(1 for k, had in clean.items() if had and cell.get(k) is False)


def _load_reference(reference: str | Path | dict | None) -> dict[str, Any] | None:
    if reference is None or isinstance(reference, dict):
        return reference
    p = Path(reference)
    p = p / JSON_FILE if p.is_dir() else p
    if not p.exists():
        raise DfbenchError(
            f"--reference {reference}: no {JSON_FILE} there; pass the output directory of an earlier "
            "`dfbench robustness` run of the reference detector (or its robustness.json)."
        )
    return json.loads(p.read_text())


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
