"""Issue 16: ``--precision auto`` is the fast path by default and keeps the demo numbers."""

from __future__ import annotations

import os
from importlib import resources

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

WEIGHTS = resources.files("dfbench_laanet") / "weights" / "demo"


@pytest.mark.acceptance
@pytest.mark.slow  # two demo evaluations (~2 min quiet, crops included)
@pytest.mark.skipif(not (WEIGHTS / "model.safetensors").is_file(), reason="demo weights not packaged")
def test_auto_default_keeps_the_demo_auc(tmp_path, monkeypatch):
    import pandas as pd

    from dfbench import precision as P
    from dfbench.results import summary_lines
    from dfbench.runner import evaluate

    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: True)  # the fast path whatever this CPU is
    kw = dict(split="test", progress=False, cache_dir=tmp_path / "crops")
    exact = evaluate("laanet_test.demo", "demo", output=tmp_path / "fp32", precision="fp32", **kw)
    auto = evaluate("laanet_test.demo", "demo", output=tmp_path / "auto", **kw)
    assert (exact["protocol"]["precision"], exact["protocol"]["channels_last"]) == ("fp32", False)
    assert (auto["protocol"]["precision"], auto["protocol"]["channels_last"]) == ("bf16", True)
    assert auto["protocol"]["precision_choice"] == {"mode": "auto", "tolerance": P.TOLERANCE}
    choice = auto["env"]["precision_choice"]
    assert choice["max_abs_logit_dev"] <= P.TOLERANCE
    assert round(auto["metrics"]["video"]["auc"], 3) == round(exact["metrics"]["video"]["auc"], 3)
    # frame logits stay within the recorded tolerance of fp32
    a = pd.read_parquet(tmp_path / "auto" / "predictions.parquet")
    e = pd.read_parquet(tmp_path / "fp32" / "predictions.parquet")
    cols = ["video_key", "frame_index"]
    m = a.merge(e, on=cols, suffixes=("_a", "_e"))
    assert len(m) == len(e) and np.abs(m["logit_a"] - m["logit_e"]).max() <= P.TOLERANCE
    assert any(line.startswith("precision bf16 + channels_last (auto") for line in summary_lines(auto))
