"""``dfbench compare``: runs side by side, overlaid ROC/PR curves, and a paired test of the AUC gap.

Two AUCs with overlapping CIs can still differ reliably when both detectors scored the *same*
videos, and two AUCs that look far apart can be noise on a small test set. So for each pair of
runs that share videos the comparison joins their per-video scores on the globally unique video
key (from ``predictions.parquet``, aggregated with each run's own rule) and reports a paired
bootstrap of AUC(A) − AUC(B): the difference, its 95 % CI and a two-sided p-value.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import DfbenchError

log = logging.getLogger(__name__)


@dataclass
class Run:
    label: str
    path: Path
    results: dict[str, Any]
    keys: list[str]
    labels: Any  # np.ndarray of video labels
    scores: Any  # np.ndarray of video logits


def load_run(run_dir: str | Path, label: str | None = None) -> Run:
    """A finished run directory: results.json plus per-video scores from predictions.parquet."""
    from .metrics import aggregate_videos
    from .results import PREDICTIONS_FILE, load_predictions, load_results

    path = Path(run_dir)
    res = load_results(path)
    if not (path / PREDICTIONS_FILE).exists():
        raise DfbenchError(f"{path} has no {PREDICTIONS_FILE}; pass the --output directory of a finished `dfbench run`")
    df = load_predictions(path)
    rule = (res.get("protocol") or {}).get("aggregation") or "mean_logit"
    keys, vlab, vs = aggregate_videos(df["video_key"], df["label"], df["logit"], rule) if len(df) else ([], [], [])
    import numpy as np

    return Run(label or res["detector"]["id"], path, res, list(keys), np.asarray(vlab), np.asarray(vs, dtype=float))


def _labels(runs: list[Run]) -> None:
    """Make labels unique: detector id, then corruption, then the directory name."""
    seen: dict[str, int] = {}
    for r in runs:
        seen[r.label] = seen.get(r.label, 0) + 1
    for r in runs:
        if seen[r.label] > 1:
            corr = r.results.get("corruption")
            r.label = f"{r.label} [{corr['name']}:{corr['level']}]" if corr else f"{r.label} ({r.path.name})"
    if len({r.label for r in runs}) < len(runs):
        for i, r in enumerate(runs):
            r.label = f"{r.label} #{i + 1}"


def paired_test(a: Run, b: Run, n_bootstrap: int = 2000, seed: int = 0) -> dict[str, Any]:
    """Paired bootstrap of AUC(a) − AUC(b) over the videos both runs scored (resampling identity
    clusters where the dataset defines them, see :mod:`dfbench.clusters`)."""
    import numpy as np

    from .metrics import paired_bootstrap_auc

    ia = {k: i for i, k in enumerate(a.keys)}
    ib = {k: i for i, k in enumerate(b.keys)}
    common = sorted(set(ia) & set(ib))
    out: dict[str, Any] = {"a": a.label, "b": b.label, "n_common": len(common),
                           "same_videos": set(ia) == set(ib), "n_a": len(ia), "n_b": len(ib)}
    if not common:
        out["skipped"] = "no video in common"
        return out
    xa = np.array([ia[k] for k in common])
    xb = np.array([ib[k] for k in common])
    y = a.labels[xa]
    if not np.array_equal(y, b.labels[xb]):
        out["skipped"] = "the runs disagree on labels of the same video keys"
        return out
    if y.min() == y.max():
        out["skipped"] = "the common videos are all of one class"
        return out
    # The same identity clusters as the runs' own CIs (rebuilt from the video keys), so the test
    # does not treat two videos of one person as independent evidence.
    from .clusters import identity_clusters

    found = identity_clusters(a.results["dataset"]["id"], common)
    clusters = [found[0][k] for k in common] if found else None
    out.update(paired_bootstrap_auc(y, a.scores[xa], b.scores[xb], n=n_bootstrap, seed=seed, clusters=clusters))
    if found:
        out["bootstrap_unit"].update(rule=found[1]["rule"])
    out["n_real"], out["n_fake"] = int((y == 0).sum()), int((y == 1).sum())
    out["significant"] = bool(out["ci95"][0] > 0 or out["ci95"][1] < 0)
    return out


def compare_runs(run_dirs: list[str | Path], output: str | Path | None = None, *, n_bootstrap: int = 2000,
                 seed: int = 0) -> dict[str, Any]:
    """Compare finished runs; writes ``roc.png``/``pr.png`` (and ``comparison.json``) into ``output``."""
    if len(run_dirs) < 2:
        raise DfbenchError("compare needs at least two run directories")
    runs = [load_run(d) for d in run_dirs]
    _labels(runs)
    report: dict[str, Any] = {"runs": [_summary(r) for r in runs], "paired": []}
    for a, b in itertools.combinations(runs, 2):
        report["paired"].append(paired_test(a, b, n_bootstrap, seed))
    if output is not None:
        out = Path(output)
        out.mkdir(parents=True, exist_ok=True)
        report["plots"] = _plots(runs, out)
        from .figures import comparison_figures  # interactive ROC/PR beside the PNGs (issue 18)

        report["plots"]["html"] = comparison_figures(runs, out)
        from .fileio import atomic_write_json

        atomic_write_json(out / "comparison.json", report)
    return report


def _summary(r: Run) -> dict[str, Any]:
    res = r.results
    v, f = res["metrics"].get("video", {}), res["metrics"].get("frame", {})
    t, c = res.get("throughput") or {}, res.get("counts") or {}
    corr = res.get("corruption")
    return {
        "label": r.label, "run_dir": str(r.path), "detector": res["detector"]["id"],
        "trained": res["detector"].get("trained", True),
        "dataset": f"{res['dataset']['id']}/{res['dataset']['split']}",
        "corruption": f"{corr['name']}:{corr['level']}" if corr else None,
        "protocol_hash": res.get("protocol_hash"),
        # machine-independent (no file signatures or software versions); absent in older results
        "protocol_core_hash": res.get("protocol_core_hash"),
        "aggregation": (res.get("protocol") or {}).get("aggregation"),
        "video": {k: v.get(k) for k in ("auc", "auc_ci95", "ap", "ap_ci95", "eer", "acc")}
                 # chosen on the test set itself: an upper bound, so named as such
                 | {"f1_oracle": v.get("f1_best")},
        "frame": {k: f.get(k) for k in ("auc", "ap", "eer")},
        "counts": {k: c.get(k) for k in ("videos_scored_real", "videos_scored_fake", "videos_failed", "frames")},
        "throughput": {k: t.get(k) for k in ("videos_per_s", "model_frames_per_s", "peak_rss_mb")},
    }


def _plots(runs: list[Run], out: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn import metrics as skm

    paths = {}
    for kind in ("roc", "pr"):
        fig, ax = plt.subplots(figsize=(5.2, 4.6), dpi=110)
        for r in runs:
            if len(r.labels) == 0 or r.labels.min() == r.labels.max():
                log.warning("%s: needs real and fake videos for a %s curve; skipped", r.label, kind.upper())
                continue
            if kind == "roc":
                x, y, _ = skm.roc_curve(r.labels, r.scores)
                val = skm.roc_auc_score(r.labels, r.scores)
                ax.plot(x, y, lw=1.6, label=f"{r.label} (AUC {val:.3f})")
            else:
                y, x, _ = skm.precision_recall_curve(r.labels, r.scores)
                val = skm.average_precision_score(r.labels, r.scores)
                ax.plot(x, y, lw=1.6, label=f"{r.label} (AP {val:.3f})", drawstyle="steps-post")
        if kind == "roc":
            ax.plot([0, 1], [0, 1], ls="--", c="0.7", lw=1)
            ax.set(xlabel="false positive rate", ylabel="true positive rate", title="Video-level ROC")
        else:
            ax.set(xlabel="recall", ylabel="precision", title="Video-level precision-recall")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right" if kind == "roc" else "lower left")
        fig.tight_layout()
        p = out / f"{kind}.png"
        fig.savefig(p)
        plt.close(fig)
        paths[kind] = str(p)
    return paths


# -- text ------------------------------------------------------------------------------------

def _ci(x, ci) -> str:
    if x is None:
        return "n/a"
    return f"{x:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci and ci[0] is not None else f"{x:.3f}"


def _f(x, d: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{d}f}"


def _protocol_key(runs: list[dict[str, Any]], r: dict[str, Any]) -> str | None:
    """The hash the runs are compared by: the core protocol hash when every run has one, so the
    same protocol run on two machines (other software versions, another copy of the files) reads
    as the same protocol; else the full hash (results written before the core hash existed)."""
    if all(x.get("protocol_core_hash") for x in runs):
        return r["protocol_core_hash"]
    return r["protocol_hash"]


def format_comparison(report: dict[str, Any]) -> str:
    """Side-by-side table (runs as columns) and the paired tests, as plain text."""
    runs = report["runs"]
    rows: list[tuple[str, list[str]]] = [
        ("detector", [r["detector"] + ("" if r["trained"] else " (UNTRAINED)") for r in runs]),
        ("dataset", [r["dataset"] for r in runs]),
        ("corruption", [r["corruption"] or "none" for r in runs]),
        ("protocol", [(_protocol_key(runs, r) or "")[:12] for r in runs]),
        ("video AUC [95% CI] ↑", [_ci(r["video"]["auc"], r["video"]["auc_ci95"]) for r in runs]),
        ("video AP [95% CI] ↑", [_ci(r["video"]["ap"], r["video"]["ap_ci95"]) for r in runs]),
        ("video EER ↓", [_f(r["video"]["eer"]) for r in runs]),
        ("video ACC ↑", [_f(r["video"]["acc"]) for r in runs]),
        ("frame AUC ↑", [_f(r["frame"]["auc"]) for r in runs]),
        ("videos real/fake", [f"{r['counts']['videos_scored_real']}/{r['counts']['videos_scored_fake']}" for r in runs]),
        ("videos failed", [str(r["counts"]["videos_failed"]) for r in runs]),
        ("frames", [str(r["counts"]["frames"]) for r in runs]),
        ("videos/s ↑", [_f(r["throughput"]["videos_per_s"], 2) for r in runs]),
        ("model frames/s ↑", [_f(r["throughput"]["model_frames_per_s"], 1) for r in runs]),
        ("peak RSS MB ↓", [_f(r["throughput"]["peak_rss_mb"], 0) for r in runs]),
    ]
    head = [""] + [r["label"] for r in runs]
    body = [[name, *vals] for name, vals in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()  # noqa: E731
    out = [line(head), "  ".join("-" * w for w in widths), *map(line, body), ""]
    if len({_protocol_key(runs, r) for r in runs}) > 1:
        out.append("note: the runs have different protocol hashes (dataset subset, frames, corruption, weights…); "
                   "compare numbers with care.")
    out.append("Paired bootstrap of the video AUC difference (same videos, joined on video keys):")
    for p in report["paired"]:
        if p.get("skipped"):
            out.append(f"  {p['a']} vs {p['b']}: not tested ({p['skipped']})")
            continue
        verdict = ("a real difference at the 5 % level" if p["significant"]
                   else "not distinguishable on these videos")
        scope = "" if p["same_videos"] else f" (on the {p['n_common']} videos both scored)"
        unit = p.get("bootstrap_unit") or {}
        if unit.get("unit") == "cluster":
            scope += f", resampling {unit['n_clusters']} identity clusters"
        out.append(f"  {p['a']} − {p['b']}: ΔAUC {p['auc_diff']:+.3f} [{p['ci95'][0]:+.3f}, {p['ci95'][1]:+.3f}], "
                   f"p = {p['p_value']:.3f}, {p['n_real']} real / {p['n_fake']} fake videos{scope}: {verdict}")
    if report.get("plots"):
        out.append("plots: " + ", ".join(report["plots"].values()))
    return "\n".join(out)
