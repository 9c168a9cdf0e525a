"""Metrics agree with scikit-learn and aggregate by globally unique video keys."""

import numpy as np
import pytest
from sklearn import metrics as skm

from dfbench.metrics import (
    aggregate_videos,
    frame_metrics,
    paired_bootstrap_auc,
    sigmoid,
    video_metrics,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frame_metrics_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 500)
    s = rng.normal(size=500) + y * 0.8
    m = frame_metrics(y, s, bootstrap=0)
    assert abs(m["auc"] - skm.roc_auc_score(y, s)) < 1e-9
    assert abs(m["ap"] - skm.average_precision_score(y, s)) < 1e-9
    assert abs(m["acc"] - skm.accuracy_score(y, sigmoid(s) >= 0.5)) < 1e-9
    p, r, _, _ = skm.precision_recall_fscore_support(y, sigmoid(s) >= 0.5, labels=[0, 1], zero_division=0)
    assert abs(m["recall_fake"] - r[1]) < 1e-9 and abs(m["precision_real"] - p[0]) < 1e-9
    assert m["confusion_matrix"] == skm.confusion_matrix(y, sigmoid(s) >= 0.5, labels=[0, 1]).tolist()
    assert m["n_real"] + m["n_fake"] == 500


def test_eer_is_interpolated_where_fpr_meets_fnr():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    s = rng.normal(size=300) + y
    m = frame_metrics(y, s, bootstrap=0)
    fpr, tpr, _ = skm.roc_curve(y, s)
    fnr = 1 - tpr
    # brute force on a dense grid of the piecewise-linear curves
    grid = np.linspace(0, 1, 200001)
    f = np.interp(grid, np.arange(len(fpr)) / (len(fpr) - 1), fpr)
    g = np.interp(grid, np.arange(len(fpr)) / (len(fpr) - 1), fnr)
    k = np.argmin(np.abs(f - g))
    assert abs(m["eer"] - f[k]) < 1e-3


def test_perfect_and_constant_scores():
    y = np.array([0, 0, 1, 1])
    assert frame_metrics(y, np.array([-2.0, -1, 1, 2]), bootstrap=0)["auc"] == 1.0
    m = frame_metrics(y, np.zeros(4), bootstrap=0)
    assert m["auc"] == 0.5 and m["eer"] == pytest.approx(0.5)


@pytest.mark.parametrize("rule", ["mean_logit", "mean_prob", "max"])
def test_video_aggregation_rules(rule):
    keys = ["a", "a", "b", "b", "c"]
    labels = [0, 0, 1, 1, 1]
    logits = np.array([-1.0, 3.0, 0.5, 1.5, -0.2])
    k, vl, vs = aggregate_videos(keys, labels, logits, rule)
    assert k == ["a", "b", "c"] and vl.tolist() == [0, 1, 1]
    expect = {"mean_logit": [1.0, 1.0, -0.2], "max": [3.0, 1.5, -0.2],
              "mean_prob": [np.log(p / (1 - p)) for p in [sigmoid(np.array([-1.0, 3.0])).mean(),
                                                            sigmoid(np.array([0.5, 1.5])).mean(), sigmoid(np.array([-0.2]))[0]]]}
    assert np.allclose(vs, expect[rule])


def test_video_metrics_equal_sklearn_on_aggregates_and_ci_is_seeded():
    rng = np.random.default_rng(5)
    keys = np.repeat([f"v{i}" for i in range(60)], 8)
    vlabels = rng.integers(0, 2, 60)
    labels = np.repeat(vlabels, 8)
    s = rng.normal(size=480) + labels
    m = video_metrics(keys, labels, s, rule="mean_logit", seed=7)
    vs = s.reshape(60, 8).mean(1)
    assert abs(m["auc"] - skm.roc_auc_score(vlabels, vs)) < 1e-9
    assert abs(m["ap"] - skm.average_precision_score(vlabels, vs)) < 1e-9
    lo, hi = m["auc_ci95"]
    assert lo <= m["auc"] <= hi
    assert video_metrics(keys, labels, s, seed=7)["auc_ci95"] == m["auc_ci95"]


def test_ffpp_style_keys_are_never_merged():
    """140 real + 4 methods x 140 fakes sharing pair names stay 700 videos."""
    reals = [f"ffpp_c23/real/youtube/{i:03d}" for i in range(140)]
    fakes = [f"ffpp_c23/fake/{m}/{i:03d}_{i + 1:03d}" for m in ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")
             for i in range(140)]
    keys = np.repeat(reals + fakes, 2)
    labels = np.repeat([0] * 140 + [1] * 560, 2)
    m = video_metrics(keys, labels, np.random.default_rng(0).normal(size=len(keys)), bootstrap=0)
    assert (m["n_real"], m["n_fake"]) == (140, 560)


def test_conflicting_labels_in_one_video_are_refused():
    with pytest.raises(ValueError, match="different labels"):
        aggregate_videos(["a", "a"], [0, 1], [0.1, 0.2])


def test_paired_bootstrap_detects_a_real_gap():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    good = rng.normal(size=400) + 2 * y
    bad = rng.normal(size=400) + 0.2 * y
    res = paired_bootstrap_auc(y, good, bad, n=300)
    assert res["auc_diff"] > 0.3 and res["ci95"][0] > 0 and res["p_value"] < 0.01
    same = paired_bootstrap_auc(y, good, good, n=100)
    assert same["auc_diff"] == 0 and same["p_value"] == 1.0


def test_vectorised_bootstrap_statistics_equal_sklearn_with_ties():
    from dfbench.metrics import _ap_rows, _auc_rows

    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, (20, 60))
    y[:, 0], y[:, 1] = 0, 1
    s = rng.integers(0, 6, (20, 60)).astype(float)  # heavy ties
    auc, ap = _auc_rows(y, s), _ap_rows(y, s)
    for i in range(20):
        assert abs(auc[i] - skm.roc_auc_score(y[i], s[i])) < 1e-12
        assert abs(ap[i] - skm.average_precision_score(y[i], s[i])) < 1e-12
