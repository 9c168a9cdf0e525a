"""The RECCE network and detector wrapper: shapes, parity of the encoder, explanations, variants."""

from __future__ import annotations

import pytest
import timm
import torch
from dfbench_recce.model import RecceDetector, RecceNet, build_net
from dfbench_recce.spec import SPEC
from dfbench_recce.xception import Xception


def test_encoder_matches_timm_legacy_xception_float64():
    ref = timm.create_model("legacy_xception", pretrained=False).double().eval()
    ours = Xception().double().eval()
    state = {k: v for k, v in ref.state_dict().items() if not k.startswith("fc.")}
    ours.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(ours.forward_features(x), ref.forward_features(x), atol=1e-12, rtol=0)


def test_grid_sizes_of_the_paper_model():
    # 299 -> 149 -> 147 -> 74 -> 37 -> 19: the graph vertices and the decoder's 152 px output.
    assert RecceNet.embedding_grid(299) == 19
    assert RecceNet.embedding_grid(64) == 4


@pytest.mark.parametrize("variant", ["test", "test_gf"])
@pytest.mark.parametrize("batch", [1, 3])
def test_detector_contract_shapes(variant, batch):
    det = SPEC.build(variant).eval()
    assert isinstance(det, RecceDetector) and isinstance(det.net, RecceNet)
    x = det.example_input(batch)
    with torch.no_grad():
        logits = det(x)
        net_out, recons = det.net(det.normalise(x), return_recons=True)
    assert logits.shape == (batch,) and logits.dtype == torch.float32
    assert net_out.shape == (batch, 1)
    assert recons.shape == (batch, 3, 64, 64) and recons.abs().max() <= 1.0
    assert torch.equal(det.net.last_reconstruction, recons)
    assert torch.allclose(logits, net_out[:, 0])


def test_batch_of_one_equals_row_of_batch():
    det = SPEC.build("test").eval()
    x = det.example_input(4, seed=3)
    with torch.no_grad():
        full = det(x)
        single = torch.stack([det(x[i:i + 1])[0] for i in range(4)])
    assert torch.allclose(full, single, atol=1e-5)


def test_explain_gives_reconstruction_and_heatmap():
    det = SPEC.build("test").eval()
    x = det.example_input(2)
    out = det.explain(x)
    assert out["logits"].shape == (2,)
    rec, heat = out["reconstruction"], out["heatmap"]
    assert rec.dtype == torch.uint8 and rec.shape == x.shape
    assert heat.shape == (2, 64, 64) and heat.min() >= 0 and heat.max() <= 1
    # The heatmap is exactly |x - x_hat| / 2 in [-1, 1] space, up to the uint8 rounding of x_hat.
    xn = x.float() / 127.5 - 1
    approx = (xn - (rec.float() / 127.5 - 1)).abs().mean(1) / 2
    assert (approx - heat).abs().max() < 2.5 / 255
    with pytest.raises(TypeError):
        det.explain(x.float())


def test_rejects_float_input():
    det = SPEC.build("test").eval()
    with pytest.raises(TypeError, match="uint8"):
        det(det.example_input(1).float())


@pytest.mark.parametrize("variant", ["test", "test_gf"])
def test_bf16_channels_last_path_close_to_fp32(variant):
    det = SPEC.build(variant).eval()
    if det.net.gf is not None:
        with torch.no_grad():
            det.net.gf.gamma.fill_(0.5)
    x = det.example_input(4, seed=5)
    with torch.no_grad():
        ref = det(x)
        det.configure_inference(channels_last=True, autocast="bf16")
        fast = det(x)
    assert fast.dtype == torch.float32
    assert (fast - ref).abs().max() < 0.05 * (1 + ref.abs().max())


def test_gf_filter_is_resized_for_other_inputs_and_works_in_bf16():
    net = build_net({**dict(SPEC.variant("test_gf").config)}).eval()
    with torch.no_grad():
        net.gf.gamma.fill_(0.5)  # make the branch matter
        out96 = net(torch.rand(2, 3, 96, 96) * 2 - 1)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out64 = net(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert out96.shape == (2, 1) and out64.shape == (2, 1)
    assert torch.isfinite(out96).all() and torch.isfinite(out64.float()).all()


def test_gf_branch_changes_output_once_gamma_moves_and_gets_gradients():
    torch.manual_seed(0)
    net = build_net(dict(SPEC.variant("test_gf").config)).eval()
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        before = net(x).clone()
        net.gf.gamma.fill_(1.0)
        after = net(x)
    assert not torch.allclose(before, after)
    net(x).sum().backward()
    assert net.gf.filter.weight.grad is not None and net.gf.filter.weight.grad.abs().sum() > 0


def test_paper_model_size():
    net = build_net({})
    n = sum(p.numel() for p in net.parameters())
    # 25.8 M in the paper includes the 2.05 M unused ImageNet head of the encoder, which we drop.
    assert abs(n + 1000 * 2048 + 1000 - 25.83e6) < 0.05e6


def test_registered_through_the_plugin_manager():
    from dfbench.registry import Registry

    reg = Registry()
    assert reg.resolve_detector("recce").variant.name == "default"
    assert reg.resolve_detector("recce_gf").variant.name == "gf"
    resolved = reg.resolve_detector("recce_test_gf")
    assert resolved.id == "recce_test_gf" and resolved.variant.input.size == 64
    assert resolved.variant.input.cropper == "dlib_align" and dict(resolved.variant.input.crop_settings) == {"scale": 1.3}


@pytest.mark.parametrize("variant", ["test", "test_gf"])
def test_check_detector_contract(variant):
    testing = pytest.importorskip("dfbench.testing")
    if not hasattr(testing, "check_detector"):
        pytest.skip("dfbench.testing.check_detector not available yet")
    from dfbench.registry import Registry

    spec = Registry().detectors["recce"]
    testing.check_detector(spec, variant=variant) if "variant" in testing.check_detector.__code__.co_varnames \
        else testing.check_detector(spec)


def test_gf_keeps_float64_end_to_end():
    net = build_net(dict(SPEC.variant("test_gf").config)).double().eval()
    with torch.no_grad():
        net.gf.gamma.fill_(0.5)
        x = torch.rand(1, 3, 64, 64, dtype=torch.float64) * 2 - 1
        out = net(x)
        feat = torch.randn(2, 16, 4, 4, dtype=torch.float64)
        filt = net.gf.filter(feat)
        # With an all-ones filter the global filter is the identity; float32 would err by ~1e-7.
        net.gf.filter.weight.zero_()
        net.gf.filter.weight[..., 0] = 1.0
        ident = net.gf.filter(feat)
    assert out.dtype == torch.float64 and out.shape == (1, 1) and filt.dtype == torch.float64
    assert (ident - feat).abs().max() < 1e-12
