"""Issue 16: ``--precision auto`` is the fast path by default and keeps the demo numbers."""

from __future__ import annotations

import os
from importlib import resources

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

WEIGHTS = resources.files("dfbench_laanet") / "weights" / "demo"


@pytest.mark.acceptance
@pytest.mark.slow  # three demo evaluations (~2-3 min quiet, crops included)
@pytest.mark.skipif(not (WEIGHTS / "model.safetensors").is_file(), reason="demo weights not packaged")
def test_auto_default_keeps_the_demo_auc(tmp_path, monkeypatch):
    import pandas as pd

    from dfbench import backends
    from dfbench import precision as P
    from dfbench.results import summary_lines
    from dfbench.runner import evaluate

    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: True)  # the fast path whatever this CPU is
    monkeypatch.setattr(backends, "cpu_has_fast_bf16", lambda: True)
    kw = dict(split="test", progress=False, cache_dir=tmp_path / "crops")
    exact = evaluate("laanet_test.demo", "demo", output=tmp_path / "fp32", precision="fp32", backend="torch", **kw)
    assert (exact["protocol"]["precision"], exact["protocol"]["channels_last"]) == ("fp32", False)
    e = pd.read_parquet(tmp_path / "fp32" / "predictions.parquet")
    cols = ["video_key", "frame_index"]
    # torch's automatic choice, and the default (--backend auto: OpenVINO bf16 where installed)
    runs = {"torch": evaluate("laanet_test.demo", "demo", output=tmp_path / "torch", backend="torch", **kw),
            "default": evaluate("laanet_test.demo", "demo", output=tmp_path / "default", **kw)}
    expected = {"torch": ("torch", "bf16", True, "precision bf16 + channels_last (auto"),
                "default": ("openvino", "bf16", False, "precision openvino bf16 (auto")
                if backends.installed("openvino") else ("torch", "bf16", True, "precision bf16 + channels_last (auto")}
    for name, auto in runs.items():
        backend, precision, channels_last, summary = expected[name]
        assert (auto["protocol"]["precision"], auto["protocol"]["channels_last"]) == (precision, channels_last)
        assert (auto["env"]["backend"] or {}).get("name") == backend
        assert auto["protocol"]["precision_choice"] == {"mode": "auto", "tolerance": P.TOLERANCE,
                                                        "relative_tolerance": P.RELATIVE_TOLERANCE}  # trained
        choice = auto["env"]["precision_choice"]
        assert choice["max_abs_logit_dev"] <= P.TOLERANCE
        assert round(auto["metrics"]["video"]["auc"], 3) == round(exact["metrics"]["video"]["auc"], 3)
        # frame logits stay within the recorded tolerance of fp32
        a = pd.read_parquet(tmp_path / name / "predictions.parquet")
        m = a.merge(e, on=cols, suffixes=("_a", "_e"))
        assert len(m) == len(e) and np.abs(m["logit_a"] - m["logit_e"]).max() <= P.TOLERANCE
        assert any(line.startswith(summary) for line in summary_lines(auto)), name
