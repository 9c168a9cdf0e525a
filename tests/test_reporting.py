"""Thresholds from validation, labelled oracle thresholds, confusion-matrix PNGs (issue 12, item 5)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from sklearn import metrics as skm

from dfbench.reporting import (
    ORACLE_LABEL,
    ThresholdError,
    at_threshold,
    check_validation_split,
    choose_threshold,
    threshold_lines,
    threshold_report,
    weights_threshold,
    write_confusion_pngs,
)
from dfbench.testing import build_synthetic_dataset

TESTING = "dfbench.testing:TESTING_PLUGIN"


def _data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, rng.normal(size=n) + 1.2 * y - 0.4


@pytest.mark.parametrize("thr", [-0.7, 0.0, 0.35, 1.5])
def test_at_threshold_equals_sklearn(thr):
    y, s = _data()
    r = at_threshold(y, s, thr)
    pred = s >= thr
    assert r["precision"] == pytest.approx(skm.precision_score(y, pred, zero_division=0))
    assert r["recall"] == pytest.approx(skm.recall_score(y, pred))
    assert r["f1"] == pytest.approx(skm.f1_score(y, pred))
    assert r["acc"] == pytest.approx(skm.accuracy_score(y, pred))
    assert r["balanced_acc"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert r["confusion_matrix"] == skm.confusion_matrix(y, pred, labels=[0, 1]).tolist()
    assert r["threshold_prob"] == pytest.approx(1 / (1 + np.exp(-thr)))


def test_f1_threshold_is_the_best_over_every_cut():
    y, s = _data(1)
    thr = choose_threshold(y, s, "f1")
    best = max(skm.f1_score(y, s >= c) for c in np.unique(s))
    assert skm.f1_score(y, s >= thr) == pytest.approx(best)
    eer_thr = choose_threshold(y, s, "eer")
    r = at_threshold(y, s, eer_thr)
    fpr = r["confusion_matrix"][0][1] / (y == 0).sum()
    assert abs(fpr - (1 - r["recall"])) < 0.03  # FPR ≈ FNR at the EER threshold
    with pytest.raises(ThresholdError, match="unknown threshold rule"):
        choose_threshold(y, s, "youden")
    with pytest.raises(ThresholdError, match="real and fake"):
        choose_threshold(np.ones(5, int), np.arange(5.0))


def test_report_labels_oracle_thresholds_and_keeps_acc_at_half():
    from dfbench.metrics import binary_metrics

    y, s = _data(2)
    val = {"threshold_logit": 0.3, "rule": "f1", "source": "validation run x/val"}
    rep = threshold_report(y, s, val)
    assert set(rep) == {"fixed_0.5", "validation", "oracle_f1", "oracle_eer"}
    assert rep["fixed_0.5"]["acc"] == pytest.approx(binary_metrics(y, s, bootstrap=0)["acc"])
    assert rep["validation"]["threshold_logit"] == 0.3 and "validation" in rep["validation"]["label"]
    for k in ("oracle_f1", "oracle_eer"):
        assert rep[k]["oracle"] is True and rep[k]["label"].startswith(ORACLE_LABEL)
    assert "oracle" not in rep["fixed_0.5"]["label"] and "oracle" not in rep["validation"]["label"]
    lines = threshold_lines(rep)
    assert sum("oracle" in line for line in lines) == 2
    assert set(threshold_report(np.zeros(4, int), np.arange(4.0))) == {"fixed_0.5"}  # one class: no oracle


def test_threshold_stored_with_weights_and_split_checks():
    assert weights_threshold({}) is None
    t = weights_threshold({"threshold": {"prob": 0.5, "rule": "f1", "selection": "ffpp val"}})
    assert t["threshold_logit"] == pytest.approx(0.0) and "ffpp val" in t["source"]
    assert weights_threshold({"threshold": 1.25})["threshold_logit"] == 1.25
    same = {"threshold_logit": 0.1, "dataset": "cdf", "split": "test", "weights_sha256": "a" * 64}
    with pytest.raises(ThresholdError, match="is an oracle"):
        check_validation_split(same, "cdf", "test")
    check_validation_split({**same, "split": "val"}, "cdf", "test", "a" * 64)
    with pytest.raises(ThresholdError, match="other weights"):
        check_validation_split({**same, "split": "val"}, "cdf", "test", "b" * 64)


def test_confusion_pngs_counts_and_normalised(tmp_path):
    y, s = _data(3)
    names = write_confusion_pngs(tmp_path, threshold_report(y, s))
    assert names == {"counts": "confusion_counts.png", "normalised": "confusion_normalised.png"}
    for n in names.values():
        data = (tmp_path / n).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    assert not list(tmp_path.glob(".*"))


def test_run_reports_thresholds_and_uses_a_validation_run(tmp_path, monkeypatch):
    from dfbench.registry import get_registry
    from dfbench.runner import evaluate

    monkeypatch.setenv("DFBENCH_EXTRA_PLUGINS", TESTING)
    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path / "cache"))
    reg = get_registry(refresh=True)
    try:
        data = build_synthetic_dataset(tmp_path / "data", n_real=3, n_fake=3, n_frames=4)
        res = evaluate("oracle", "synthetic", data_root=data, output=tmp_path / "test", progress=False, registry=reg)
        th = res["metrics"]["video"]["thresholds"]
        assert th["oracle_f1"]["oracle"] and res["plots"]["counts"] == "confusion_counts.png"
        assert (tmp_path / "test" / "confusion_normalised.png").is_file()
        assert "threshold" not in res["protocol"]  # no threshold given: protocol (and hash) unchanged
        # The same split as a "validation" run is refused: that threshold would be an oracle.
        with pytest.raises(ThresholdError, match="is an oracle"):
            evaluate("oracle", "synthetic", data_root=data, output=tmp_path / "bad", progress=False, registry=reg,
                     threshold_from=tmp_path / "test")
        val = tmp_path / "val"
        shutil.copytree(tmp_path / "test", val)
        doc = json.loads((val / "results.json").read_text())
        doc["dataset"]["split"] = "val"
        (val / "results.json").write_text(json.dumps(doc))
        res2 = evaluate("oracle", "synthetic", data_root=data, output=tmp_path / "t2", progress=False, registry=reg,
                        threshold_from=val)
        assert res2["protocol"]["threshold"]["source"].startswith("validation run synthetic/val")
        assert res2["protocol_hash"] != res["protocol_hash"]
        v = res2["metrics"]["video"]["thresholds"]["validation"]
        assert v["f1"] == pytest.approx(1.0) and v["rule"] == "f1"
        from dfbench.results import summary_lines

        text = "\n".join(summary_lines(res2))
        assert "chosen on validation" in text and "oracle: chosen on this test set" in text
    finally:
        monkeypatch.undo()
        get_registry(refresh=True)
