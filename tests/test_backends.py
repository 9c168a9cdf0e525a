"""``--backend onnxruntime``: exported detector, logits checked against torch, cached export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfbench import backends
from dfbench.detector import Detector
from dfbench.errors import DfbenchError
from dfbench.pipeline import ModelStage
from dfbench.specs import InputSpec

pytest.importorskip("onnxruntime")


def _conv_detector() -> Detector:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 1))
    return Detector(net, InputSpec(unit="frame", size=32, cropper="dlib_align", frames_per_video=4)).eval()


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("flip", [False, True])
def test_onnxruntime_logits_match_torch(flip):
    det = _conv_detector()
    units = np.random.default_rng(0).integers(0, 256, (5, 3, 32, 32), dtype=np.uint8)
    ref = ModelStage(_conv_detector(), flip_test=flip, batch_size=2).logits(units)
    stage = ModelStage(det, flip_test=flip, batch_size=2)
    info = backends.attach(stage, "onnxruntime")
    assert isinstance(stage.model, backends.OnnxRuntimeModel)
    got = stage.logits(units)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert info["name"] == "onnxruntime" and info["max_abs_logit_dev_vs_torch"] <= backends.MAX_DEVIATION
    assert info["cached_export"] is False
    again = backends.attach(ModelStage(_conv_detector()), "onnxruntime")
    assert again["cached_export"] is True and again["onnx"] == info["onnx"]


def test_backend_precision_rules():
    assert backends.precision_for("torch", "auto", "auto") == ("auto", "auto")
    assert backends.precision_for("onnxruntime", "auto", "auto") == ("fp32", False)
    with pytest.raises(DfbenchError, match="--precision bf16"):
        backends.precision_for("onnxruntime", "bf16", "auto")
    with pytest.raises(DfbenchError, match="--backend must be one of"):
        backends.check_backend("openvino")


def test_a_backend_that_disagrees_with_torch_is_refused(monkeypatch):
    stage = ModelStage(_conv_detector())
    real = backends.OnnxRuntimeModel.__call__
    monkeypatch.setattr(backends.OnnxRuntimeModel, "__call__", lambda self, x: real(self, x) + 1.0)
    with pytest.raises(DfbenchError, match="differ from torch"):
        backends.attach(stage, "onnxruntime")
    assert not isinstance(stage.model, backends.OnnxRuntimeModel)


def test_cli_run_has_the_backend_switch():
    from dfbench.cli import run

    opt = {p.name: p for p in run.params}["backend"]
    assert opt.default == "torch" and list(opt.type.choices) == ["torch", "onnxruntime"]
