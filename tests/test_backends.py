"""``--backend auto|torch|openvino|onnxruntime``: exported detector, logits checked against torch, cached
export, and the automatic choice of runtime."""

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
    assert backends.precision_for("openvino", "auto", "auto") == ("auto", False)
    assert backends.precision_for("openvino", "fp32", "on") == ("fp32", False)
    with pytest.raises(DfbenchError, match="--precision fp16"):
        backends.precision_for("openvino", "fp16", "auto")
    with pytest.raises(DfbenchError, match="--backend must be one of"):
        backends.check_backend("tensorrt")


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
    assert opt.default == "auto" and list(opt.type.choices) == ["auto", "torch", "openvino", "onnxruntime"]


# -- OpenVINO and the automatic choice ------------------------------------------------------------


class _FFTDetector(Detector):
    """A detector ONNX cannot export (an FFT layer, as in SPSL / RECCE-GF)."""

    def logits(self, x):
        x = torch.fft.fft2(x).abs().log1p()
        return self.net(x)[:, 0]


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_openvino_logits_match_torch(flip, precision):
    pytest.importorskip("openvino")
    units = np.random.default_rng(0).integers(0, 256, (5, 3, 32, 32), dtype=np.uint8)
    ref = ModelStage(_conv_detector(), flip_test=flip, batch_size=2).logits(units)
    stage = ModelStage(_conv_detector(), flip_test=flip, batch_size=2)
    info = backends.attach(stage, "openvino", precision=precision)
    assert isinstance(stage.model, backends.OpenVinoModel) and stage.model.precision == precision
    got = stage.logits(units)
    np.testing.assert_allclose(got, ref, atol=1e-5 if precision == "fp32" else 0.05)
    assert info["name"] == "openvino" and info["precision"] == precision
    assert info["max_abs_logit_dev_vs_torch"] <= info["tolerance"]
    assert info["tolerance"] == (backends.MAX_DEVIATION if precision == "fp32" else 0.1)


def test_auto_backend_on_a_cpu_takes_openvino_first(monkeypatch):
    pytest.importorskip("openvino")
    from dfbench import precision as P

    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: True)
    order = P.execution_candidates("cpu", "frame", "auto")
    assert order[:2] == [("openvino", "bf16", False), ("openvino", "fp32", False)]
    assert order[2:] == [("torch", p, cl) for p, cl in P.candidates("cpu", "frame")]
    c = P.choose(_conv_detector(), "conv", "cpu", backend="auto")
    assert (c.backend, c.precision, c.channels_last) == ("openvino", "bf16", False)
    assert c.describe().startswith("openvino bf16 (auto on cpu")
    # Without native bf16, OpenVINO fp32 (no bf16 emulation); explicit precision keeps torch.
    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: False)
    assert P.execution_candidates("cpu", "frame", "auto")[0] == ("openvino", "fp32", False)
    assert P.choose(_conv_detector(), "conv", "cpu", "fp32", backend="auto").backend == "torch"
    assert P.choose(_conv_detector(), "conv", "cpu", channels_last=True, backend="auto").backend == "torch"


def test_auto_backend_without_openvino_is_torch(monkeypatch):
    from dfbench import precision as P

    monkeypatch.setattr(backends, "installed", lambda b: b != "openvino")
    assert {b for b, _, _ in P.execution_candidates("cpu", "frame", "auto")} == {"torch"}
    with pytest.raises(backends.BackendUnavailable, match="pip install openvino"):
        backends.check_backend("openvino")


def test_an_unexportable_detector_falls_back_to_torch_and_says_why(monkeypatch):
    pytest.importorskip("openvino")
    from dfbench import precision as P

    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: False)
    det = _FFTDetector(_conv_detector().net, _conv_detector().input_spec).eval()
    c = P.choose(det, "fft", "cpu", backend="auto")
    assert c.backend == "torch" and c.precision == "fp32"
    assert c.candidates[0]["backend"] == "openvino" and "cannot be exported to ONNX" in c.candidates[0]["error"]
    with pytest.raises(backends.BackendUnavailable, match="cannot be exported"):
        backends.attach(ModelStage(det), "openvino")


def test_an_exported_fp32_model_must_match_torch_closely(monkeypatch):
    """A tolerance meant for bf16 does not let a wrong fp32 export through."""
    pytest.importorskip("openvino")
    from dfbench import precision as P

    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: False)
    real = backends.OpenVinoModel.__call__
    monkeypatch.setattr(backends.OpenVinoModel, "__call__", lambda self, x: real(self, x) + 0.01)
    c = P.choose(_conv_detector(), "conv", "cpu", backend="auto")
    assert c.backend == "torch"
    assert c.candidates[0]["within_tolerance"] is False and c.candidates[0]["max_abs_logit_dev"] >= 0.01


def test_run_with_auto_backend_records_what_ran(tmp_path, monkeypatch):
    """The default run on a CPU with OpenVINO: the protocol and the summary name the runtime."""
    pytest.importorskip("openvino")
    from dfbench import precision as P
    from dfbench.results import summary_lines
    from dfbench.runner import evaluate

    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: True)
    res = evaluate("laanet_test.demo", "demo", limit=4, output=tmp_path / "run", progress=False)
    assert res["protocol"]["backend"] == "openvino" and res["protocol"]["precision"] == "bf16"
    assert res["env"]["backend"]["name"] == "openvino"
    assert res["env"]["backend"]["max_abs_logit_dev_vs_torch"] <= 0.1
    assert any(line.startswith("precision openvino bf16") for line in summary_lines(res))
    torch_run = evaluate("laanet_test.demo", "demo", limit=4, output=tmp_path / "torch", progress=False,
                         backend="torch")
    assert "backend" not in torch_run["protocol"]
    assert torch_run["protocol_hash"] != res["protocol_hash"]


def test_a_runtime_error_on_one_video_fails_only_that_video(tmp_path, monkeypatch):
    """The exported path keeps the runner's promise: one bad batch is that video's failure."""
    pytest.importorskip("openvino")
    from dfbench.runner import evaluate

    calls = {"n": 0}
    real = backends.OpenVinoModel.__call__

    def flaky(self, x):
        calls["n"] += 1
        if calls["n"] == 3:  # call 1 is attach's check; 2, 3, ... score the videos
            raise RuntimeError("Exception from src/inference/src/cpp/infer_request.cpp: boom")
        return real(self, x)

    monkeypatch.setattr(backends.OpenVinoModel, "__call__", flaky)
    res = evaluate("laanet_test.demo", "demo", limit=4, output=tmp_path / "run", progress=False,
                   backend="openvino", precision="fp32")
    assert res["env"]["backend"]["name"] == "openvino"
    assert res["counts"]["videos_scored"] == 3 and len(res["failures"]) == 1
    assert "boom" in res["failures"][0]["reason"]
