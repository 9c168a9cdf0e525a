"""Frame- and video-level metrics with bootstrap confidence intervals.

Labels are 1 = fake. Scores are fake *logits* (any monotone score works for AUC/AP/EER; ``acc``
thresholds the sigmoid probability at 0.5). Values equal scikit-learn's on the same inputs; the
bootstrap resamples *videos*, or whole identity clusters when the dataset defines them (see
:mod:`dfbench.clusters`), seeded, so a CI is reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn import metrics as skm

from .specs import AGGREGATIONS

N_BOOTSTRAP = 1000


def sigmoid(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    # Split by sign so large |x| never overflows exp.
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def logit(p: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def _eer(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Equal error rate, interpolated linearly where FPR and FNR cross on the ROC curve."""
    fpr, tpr, thr = skm.roc_curve(labels, scores)
    fnr = 1.0 - tpr
    diff = fpr - fnr  # increasing along the curve: from -1 (fpr 0, fnr 1) to +1
    i = int(np.searchsorted(diff, 0.0))
    if i == 0:
        return float(fpr[0]), float(thr[0])
    if i >= len(diff):
        return float(fpr[-1]), float(thr[-1])
    d0, d1 = diff[i - 1], diff[i]
    t = 0.0 if d1 == d0 else -d0 / (d1 - d0)
    eer = fpr[i - 1] + t * (fpr[i] - fpr[i - 1])
    t_thr = thr[i - 1] if not np.isfinite(thr[i - 1]) else thr[i - 1] + t * (thr[i] - thr[i - 1])
    return float(eer), float(t_thr)


