"""Robustness and comparison figures in the leaderboard's style: a PNG for papers, an HTML to explore.

- :func:`robustness_figures` draws a ``robustness.json`` (from ``dfbench robustness``) as small
  multiples, one panel per corruption type with a shared y axis, AUC against level, the clean AUC
  as a dotted reference line: ``robustness_grid.png`` (matplotlib, 150 dpi) and ``robustness.html``
  (self-contained, the same SVG charts as ``leaderboards/index.html``: hover a point for its value).
- :func:`comparison_html` draws the video-level ROC and precision-recall curves of compared runs
  as ``comparison.html`` (click a legend entry to hide a curve, hover to highlight it).

``dfbench figures DIR`` re-draws the robustness figures of a finished grid.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from .leaderboard.svgplot import CHART_CSS, CHART_JS, PALETTE, Series, roc_figure, small_multiples
from .leaderboard.table import canonical_corruption, corruption_order

GRID_PNG, GRID_HTML, COMPARE_HTML = "robustness_grid.png", "robustness.html", "comparison.html"


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html.escape(title)
            + "</title><style>body{font:14px/1.45 system-ui,sans-serif;max-width:1400px;margin:0 auto;"
            "padding:0 20px 40px;color:#222}.plots{display:flex;flex-wrap:wrap;gap:12px 28px}" + CHART_CSS
            + "</style></head><body><h1 style=\"font-size:20px\">" + html.escape(title) + "</h1>" + body
            + "<script>" + CHART_JS + "</script></body></html>\n")


def _grid(doc: dict[str, Any]) -> tuple[list[str], dict[str, list[tuple[int, float]]], float | None]:
    types = sorted(doc["robustness"], key=lambda t: corruption_order(canonical_corruption(t)))
    pts = {t: sorted((int(k), float(v)) for k, v in doc["robustness"][t].items()
                     if v is not None and math.isfinite(float(v))) for t in types}
    clean = doc.get("clean_auc")
    return types, pts, (float(clean) if clean is not None and math.isfinite(float(clean)) else None)


def robustness_png(doc: dict[str, Any], path: str | Path, title: str = "") -> Path:
    """Small multiples (shared y axis) of AUC vs level per corruption type, clean AUC dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    types, pts, clean = _grid(doc)
    cols = len(types) if len(types) <= 7 else 4
    rows = math.ceil(len(types) / cols)
    values = [v for p in pts.values() for _, v in p] + ([clean] if clean is not None else [])
    lo = math.floor(min([0.5] + values) * 20) / 20
    levels = sorted({lv for p in pts.values() for lv, _ in p}) or [1, 5]
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols + 0.7, 2.0 * rows + 0.8), sharey=True, squeeze=False,
                             dpi=150)
    for i, ax in enumerate(axes.flat):
        if i >= len(types):
            ax.set_visible(False)
            continue
        t = types[i]
        if clean is not None:
            ax.axhline(100 * clean, color="0.35", ls=":", lw=1.2, label="clean")
        xs, ys = zip(*pts[t], strict=True) if pts[t] else ((), ())
        ax.plot(xs, [100 * y for y in ys], marker="o", ms=3.5, lw=1.8, color=PALETTE[0], label="corrupted")
        ax.set_title(canonical_corruption(t), fontsize=9, fontweight="bold")
        ax.set_xticks(levels)
        ax.set_xlim(min(levels) - 0.4, max(levels) + 0.4)
        ax.set_ylim(100 * lo, 101)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for r in range(rows):
        axes[r, 0].set_ylabel("video AUC (%)", fontsize=8)
    fig.supxlabel("corruption level (1 = mildest, 5 = strongest)", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", fontsize=7, frameon=False, ncol=2)
    fig.suptitle(title or "robustness", fontsize=9, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path = Path(path)
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path


def robustness_html(doc: dict[str, Any], path: str | Path, title: str = "") -> Path:
    types, pts, clean = _grid(doc)
    names = [canonical_corruption(t) for t in types]
    levels = sorted({lv for p in pts.values() for lv, _ in p} | {1, 5})
    det = (doc.get("detector") or {}).get("id") or "detector"
    series = [Series(det, points={canonical_corruption(t): pts[t] for t in types}, reference=clean)]
    fig = small_multiples("rob", names, series, x_levels=list(range(min(levels), max(levels) + 1)),
                          x_title="corruption level (1 = mildest, 5 = strongest)", y_title="video AUC (%)",
                          caption="AUC per corruption type and level; dotted: clean AUC. Hover a point for its value.")
    path = Path(path)
    path.write_text(_page(title or f"robustness of {det}", fig), encoding="utf-8")
    return path


def robustness_figures(doc: dict[str, Any], out: str | Path, title: str = "") -> dict[str, str]:
    out = Path(out)
    return {"png": str(robustness_png(doc, out / GRID_PNG, title)),
            "html": str(robustness_html(doc, out / GRID_HTML, title))}


def comparison_html(curves: list[dict[str, Any]], path: str | Path, title: str = "comparison") -> Path:
    """``curves``: ``{"label", "roc": (fpr, tpr), "pr": (recall, precision), "auc", "ap"}`` per run."""
    roc = [Series(c["label"], points={"roc": list(zip(*c["roc"], strict=True))}, detail=f"(AUC {100 * c['auc']:.2f})")
           for c in curves]
    pr = [Series(c["label"], points={"roc": list(zip(*c["pr"], strict=True))}, detail=f"(AP {100 * c['ap']:.2f})")
          for c in curves]
    body = ('<div class="plots">'
            + roc_figure("roc", roc, "Video-level ROC curves. Click a legend entry to hide or show a curve.")
            + roc_figure("pr", pr, "Video-level precision-recall curves.", x_title="recall", y_title="precision",
                         diagonal=False)
            + "</div>")
    path = Path(path)
    path.write_text(_page(title, body), encoding="utf-8")
    return path


def comparison_figures(runs: list[Any], out: str | Path) -> str:
    """``comparison.html`` for :func:`dfbench.compare.compare_runs`: runs with ``label``, ``labels``, ``scores``."""
    from sklearn import metrics as skm

    curves = []
    for r in runs:
        if len(r.labels) == 0 or r.labels.min() == r.labels.max():
            continue  # one class only: no curve (compare logs it for the PNGs)
        fpr, tpr, _ = skm.roc_curve(r.labels, r.scores)
        prec, rec, _ = skm.precision_recall_curve(r.labels, r.scores)
        curves.append({"label": r.label, "roc": ([round(float(x), 5) for x in fpr], [round(float(y), 5) for y in tpr]),
                       "pr": ([round(float(x), 5) for x in rec], [round(float(y), 5) for y in prec]),
                       "auc": float(skm.roc_auc_score(r.labels, r.scores)),
                       "ap": float(skm.average_precision_score(r.labels, r.scores))})
    return str(comparison_html(curves, Path(out) / COMPARE_HTML, "dfbench compare: " + ", ".join(c["label"] for c in curves)))


def robustness_auc_png(summary: dict[str, Any], path: Path, title: str = "") -> Path:
    """``robustness.png``: AUC against level, one line per type, clean AUC dashed (one chart)."""
    import matplotlib

    from .fileio import atomic_write_bytes

    matplotlib.use("Agg")  # headless; never opens a window
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    try:
        for t, levels in summary["robustness"].items():
            xs = [int(k) for k in levels]
            ys = [float("nan") if v is None else v for v in levels.values()]
            mean = summary["per_type_mean"].get(t)
            ax.plot(xs, ys, marker="o", label=f"{t} (mean {mean:.3f})" if mean is not None else t)
        clean = summary.get("clean_auc")
        if isinstance(clean, (int, float)) and math.isfinite(clean):
            ax.axhline(
                summary["clean_auc"],
                color="black",
                linestyle="--",
                linewidth=1,
                label=f"clean ({summary['clean_auc']:.3f})",
            )
        all_levels = sorted({int(k) for lv in summary["robustness"].values() for k in lv})
        ax.set_xticks(all_levels)
        ax.set_xlabel("severity level")
        ax.set_ylabel("video AUC")
        ax.set_ylim(0.0, 1.02)
        ax.grid(alpha=0.3)
        ax.set_title(title or "robustness", fontsize=10)
        ax.legend(fontsize=7, loc="lower left", ncol=2)
        fig.tight_layout()
        tmp = path.with_name(f".{path.name}.tmp")
        fig.savefig(tmp, format="png", metadata={"Software": None})
        atomic_write_bytes(path, tmp.read_bytes())
        tmp.unlink()
    finally:
        plt.close(fig)
    return path
