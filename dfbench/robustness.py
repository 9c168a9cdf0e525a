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

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import DfbenchError
from .figures import robustness_auc_png as plot  # the classic one-chart PNG (kept: docs, tests)
from .fileio import atomic_write_json
from .robustness_table import (  # noqa: F401  (the grid's tables, public here too)
    CLEAN,
    CSV_COLUMNS,
    CSV_FILE,
    JSON_FILE,
    cell_row,
    corruption_error,
    load_robustness,
    read_csv,
    summarise,
    summary_lines,
    write_csv,
)

log = logging.getLogger(__name__)

ROBUSTNESS_SCHEMA_VERSION = 1
PLOT_FILE = "robustness.png"


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
                "way: run the grid again with an explicit --precision/--backend (e.g. --precision fp32) in a new "
                "--output directory, or with --force-new"
            )
        row = cell_row(CLEAN if name is None else name, 0 if name is None else level, result, run_dir)
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
    atomic_write_json(out / JSON_FILE, doc)
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


