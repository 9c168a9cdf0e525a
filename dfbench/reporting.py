"""Decision thresholds and confusion matrices: what a run reports beyond threshold-free AUC.

Three kinds of threshold, never mixed up:

- **fixed 0.5** (probability; logit 0): what ``acc`` has always meant;
- **validation**: chosen on a *validation* run (``dfbench run --threshold-from RUN_DIR``) or
  stored with the weights (``config.json["threshold"]``, from source-val selection). This is the
  deployable number;
- **oracle**: the F1-optimal and the EER threshold chosen on the test set itself. They are upper
  bounds, labelled "oracle" wherever they are shown, never a result to quote as accuracy.

Everything here is a pure function of (labels, video logits) except the reader of a validation
run and the PNG writer. Scores are fake logits, labels 1 = fake; a video is called fake when its
logit is ``>= threshold`` (so logit 0 equals probability 0.5, as in :mod:`dfbench.metrics`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DfbenchError

ORACLE_LABEL = "oracle: chosen on this test set (an upper bound, not a deployable threshold)"
VALIDATION_RULES = ("f1", "eer")
CONFUSION_FILES = {"counts": "confusion_counts.png", "normalised": "confusion_normalised.png"}


class ThresholdError(DfbenchError, ValueError):
    """A validation threshold that cannot be used; the message names the run and the fix."""


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def at_threshold(labels: Sequence[int], scores: Sequence[float], threshold: float) -> dict[str, Any]:
    """Precision/recall/F1 of the fake class, accuracy, balanced accuracy and the confusion matrix
    (rows: true real, true fake; columns: predicted real, predicted fake) at logit ``threshold``."""
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    pred = s >= threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    tn = int(np.sum(~pred & (y == 0)))
    n = tp + fp + fn + tn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    tnr = tn / (tn + fp) if tn + fp else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold_logit": float(threshold),
        "threshold_prob": _sigmoid(float(threshold)) if math.isfinite(threshold) else float(threshold > 0),
        "precision": precision, "recall": recall, "f1": f1,
        "acc": (tp + tn) / n if n else float("nan"),
        "balanced_acc": (recall + tnr) / 2 if (tp + fn) and (tn + fp) else float("nan"),
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }


def oracle_thresholds(labels: Sequence[int], scores: Sequence[float]) -> dict[str, float]:
    """The test-optimal F1 threshold and the EER threshold (logits); empty with one class only."""
    from .metrics import _best_f1, _eer

    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if not ((y == 0).any() and (y == 1).any()):
        return {}
    return {"f1": _best_f1(y, s)[1], "eer": _eer(y, s)[1]}


def choose_threshold(labels: Sequence[int], scores: Sequence[float], rule: str = "f1") -> float:
    """The threshold a validation set selects: best F1 (``f1``) or equal error rate (``eer``)."""
    if rule not in VALIDATION_RULES:
        raise ThresholdError(f"unknown threshold rule {rule!r}; choose one of {', '.join(VALIDATION_RULES)}")
    found = oracle_thresholds(labels, scores)
    if not found:
        raise ThresholdError("a threshold needs real and fake videos in the validation run")
    return float(found[rule])


def threshold_report(labels: Sequence[int], scores: Sequence[float],
                     validation: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``thresholds`` block of a run's video metrics.

    ``validation`` is what :func:`validation_threshold` or :func:`weights_threshold` return (or
    None). Keys: ``fixed_0.5``, ``validation`` (when given), ``oracle_f1`` and ``oracle_eer``
    (when both classes are present), each with its ``label``.
    """
    out: dict[str, Any] = {"fixed_0.5": {**at_threshold(labels, scores, 0.0), "label": "fixed: probability 0.5"}}
    if validation:
        out["validation"] = {**at_threshold(labels, scores, float(validation["threshold_logit"])),
                             "label": f"chosen on validation ({validation.get('rule', '?')}): "
                                      f"{validation.get('source', '?')}",
                             "source": validation.get("source"), "rule": validation.get("rule")}
    for rule, thr in oracle_thresholds(labels, scores).items():
        out[f"oracle_{rule}"] = {**at_threshold(labels, scores, thr), "label": f"{ORACLE_LABEL} [{rule}]",
                                 "oracle": True}
    return out


