"""``--backend auto|torch|openvino|onnxruntime``: exported detector, logits checked against torch, cached
export, and the automatic choice of runtime."""

from __future__ import annotations

import json

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


class _Shifted(Detector):
    """Same weights as _conv_detector, other code: logits + 0.05 (less than the bf16 tolerance)."""

    def logits(self, x):
        return super().logits(x) + 0.05


class _Branchy(Detector):
    """A data-dependent Python branch: tracing freezes the path the example input took."""

    def logits(self, x):
        y = super().logits(x)
        return -y if float(x.float().mean()) > 0.9 else y  # x is normalised: only a bright batch flips


def _like(cls):
    base = _conv_detector()
    return cls(base.net, base.input_spec).eval()


@pytest.fixture
def ov(monkeypatch):
    pytest.importorskip("openvino")
    from dfbench import precision as P

    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: True)
    monkeypatch.setattr(backends, "cpu_has_fast_bf16", lambda: True)
    return P


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_openvino_logits_match_torch(ov, flip, precision):
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
    assert info["graph_check_max_abs_dev_fp32"] <= backends.MAX_DEVIATION
    assert stage.effective()["precision"] == precision and stage.effective()["backend"] == "openvino"


def test_openvino_logits_do_not_depend_on_batch_mates(ov):
    """dfbench.parallel.batching's promise holds for the exported runtime: fixed-shape batches give
    each crop the same logit whatever its position and its batch mates."""
    units = np.random.default_rng(1).integers(0, 256, (8, 3, 32, 32), dtype=np.uint8)
    stage = ModelStage(_conv_detector(), batch_size=8)
    backends.attach(stage, "openvino", precision="bf16")
    base = stage.logits(units)
    perm = np.random.default_rng(2).permutation(8)
    np.testing.assert_array_equal(stage.logits(units[perm]), base[perm])
    mates = units.copy()
    mates[1:] = 0
    assert stage.logits(mates)[0] == base[0]


def test_auto_backend_on_a_cpu_takes_openvino_first(ov):
    P = ov
    order = backends.execution_candidates("cpu", "frame", "auto")
    assert order[:2] == [("openvino", "bf16", False), ("openvino", "fp32", False)]
    assert order[2:] == [("torch", p, cl) for p, cl in P.candidates("cpu", "frame")]
    c, prepared = backends.resolve_execution(_conv_detector(), "conv", "cpu")
    assert (c.backend, c.precision, c.channels_last) == ("openvino", "bf16", False)
    assert isinstance(prepared.model, backends.OpenVinoModel) and prepared.precision == "bf16"
    assert c.describe().startswith("openvino bf16 (auto on cpu")
    again, prepared2 = backends.resolve_execution(_conv_detector(), "conv", "cpu")
    assert again.cached and prepared2.record["cached_export"] is True
    # Without native bf16, OpenVINO fp32; an explicit precision, layout or --compile keeps torch.
    assert [b for b in backends.execution_candidates("cpu", "frame", "torch")] == \
        [("torch", p, cl) for p, cl in P.candidates("cpu", "frame")]
    for kw in ({"precision": "fp32"}, {"channels_last": True}, {"compile": True}):
        c, prepared = backends.resolve_execution(_conv_detector(), "conv", "cpu", **kw)
        assert c.backend == "torch" and prepared is None, kw
    with pytest.raises(DfbenchError, match="--compile"):
        backends.resolve_execution(_conv_detector(), "conv", "cpu", "openvino", compile=True)


def test_auto_backend_without_openvino_is_torch(monkeypatch):
    monkeypatch.setattr(backends, "installed", lambda b: b != "openvino")
    assert {b for b, _, _ in backends.execution_candidates("cpu", "frame", "auto")} == {"torch"}
    with pytest.raises(backends.BackendUnavailable, match="pip install openvino"):
        backends.check_backend("openvino")


def test_an_unexportable_detector_falls_back_to_torch_and_says_why(ov):
    det = _like(_FFTDetector)
    c, prepared = backends.resolve_execution(det, "fft", "cpu")
    assert c.backend == "torch" and prepared is None
    assert [r.get("backend") for r in c.candidates[:2]] == ["openvino", "openvino"]
    assert all("cannot be exported to ONNX" in r["error"] for r in c.candidates[:2])
    with pytest.raises(backends.BackendUnavailable, match="cannot be exported"):
        backends.attach(ModelStage(det), "openvino")
    # Asked for explicitly, OpenVINO that cannot run stops the run instead of running torch.
    with pytest.raises(backends.BackendUnavailable, match="--backend openvino cannot run fft"):
        backends.resolve_execution(det, "fft", "cpu", "openvino")


