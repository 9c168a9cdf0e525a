"""LAA-Net under ``--backend onnxruntime``: the exported fast path (folded BatchNorm, cls head only)
gives the torch logits under the flip-test protocol."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import copy  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pytest.importorskip("onnxruntime")


def test_laanet_onnxruntime_matches_torch_with_flip(tmp_path, monkeypatch):
    from dfbench import backends
    from dfbench.build import build_detector
    from dfbench.pipeline import ModelStage
    from dfbench.precision import calibration_units

    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path))
    det = build_detector("laanet_test.demo")
    units = calibration_units(det, 6)
    ref = ModelStage(copy.deepcopy(det), flip_test=True, batch_size=4).logits(units)
    stage = ModelStage(det, flip_test=True, batch_size=4)
    info = backends.attach(stage, "onnxruntime")
    np.testing.assert_allclose(stage.logits(units), ref, atol=1e-4)
    assert info["max_abs_logit_dev_vs_torch"] <= backends.MAX_DEVIATION