def validation_threshold(run_dir: str | Path, rule: str = "f1") -> dict[str, Any]:
    """Choose a threshold on a finished *validation* run (its video scores, its own aggregation)."""
    from .metrics import aggregate_videos
    from .results import PREDICTIONS_FILE, RESULTS_FILE, load_predictions

    path = Path(run_dir)
    if not (path / RESULTS_FILE).is_file() or not (path / PREDICTIONS_FILE).is_file():
        raise ThresholdError(f"--threshold-from {path}: no finished run there (needs {RESULTS_FILE} and "
                             f"{PREDICTIONS_FILE}); pass the --output directory of a `dfbench run` on a validation split")
    import json

    res = json.loads((path / RESULTS_FILE).read_text())
    df = load_predictions(path)
    agg = (res.get("protocol") or {}).get("aggregation") or "mean_logit"
    _, y, s = aggregate_videos(df["video_key"], df["label"], df["logit"], agg)
    try:
        thr = choose_threshold(y, s, rule)
    except ThresholdError as e:
        raise ThresholdError(f"--threshold-from {path}: {e}") from None
    ds = res.get("dataset") or {}
    return {"threshold_logit": thr, "threshold_prob": _sigmoid(thr), "rule": rule,
            "source": f"validation run {ds.get('id')}/{ds.get('split')} (protocol {str(res.get('protocol_hash'))[:12]})",
            "dataset": ds.get("id"), "split": ds.get("split"), "protocol_hash": res.get("protocol_hash"),
            "detector": (res.get("detector") or {}).get("id"),
            "weights_sha256": (res.get("detector") or {}).get("weights_sha256")}


def weights_threshold(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A threshold stored with the weights (``config.json["threshold"]``: ``{"logit": x, "rule":
    ..., "selection": ...}`` or a bare logit), or None."""
    t = (config or {}).get("threshold")
    if t is None:
        return None
    if isinstance(t, (int, float)):
        t = {"logit": float(t)}
    if "logit" not in t and "prob" in t:
        p = float(t["prob"])
        t = {**t, "logit": math.log(p) - math.log1p(-p)}
    return {"threshold_logit": float(t["logit"]), "threshold_prob": _sigmoid(float(t["logit"])),
            "rule": t.get("rule", "stored with the weights"),
            "source": f"stored with the weights ({t.get('selection') or 'selection not stated'})"}


def check_validation_split(threshold: Mapping[str, Any] | None, dataset: str, split: str,
                           weights_sha256: str | None = None) -> None:
    """Refuse a threshold chosen on the very split being evaluated (that would be an oracle), or on
    other weights."""
    if not threshold or threshold.get("dataset") is None:
        return
    if threshold.get("dataset") == dataset and threshold.get("split") == split:
        raise ThresholdError(f"--threshold-from: that run is on {dataset}/{split}, the split being evaluated; a "
                             f"threshold chosen there is an oracle. Pass a run on a validation split")
    other = threshold.get("weights_sha256")
    if weights_sha256 and other and other != weights_sha256:
        raise ThresholdError(f"--threshold-from: that run used other weights ({other[:12]} vs {weights_sha256[:12]}); "
                             f"a threshold only transfers with the weights it was chosen for")


def threshold_lines(report: Mapping[str, Any] | None) -> list[str]:
    """Summary lines for ``dfbench run`` / ``results show``; the oracle rows say so."""
    if not report:
        return []
    lines = []
    for key, r in report.items():
        lines.append(f"  {key:<11} p>={r['threshold_prob']:.3f}  P {r['precision']:.3f}  R {r['recall']:.3f}  "
                     f"F1 {r['f1']:.3f}  ACC {r['acc']:.3f}  — {r['label']}")
    return ["thresholds (video level):", *lines]


def write_confusion_pngs(out_dir: str | Path, report: Mapping[str, Any]) -> dict[str, str]:
    """``confusion_counts.png`` and ``confusion_normalised.png`` (rows normalised by the true class),
    one panel per threshold of ``report``; the oracle panels are titled so. Returns file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    keys = list(report)
    written = {}
    for kind, name in CONFUSION_FILES.items():
        fig, axes = plt.subplots(1, len(keys), figsize=(3.3 * len(keys), 3.4), dpi=100, squeeze=False)
        for ax, key in zip(axes[0], keys, strict=True):
            cm = np.asarray(report[key]["confusion_matrix"], dtype=np.float64)
            if kind == "normalised":
                rows = cm.sum(axis=1, keepdims=True)
                cm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
            ax.imshow(cm, cmap="Blues", vmin=0, vmax=1 if kind == "normalised" else max(1.0, cm.max()))
            for (i, j), v in np.ndenumerate(cm):
                ax.text(j, i, f"{v:.2f}" if kind == "normalised" else f"{int(v)}", ha="center", va="center",
                        color="white" if v > (0.5 if kind == "normalised" else cm.max() / 2) else "black")
            ax.set_xticks([0, 1], ["real", "fake"])
            ax.set_yticks([0, 1], ["real", "fake"])
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            title = f"{key} (p>={report[key]['threshold_prob']:.2f})"
            ax.set_title(("ORACLE " if report[key].get("oracle") else "") + title, fontsize=8)
        fig.suptitle(f"Video-level confusion matrix ({kind})", fontsize=9)
        fig.tight_layout()
        tmp = out / f".{name}.tmp.png"
        fig.savefig(tmp)
        plt.close(fig)
        tmp.replace(out / name)
        written[kind] = name
    return written