def _best_f1(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    prec, rec, thr = skm.precision_recall_curve(labels, scores)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    j = int(np.argmax(f1[:-1])) if len(thr) else 0
    return float(f1[j]), float(thr[j]) if len(thr) else float("nan")


def _auc_rows(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """ROC AUC of every row at once (Mann-Whitney with average ranks for ties); equals sklearn's."""
    from scipy.stats import rankdata

    ranks = rankdata(s, axis=1)
    n1 = y.sum(axis=1)
    n0 = y.shape[1] - n1
    return ((ranks * y).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def _ap_rows(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Average precision of every row at once, with sklearn's tie handling (one threshold per tie group)."""
    order = np.argsort(-s, axis=1, kind="stable")
    ss = np.take_along_axis(s, order, axis=1)
    yy = np.take_along_axis(y, order, axis=1)
    n = s.shape[1]
    tp = np.cumsum(yy, axis=1)
    # Each position is scored at the last index of its tie group: a threshold admits all ties.
    is_last = np.ones_like(ss, dtype=bool)
    is_last[:, :-1] = ss[:, 1:] != ss[:, :-1]
    end = np.where(is_last, np.arange(n)[None, :], n)
    end = np.minimum.accumulate(end[:, ::-1], axis=1)[:, ::-1]
    prec_at_end = np.take_along_axis(tp, end, axis=1) / (end + 1)
    return (yy * prec_at_end).sum(axis=1) / yy.sum(axis=1)


def _bootstrap(labels: np.ndarray, scores: np.ndarray, n: int, seed: int) -> dict[str, list[float]]:
    rng = np.random.default_rng(seed)
    real, fake = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    # Stratified resampling keeps both classes present in every replicate; vectorised over
    # replicates in chunks so a 5,000-video CI costs a fraction of a second and bounded memory.
    aucs, aps = [], []
    chunk = max(1, 2_000_000 // max(1, len(labels)))
    for start in range(0, n, chunk):
        b = min(chunk, n - start)
        idx = np.concatenate([rng.choice(real, (b, len(real))), rng.choice(fake, (b, len(fake)))], axis=1)
        y, s = labels[idx], scores[idx]
        aucs.append(_auc_rows(y, s))
        aps.append(_ap_rows(y, s))
    aucs, aps = np.concatenate(aucs), np.concatenate(aps)
    q = lambda a: [float(np.percentile(a, 2.5)), float(np.percentile(a, 97.5))]  # noqa: E731
    return {"auc_ci95": q(aucs), "ap_ci95": q(aps)}


def _weighted_auc_ap(y: np.ndarray, s: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUC and AP of every row of integer weights ``w`` [B, N] at once: equal to the unweighted
    metrics on each row's sample with item i repeated w[b, i] times (sklearn's tie handling), so a
    cluster bootstrap is a multinomial draw of cluster counts. Rows with one class give NaN."""
    order = np.argsort(s, kind="stable")
    ss, yy, wo = s[order], y[order], w[:, order].astype(np.float64)
    starts = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])  # tie groups, ascending score
    real = np.add.reduceat(wo * (yy == 0), starts, axis=1)
    fake = np.add.reduceat(wo * (yy == 1), starts, axis=1)
    n0, n1 = real.sum(axis=1), fake.sum(axis=1)
    below = np.cumsum(real, axis=1) - real
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (fake * (below + 0.5 * real)).sum(axis=1) / (n0 * n1)
        fd, rd = fake[:, ::-1], real[:, ::-1]  # descending: each group admitted at once
        tp, seen = np.cumsum(fd, axis=1), np.cumsum(fd + rd, axis=1)
        prec = np.divide(tp, seen, out=np.zeros_like(tp), where=seen > 0)
        ap = (fd * prec).sum(axis=1) / n1
    bad = (n0 == 0) | (n1 == 0)
    auc[bad] = ap[bad] = np.nan
    return auc, ap


def _cluster_index(clusters: Sequence[Any]) -> tuple[np.ndarray, int]:
    uniq: dict[Any, int] = {}
    idx = np.fromiter((uniq.setdefault(c, len(uniq)) for c in clusters), dtype=np.int64, count=len(clusters))
    return idx, len(uniq)


def _cluster_weights(rng: np.random.Generator, idx: np.ndarray, k: int, b: int) -> np.ndarray:
    """[b, N] weights: how often each item's cluster was drawn in each of b resamples of k clusters."""
    counts = rng.multinomial(k, np.full(k, 1.0 / k), size=b)
    return counts[:, idx]


def _cluster_bootstrap(labels: np.ndarray, scores: np.ndarray, clusters: Sequence[Any], n: int,
                       seed: int) -> dict[str, Any]:
    """CIs resampling whole clusters (identities) with replacement, not videos."""
    rng = np.random.default_rng(seed)
    idx, k = _cluster_index(clusters)
    aucs, aps = [], []
    chunk = max(1, 2_000_000 // max(1, len(labels)))
    for start in range(0, n, chunk):
        w = _cluster_weights(rng, idx, k, min(chunk, n - start))
        a, p = _weighted_auc_ap(labels, scores, w)
        aucs.append(a)
        aps.append(p)
    aucs, aps = np.concatenate(aucs), np.concatenate(aps)
    valid = int(np.isfinite(aucs).sum())
    q = lambda a: ([float(np.nanpercentile(a, 2.5)), float(np.nanpercentile(a, 97.5))]  # noqa: E731
                   if valid else [float("nan"), float("nan")])
    return {"auc_ci95": q(aucs), "ap_ci95": q(aps),
            "bootstrap": {"unit": "cluster", "n_clusters": k, "resamples": n, "resamples_with_both_classes": valid}}


def binary_metrics(labels: Sequence[int], scores: Sequence[float], *, bootstrap: int = N_BOOTSTRAP,
                   seed: int = 0, scores_are_logits: bool = True,
                   clusters: Sequence[Any] | None = None) -> dict[str, Any]:
    """All metrics for one set of (label, score) pairs. ``scores`` are logits unless told otherwise.

    ``clusters`` (one id per item, e.g. an identity cluster from :mod:`dfbench.clusters`) makes the
    bootstrap resample clusters instead of items; ``bootstrap`` in the output says which.
    """
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D and equal length, got {y.shape} and {s.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or inf")
    n_real, n_fake = int((y == 0).sum()), int((y == 1).sum())
    prob = sigmoid(s) if scores_are_logits else s
    pred = (prob >= 0.5).astype(np.int64)
    cm = skm.confusion_matrix(y, pred, labels=[0, 1])
    out: dict[str, Any] = {"n": int(len(y)), "n_real": n_real, "n_fake": n_fake}
    out["acc"] = float(skm.accuracy_score(y, pred)) if len(y) else float("nan")
    # Per-class precision/recall from masks, never from positions (DeepfakeBench's get_respect_acc bug).
    p, r, _, _ = skm.precision_recall_fscore_support(y, pred, labels=[0, 1], zero_division=0)
    out["precision_real"], out["precision_fake"] = float(p[0]), float(p[1])
    out["recall_real"], out["recall_fake"] = float(r[0]), float(r[1])
    out["confusion_matrix"] = cm.tolist()
    if n_real and n_fake:
        out["auc"] = float(skm.roc_auc_score(y, s))
        out["ap"] = float(skm.average_precision_score(y, s))
        out["eer"], out["eer_threshold"] = _eer(y, s)
        out["f1_best"], out["f1_best_threshold"] = _best_f1(y, s)
        if bootstrap and clusters is not None:
            if len(clusters) != len(y):
                raise ValueError(f"clusters must have one id per item: {len(clusters)} for {len(y)}")
            out.update(_cluster_bootstrap(y, s, clusters, bootstrap, seed))
        elif bootstrap:
            out.update(_bootstrap(y, s, bootstrap, seed))
            out["bootstrap"] = {"unit": "item", "resamples": bootstrap}
    else:
        # AUC is undefined with one class; say so with NaN rather than a misleading number.
        for k in ("auc", "ap", "eer", "eer_threshold", "f1_best", "f1_best_threshold"):
            out[k] = float("nan")
        out["auc_ci95"] = out["ap_ci95"] = [float("nan"), float("nan")]
    return out


def frame_metrics(labels: Sequence[int], scores: Sequence[float], **kw: Any) -> dict[str, Any]:
    """Metrics over individual frames (or clips). ``scores`` are fake logits.

    The bootstrap here resamples frames; use :func:`video_metrics` for CIs over videos.
    """
    return binary_metrics(labels, scores, **kw)


def aggregate_videos(video_keys: Sequence[str], labels: Sequence[int], scores: Sequence[float],
                     rule: str = "mean_logit") -> tuple[list[str], np.ndarray, np.ndarray]:
    """Group frame logits by globally unique video key; return (keys, labels, video logits).

    Rules: ``mean_logit`` (LAA-Net, LipForensics), ``mean_prob`` (DeepfakeBench; returned as the
    logit of the mean probability so that every rule yields logits), ``max``.
    """
    if rule not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation rule {rule!r}; choose one of {', '.join(AGGREGATIONS)}")
    keys = np.asarray(video_keys, dtype=object)
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    order: dict[str, int] = {}
    for k in keys:
        order.setdefault(k, len(order))
    inv = np.fromiter((order[k] for k in keys), dtype=np.int64, count=len(keys))
    n = len(order)
    counts = np.bincount(inv, minlength=n)
    vlab = np.full(n, -1, dtype=np.int64)
    vlab[inv] = y
    # A video whose frames disagree on the label is a dataset bug; refuse rather than guess.
    if not (np.bincount(inv, weights=y, minlength=n) == vlab * counts).all():
        raise ValueError("frames of one video carry different labels; video keys must be unique per video")
    if rule == "mean_logit":
        vs = np.bincount(inv, weights=s, minlength=n) / counts
    elif rule == "mean_prob":
        vs = logit(np.bincount(inv, weights=sigmoid(s), minlength=n) / counts)
    else:
        vs = np.full(n, -np.inf)
        np.maximum.at(vs, inv, s)
    return list(order), vlab, vs


def video_metrics(video_keys: Sequence[str], labels: Sequence[int], scores: Sequence[float],
                  rule: str = "mean_logit", clusters: Mapping[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    """Metrics over videos after aggregating frame logits with ``rule``. CIs bootstrap videos, or
    the clusters of ``clusters`` (video key -> cluster id) when given."""
    keys, vlab, vs = aggregate_videos(video_keys, labels, scores, rule)
    per_video = [clusters.get(k, f"\0{k}") for k in keys] if clusters is not None else None
    out = binary_metrics(vlab, vs, clusters=per_video, **kw)
    out["rule"] = rule
    return out


def roc_points(labels: Sequence[int], scores: Sequence[float], max_points: int = 200) -> dict[str, list[float]]:
    """A thinned ROC curve for plots and the HTML leaderboard."""
    fpr, tpr, _ = skm.roc_curve(np.asarray(labels), np.asarray(scores, dtype=np.float64))
    if len(fpr) > max_points:
        idx = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr = fpr[idx], tpr[idx]
    return {"fpr": [round(float(v), 5) for v in fpr], "tpr": [round(float(v), 5) for v in tpr]}


def paired_bootstrap_auc(labels: Sequence[int], scores_a: Sequence[float], scores_b: Sequence[float],
                         n: int = 2000, seed: int = 0, clusters: Sequence[Any] | None = None) -> dict[str, Any]:
    """Paired bootstrap of AUC(a) − AUC(b) over the same videos: difference, 95 % CI, two-sided p.

    With ``clusters`` (one id per video) whole clusters are resampled, as for the run's own CIs.
    """
    y = np.asarray(labels, dtype=np.int64)
    a, b = np.asarray(scores_a, float), np.asarray(scores_b, float)
    diff = skm.roc_auc_score(y, a) - skm.roc_auc_score(y, b)
    rng = np.random.default_rng(seed)
    unit: dict[str, Any] = {"unit": "video"}
    if clusters is not None:
        idx_c, k = _cluster_index(clusters)
        w = _cluster_weights(rng, idx_c, k, n)
        ds = _weighted_auc_ap(y, a, w)[0] - _weighted_auc_ap(y, b, w)[0]
        ds = ds[np.isfinite(ds)]
        unit = {"unit": "cluster", "n_clusters": k}
    else:
        real, fake = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
        idx = np.concatenate([rng.choice(real, (n, len(real))), rng.choice(fake, (n, len(fake)))], axis=1)
        ds = _auc_rows(y[idx], a[idx]) - _auc_rows(y[idx], b[idx])
    # Two-sided p: how often the resampled difference falls on the other side of zero.
    p = 2 * min((ds <= 0).mean(), (ds >= 0).mean())
    return {"auc_diff": float(diff), "ci95": [float(np.percentile(ds, 2.5)), float(np.percentile(ds, 97.5))],
            "p_value": float(min(1.0, p)), "n_bootstrap": n, "bootstrap_unit": unit}