def test_an_exported_fp32_model_must_match_torch_closely(ov, monkeypatch):
    """A tolerance meant for bf16 does not let a wrong fp32 export through."""
    monkeypatch.setattr(backends, "cpu_has_fast_bf16", lambda: False)
    real = backends.OpenVinoModel.__call__
    monkeypatch.setattr(backends.OpenVinoModel, "__call__", lambda self, x: real(self, x) + 0.01)
    c, prepared = backends.resolve_execution(_conv_detector(), "conv", "cpu")
    assert c.backend == "torch" and prepared is None
    assert c.candidates[0]["within_tolerance"] is False and c.candidates[0]["max_abs_logit_dev"] >= 0.01


def test_a_branch_frozen_by_tracing_is_caught(ov):
    """The calibration faces take one branch; the graph check's all-white crop takes the other."""
    c, prepared = backends.resolve_execution(_like(_Branchy), "branchy", "cpu")
    assert c.backend == "torch" and prepared is None
    assert "other inputs" in c.candidates[0]["error"]


def test_edited_code_never_reuses_an_export_or_a_choice(ov):
    """Same weights, other code (a plugin fix, a subclass): a new export and a new choice, so the
    run computes the new code even where the difference hides inside the bf16 tolerance."""
    from dfbench.onnx_export import export_key
    from dfbench.precision import cache_key

    v1, v2 = _conv_detector(), _like(_Shifted)
    assert export_key(v1) != export_key(v2)
    assert cache_key("x", v1, "cpu", [], 0.1) != cache_key("x", v2, "cpu", [], 0.1)
    backends.resolve_execution(v1, "x", "cpu")
    c, prepared = backends.resolve_execution(v2, "x", "cpu")
    assert not c.cached and prepared.record["cached_export"] is False
    units = backends.calibration_units(v2)
    ref = ModelStage(_like(_Shifted)).logits(units)
    np.testing.assert_allclose(prepared.model(torch.from_numpy(units)).numpy(), ref, atol=0.05)
    assert abs(float(prepared.model(torch.from_numpy(units)).numpy().mean() - ref.mean())) < 0.02


def test_detectors_without_a_weights_file_do_not_share_a_choice(ov):
    """Untrained (sha256 None) detectors of one id: the choice is keyed by the weights as loaded."""
    from dfbench.precision import cache_key

    a = _conv_detector()
    torch.manual_seed(1)
    b = Detector(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                     torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 1)),
                 a.input_spec).eval()
    assert a.weights_info.get("sha256") is None and cache_key("x.untrained", a, "cpu", [], 0.1) != \
        cache_key("x.untrained", b, "cpu", [], 0.1)


def test_a_cached_choice_that_fails_its_check_is_made_again(ov, monkeypatch):
    first, _ = backends.resolve_execution(_conv_detector(), "conv", "cpu")
    assert first.backend == "openvino"
    real = backends.OpenVinoModel.__call__
    monkeypatch.setattr(backends.OpenVinoModel, "__call__", lambda self, x: real(self, x) + 5.0)
    again, prepared = backends.resolve_execution(_conv_detector(), "conv", "cpu")  # no error: re-chosen
    assert not again.cached and again.backend == "torch" and prepared is None


def test_run_with_auto_backend_records_what_ran(ov, tmp_path, monkeypatch):
    """The default run on a CPU with OpenVINO: protocol, throughput and summary name the runtime;
    the runtime's version is part of the protocol hash."""
    from dfbench.results import summary_lines
    from dfbench.runner import evaluate

    res = evaluate("laanet_test.demo", "demo", limit=4, output=tmp_path / "run", progress=False)
    assert res["protocol"]["backend"] == {"name": "openvino", "version": backends.version("openvino"),
                                          "opset": backends.OPSET}
    assert res["protocol"]["precision"] == "bf16" == res["throughput"]["precision"]
    assert res["env"]["backend"]["name"] == "openvino"
    assert res["env"]["backend"]["max_abs_logit_dev_vs_torch"] <= 0.1
    assert any(line.startswith("precision openvino bf16") for line in summary_lines(res))
    torch_run = evaluate("laanet_test.demo", "demo", limit=4, output=tmp_path / "torch", progress=False,
                         backend="torch")
    assert "backend" not in torch_run["protocol"]
    assert torch_run["protocol_hash"] != res["protocol_hash"]
    monkeypatch.setattr(backends, "version", lambda b: "0.0-other")
    other = evaluate("laanet_test.demo", "demo", limit=4, output=tmp_path / "other", progress=False)
    assert other["protocol"]["backend"]["version"] == "0.0-other"
    assert other["protocol_hash"] != res["protocol_hash"]


