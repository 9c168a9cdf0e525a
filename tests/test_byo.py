"""Bring-your-own models (onnx:/torchscript:/py:) and `dfbench export` (dfbench.zoo)."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch
from click.testing import CliRunner

from dfbench.build import build_detector
from dfbench.cli import cli
from dfbench.errors import DfbenchError
from dfbench.zoo.byo import contract_overrides
from dfbench.zoo.export import export_detector

pytest.importorskip("onnxruntime")


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def laanet_onnx(tmp_path_factory):
    path, sidecar = export_detector("laanet_test.demo", tmp_path_factory.mktemp("export") / "laa.onnx")
    return path, sidecar


def test_exported_onnx_scores_like_the_native_detector(laanet_onnx):
    path, sidecar = laanet_onnx
    native = build_detector("laanet_test.demo").eval()
    byo = build_detector(f"onnx:{path}")
    assert byo.trained and byo.input_spec == native.input_spec  # the sidecar carries the protocol
    assert byo.spec.name == "onnx_laa" and len(byo.weights_info["sha256"]) == 64
    assert byo.inference_options()["byo"]["contract"] == str(sidecar)
    x = native.example_input(batch=4, seed=5)
    with torch.inference_mode():
        assert torch.allclose(byo(x), native(x), atol=1e-3)


def test_torchscript_export_round_trip(tmp_path):
    from dfbench.registry import get_registry
    from dfbench.weights import save_weights

    torch.manual_seed(3)  # weights saved once, so the export and the native detector share them
    weights = save_weights(get_registry().detectors["sbi"].build("test"), tmp_path / "w")
    path, _ = export_detector("sbi_test", tmp_path / "sbi.pt", fmt="torchscript", weights=str(weights))
    byo = build_detector(f"torchscript:{path}")
    native = build_detector("sbi_test", weights=str(weights)).eval()
    assert byo.input_spec.aggregation == "mean_prob" and byo.input_spec.mean == (0.0, 0.0, 0.0)
    x = native.example_input(batch=2, seed=1)
    with torch.inference_mode():
        assert torch.allclose(byo(x), native(x), atol=1e-4)


def test_a_vit_detector_exports_to_onnx(tmp_path):
    """UnivFD's CLIP tower (multi-head attention with an even head count takes torch's fused fast
    path, an op ONNX lacks): `dfbench export` shares the runtime exporter's tracing and works."""
    from dfbench.registry import get_registry
    from dfbench.weights import save_weights

    pytest.importorskip("open_clip")
    torch.manual_seed(4)
    weights = save_weights(get_registry().detectors["univfd"].build("test"), tmp_path / "w")
    path, _ = export_detector("univfd_test", tmp_path / "vit.onnx", weights=str(weights))
    byo = build_detector(f"onnx:{path}")
    native = build_detector("univfd_test", weights=str(weights)).eval()
    x = native.example_input(batch=3, seed=2)
    with torch.inference_mode():
        assert torch.allclose(byo(x), native(x), atol=1e-4)


def test_an_export_that_fails_names_the_detector_and_the_way_out(tmp_path, monkeypatch):
    import dfbench.onnx_export as ox

    def unsupported(*args, **kwargs):
        raise RuntimeError("Exporting the operator 'aten::fft_rfft2' to ONNX opset version 17 is not supported")

    monkeypatch.setattr(ox, "trace_to_onnx", unsupported)
    with pytest.raises(DfbenchError, match=r"cannot export sbi_test to onnx: .*fft_rfft2.*--format torchscript"):
        export_detector("sbi_test", tmp_path / "x.onnx")


def _write_module(tmp_path, monkeypatch, body: str) -> str:
    name = f"byo_user_model_{abs(hash(body)) % 10**8}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_py_factory_with_probabilities_from_the_command_line_contract(tmp_path, monkeypatch):
    mod = _write_module(tmp_path, monkeypatch, """
        import torch
        class Net(torch.nn.Module):
            def forward(self, x):  # two-class probabilities from the mean brightness
                p = torch.sigmoid(x.mean(dim=(1, 2, 3)))
                return torch.stack([1 - p, p], dim=1)
        def make():
            return Net()
    """)
    with contract_overrides(input_size=32, mean="0,0,0", std="1,1,1", output="prob"):
        det = build_detector(f"py:{mod}:make")
    assert det.input_spec.size == 32 and det.input_spec.mean == (0.0, 0.0, 0.0)
    x = det.example_input(batch=3)
    with torch.inference_mode():
        got = det(x).double()
    want = (x.double() / 255).mean(dim=(1, 2, 3))  # logit(sigmoid(m)) == m
    assert torch.allclose(got, want, atol=1e-5)
    sys.modules.pop(mod, None)


