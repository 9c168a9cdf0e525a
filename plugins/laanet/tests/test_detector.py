"""The dfbench detector wrapper: contract, normalisation, fast-path switches, explanations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from dfbench_laanet.model import HEADS, LAANet, LAANetDetector, build_detector
from dfbench_laanet.spec import laanet_spec

from dfbench.testing import check_detector


@pytest.fixture()
def det() -> LAANetDetector:
    torch.manual_seed(0)
    return laanet_spec().build("test")


def test_test_variant_passes_the_detector_contract():
    check_detector(laanet_spec(), "test")


def test_logits_are_the_cls_head_on_inputs_scaled_to_minus_one_one(det):
    x = det.example_input(batch=3, seed=4)
    with torch.no_grad():
        got = det(x)
        want = det.net(x.float() / 127.5 - 1.0)["cls"][:, 0]
    assert got.shape == (3,) and got.dtype == torch.float32
    assert torch.allclose(got, want, atol=1e-6)


def test_inference_skips_the_heads_it_does_not_need(det):
    det.configure_inference(fold_bn=False)  # so that the hooks sit on the network that runs
    calls = []
    det.net.hm.register_forward_hook(lambda *a: calls.append("hm"))
    det.net.cstency.register_forward_hook(lambda *a: calls.append("cstency"))
    with torch.no_grad():
        det(det.example_input(2))
        assert calls == []
        det.configure_inference(heads=("cls", "hm", "cstency"), fold_bn=False)
        det(det.example_input(2))
    assert sorted(calls) == ["cstency", "hm"]


def test_precision_and_memory_format_switches_keep_the_scores(det):
    x = det.example_input(batch=4, seed=2)
    with torch.no_grad():
        ref = det(x)
        det.configure_inference(precision="fp64")
        assert det.param_dtype == torch.float64
        fp64 = det(x)
        det.configure_inference(precision="bf16", channels_last=True)
        assert det.param_dtype == torch.float32 and det.autocast_dtype == torch.bfloat16
        bf16 = det(x)
        det.configure_inference(precision="fp32", channels_last=False)
        back = det(x)
    assert fp64.dtype == bf16.dtype == torch.float32
    assert torch.allclose(fp64, ref, atol=1e-5)
    assert torch.allclose(bf16, ref, atol=5e-2)
    assert torch.allclose(back, ref, atol=1e-6)
    assert det.inference_options() == {"heads": ["cls"], "precision": "fp32", "channels_last": False,
                                       "fold_bn": True, "compile": False}


def test_batchnorm_folding_computes_the_same_function_and_follows_the_weights(det):
    x = det.example_input(batch=3, seed=7)
    det.configure_inference(heads=HEADS, fold_bn=False)
    with torch.no_grad():
        plain = det.run_net(det.normalise(x), HEADS)
        det.configure_inference(heads=HEADS, fold_bn=True)
        folded = det.run_net(det.normalise(x), HEADS)
    for k in HEADS:
        assert torch.allclose(plain[k], folded[k], atol=1e-5, rtol=1e-4), k
    assert set(det.state_dict()) == set(laanet_spec().build("test").state_dict())  # copy never saved
    # New weights (load_state_dict copies in place) must reach the folded copy.
    other = laanet_spec().build("test")
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.05 * torch.randn_like(p))
        det.load_state_dict(other.state_dict())
        assert torch.allclose(det(x), other(x), atol=1e-5)
        det.configure_inference(precision="fp64")
        other.configure_inference(precision="fp64", fold_bn=False)
        assert torch.allclose(det(x).double(), other(x).double(), atol=1e-6)


def test_bad_inference_options_are_refused(det):
    with pytest.raises(ValueError, match="precision"):
        det.configure_inference(precision="int8")
    with pytest.raises(ValueError, match="cls"):
        det.configure_inference(heads=("hm",))
    with pytest.raises(TypeError, match="unknown LAA-Net inference options"):
        det.configure_inference(flip=True)


def test_explain_returns_the_artifact_heatmap_at_crop_size(det):
    x = det.example_input(batch=2, seed=5)
    with torch.no_grad():
        exp = det.explain(x)
        hm = det.net(x.float() / 127.5 - 1.0)["hm"]
    assert set(exp) == {"logits", "heatmap"}
    assert torch.allclose(exp["logits"], det(x), atol=1e-6)
    heat = exp["heatmap"]
    assert heat.shape == (2, 64, 64) and heat.dtype == torch.float32
    assert 0.0 <= float(heat.min()) and float(heat.max()) <= 1.0
    want = F.interpolate(torch.sigmoid(hm), size=(64, 64), mode="bilinear", align_corners=False)[:, 0]
    assert torch.allclose(heat, want, atol=1e-6)
    with pytest.raises(TypeError):
        det.explain(x.float())


def test_factory_builds_the_class_the_converter_returns():
    spec = laanet_spec()
    det = build_detector(spec.variant("efnb4"))
    assert type(det.net) is LAANet and not det.training
    assert det.net.config["image_size"] == det.input_spec.size == 384
    assert det.net.config["native_size"] == 380