def test_a_runtime_error_on_one_video_fails_only_that_video(ov, tmp_path, monkeypatch):
    """The exported path keeps the runner's promise: one bad batch is that video's failure."""
    from dfbench.runner import evaluate

    calls = {"n": 0}
    real = backends.OpenVinoModel.__call__

    def flaky(self, x):
        if x.shape[0] == 16:  # the run's batches (prepare's checks use 8, 3 and 1 crops)
            calls["n"] += 1
            if calls["n"] == 2:
                raise RuntimeError("Exception from src/inference/src/cpp/infer_request.cpp: boom")
        return real(self, x)

    monkeypatch.setattr(backends.OpenVinoModel, "__call__", flaky)
    res = evaluate("laanet_test.demo", "demo", limit=4, output=tmp_path / "run", progress=False,
                   backend="openvino", precision="fp32")
    assert res["env"]["backend"]["name"] == "openvino"
    assert res["counts"]["videos_scored"] == 3 and len(res["failures"]) == 1
    assert "boom" in res["failures"][0]["reason"]


def test_exported_bf16_respects_the_relative_bound_for_trained_models(ov):
    det = _conv_detector()
    det.trained = True
    with torch.no_grad():
        det.net[-1].weight.mul_(1e-4)  # near-constant logits: bf16 rounding would reorder them
    c, prepared = backends.resolve_execution(det, "tied", "cpu")
    assert c.relative_tolerance == 0.05
    assert (c.backend, c.precision) == ("openvino", "fp32")  # exact enough, still the fast runtime
    assert c.candidates[0]["precision"] == "bf16" and c.candidates[0]["within_tolerance"] is False


def test_robustness_runs_every_cell_on_the_automatic_choice(ov, tmp_path):
    """`dfbench robustness` has run's defaults: the grid runs on the fast path, every cell the same
    way, and says so (a 36-cell grid is the most expensive thing a user runs)."""
    from click.testing import CliRunner

    from dfbench.cli import cli
    from dfbench.robustness import load_robustness

    out = tmp_path / "grid"
    res = CliRunner().invoke(cli, ["robustness", "-d", "laanet_test.demo", "-s", "demo", "--limit", "4",
                                   "--suite", "contrast:2", "--no-plot", "-o", str(out)])
    assert res.exit_code == 0, res.output
    doc = load_robustness(out)
    assert doc["model_path"] == {"precision": "bf16", "channels_last": doc["model_path"]["channels_last"],
                                 "compile": False, "backend": "openvino"}
    assert "model     openvino bf16" in res.output
    for cell in ("clean", "contrast-2"):
        protocol = json.loads((out / cell / "results.json").read_text())["protocol"]
        assert protocol["backend"]["name"] == "openvino" and protocol["precision"] == "bf16"
    exact = CliRunner().invoke(cli, ["robustness", "-d", "laanet_test.demo", "-s", "demo", "--limit", "4",
                                     "--suite", "contrast:2", "--no-plot", "--precision", "fp32",
                                     "-o", str(tmp_path / "exact")])
    assert exact.exit_code == 0, exact.output
    # What `robustness` ran before it defaulted to auto: torch fp32 NCHW (old grids resume with it).
    assert load_robustness(tmp_path / "exact")["model_path"] == {"precision": "fp32", "channels_last": False,
                                                                  "compile": False, "backend": "torch"}


def test_a_grid_whose_cells_ran_differently_is_refused(tmp_path, monkeypatch):
    """If a cell's re-check of the cached choice fails and it runs another way, the grid stops
    instead of mixing two models' numbers in one table (torch only: runs without OpenVINO too)."""
    from dfbench import runner
    from dfbench.robustness import run_robustness

    real = runner.evaluate
    calls = {"n": 0}

    def second_cell_in_fp32(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **({**kwargs, "precision": "fp32"} if calls["n"] > 1 else kwargs))

    monkeypatch.setattr(runner, "evaluate", second_cell_in_fp32)
    with pytest.raises(DfbenchError, match="every cell must run the same way.*new --output directory"):
        run_robustness("laanet_test.demo", "demo", tmp_path / "grid", suite="contrast:2", limit=4,
                       make_plot=False, progress=False, backend="torch", precision="bf16")