def test_contract_disagreements_are_one_clear_error(tmp_path, monkeypatch, laanet_onnx):
    path, _ = laanet_onnx
    with contract_overrides(input_size=32), pytest.raises(DfbenchError, match=r"expects input .*64, 64.*--input-size"):
        build_detector(f"onnx:{path}")
    with contract_overrides(unit="clip", clip_length=4), pytest.raises(DfbenchError, match="rank-4 input"):
        build_detector(f"onnx:{path}")
    mod = _write_module(tmp_path, monkeypatch, """
        import torch
        def three():
            return torch.nn.Conv2d(3, 3, 1)  # returns [B, 3, H, W]: not scores
    """)
    with contract_overrides(input_size=16), pytest.raises(DfbenchError, match=r"output shape \[2, 3, 16, 16\]"):
        build_detector(f"py:{mod}:three")
    with pytest.raises(DfbenchError, match="input size is unknown"):
        build_detector(f"py:{mod}:three")
    with pytest.raises(DfbenchError, match="file not found"):
        build_detector(f"onnx:{tmp_path / 'nope.onnx'}")
    sys.modules.pop(mod, None)


def test_sidecar_with_an_unknown_key_is_refused(tmp_path, laanet_onnx):
    path, sidecar = laanet_onnx
    bad = tmp_path / "bad.yaml"
    bad.write_text(sidecar.read_text() + "imput_size: 3\n")
    with contract_overrides(contract_file=str(bad)), pytest.raises(DfbenchError, match="imput_size"):
        build_detector(f"onnx:{path}")


def test_run_keeps_unique_option_names():
    """The BYO flag group must never shadow one of run's own options (``-o/--output``)."""
    names = [p.name for p in cli.commands["run"].params]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_cli_run_with_an_onnx_model_and_flags(tmp_path, monkeypatch, laanet_onnx):
    import json

    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path / "cache"))
    path, _ = laanet_onnx
    res = CliRunner().invoke(cli, ["run", "--detector", f"onnx:{path}", "--dataset", "demo", "--limit", "2",
                                   "--logit", "--input-size", "64", "-o", str(tmp_path / "run"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output[res.output.index("{"):])
    assert out["detector"]["id"] == "onnx_laa" and (tmp_path / "run" / "results.json").is_file()
    assert out["protocol"]["inference"]["byo"]["output"] == "logit"


def test_byo_flags_refused_for_registered_detectors():
    res = CliRunner().invoke(cli, ["run", "--detector", "sbi_test", "--dataset", "demo", "--input-size", "64"])
    assert res.exit_code != 0 and "only apply to bring-your-own detectors" in res.output


@pytest.mark.acceptance
def test_exported_laanet_scores_the_demo_like_the_native_detector(tmp_path, monkeypatch, laanet_onnx):
    """Issue 15 acceptance: the ONNX round trip of LAA-Net through `onnx:` on the demo test split."""
    from dfbench.runner import evaluate

    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path / "cache"))
    path, _ = laanet_onnx
    # Both in fp32 NCHW: the exported graph is fp32, so the native side is compared at the same
    # precision (the run default "auto" may pick bf16 on this CPU).
    exact = {"precision": "fp32", "channels_last": False}
    native = evaluate("laanet_test.demo", "demo", output=tmp_path / "native", progress=False,
                      cache_dir=tmp_path / "crops", **exact)
    byo = evaluate(f"onnx:{path}", "demo", output=tmp_path / "onnx", progress=False, cache_dir=tmp_path / "crops",
                   **exact)
    assert byo["protocol"]["input"] == native["protocol"]["input"]
    assert byo["protocol"]["inference"]["byo"]["kind"] == "onnx"
    assert byo["metrics"]["video"]["auc"] == native["metrics"]["video"]["auc"]
    import pandas as pd

    a = pd.read_parquet(tmp_path / "native" / "predictions.parquet").sort_values(["video_key", "frame_index"])
    b = pd.read_parquet(tmp_path / "onnx" / "predictions.parquet").sort_values(["video_key", "frame_index"])
    assert len(a) == len(b) > 0
    assert (a["logit"].to_numpy() - b["logit"].to_numpy()).__abs__().max() <= 1e-3
