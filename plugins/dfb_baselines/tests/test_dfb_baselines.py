"""DeepfakeBench baselines: checkpoint conversion, float64 parity with the PyPI reference
networks (pretrainedmodels' Xception, efficientnet_pytorch's EfficientNet-B4), protocols, errors."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from dfb_reference import dfb_efficientnet, dfb_xception_state, pretrainedmodels_xception, rel_err
from dfbench_dfb.convert import efficientnet_from_dfb, to_dfb, xception_from_dfb
from dfbench_dfb.spec import EFFICIENTNET_B4, XCEPTION

from dfbench.errors import CheckpointMismatchError
from dfbench.weights import read_weights_dir
from dfbench.zoo.efficientnet import build_efficientnet

EFF_TINY = EFFICIENTNET_B4.variant("test").config


@pytest.fixture(scope="module")
def xception_ref():
    return pretrainedmodels_xception(seed=1)


@pytest.fixture(scope="module")
def tiny_eff_ref():
    return dfb_efficientnet(EFF_TINY["width_mult"], EFF_TINY["depth_mult"], EFF_TINY["native_size"], fed=64, seed=2)


@pytest.mark.acceptance
@pytest.mark.parametrize("size", [299, 256])
def test_xception_parity_float64_with_pretrainedmodels(xception_ref, size):
    net = xception_from_dfb(dfb_xception_state(xception_ref))
    x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(size), dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        ours, ref = net(x), xception_ref(x)
    assert ours.dtype == torch.float64 and ours.shape == ref.shape == (2, 2)
    assert rel_err(ours, ref) <= 1e-6
    assert (ref[0] - ref[1]).abs().max() > 1e-6  # the two inputs are told apart


def test_efficientnet_tiny_parity_float64_with_dfb_padding_quirks(tiny_eff_ref):
    state = {"module.backbone.efficientnet." + k[len("efficientnet."):] if k.startswith("efficientnet.")
             else "module.backbone." + k: v for k, v in tiny_eff_ref.state_dict().items()}
    net = efficientnet_from_dfb(state, variant="test")
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        ours, ref = net(x), tiny_eff_ref(x)
    assert rel_err(ours, ref) <= 1e-6
    assert (ref[:, 1] - ref[:, 0]).std() > 1e-3
    # The comparison is sensitive to the quirks: TF-'same' padding everywhere changes the logits.
    plain = build_efficientnet(EFF_TINY["width_mult"], EFF_TINY["depth_mult"], 2, native_size=64).double().eval()
    plain.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert (plain(x) - ref).abs().max() > 1e-6


@pytest.mark.acceptance
def test_efficientnet_b4_parity_float64_at_256():
    ref = dfb_efficientnet(1.4, 1.8, 380, fed=256, seed=3)
    state = {"backbone." + k: v for k, v in ref.state_dict().items()}
    net = efficientnet_from_dfb(state)
    x = torch.rand(2, 3, 256, 256, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        ours, want = net(x), ref(x)
    assert rel_err(ours, want) <= 1e-6
    assert (want[0] - want[1]).abs().max() > 1e-6


def test_ffpp_protocol_resizes_256_crops_to_299_inside():
    det = XCEPTION.build("test").double().eval()
    assert det.input_spec.size == 48 and det.resize_to == 56
    x = det.example_input(batch=2, seed=3)
    with torch.no_grad():
        got = det(x).double()
        z = F.interpolate((x.double() / 255 - 0.5) / 0.5, size=(56, 56), mode="bicubic", align_corners=False)
        out = det.net(z)
        direct = det.net((x.double() / 255 - 0.5) / 0.5)
    assert torch.allclose(got, out[:, 1] - out[:, 0], atol=1e-6)
    assert not torch.allclose(got, direct[:, 1] - direct[:, 0], atol=1e-6)
    assert XCEPTION.variant("default").config["resize_to"] is None
    s = XCEPTION.variant("ffpp")
    assert s.config["resize_to"] == 299 and s.input.size == 256 and s.input.cropper == "dlib_align"
    assert s.input.crop_settings == {"scale": 1.3} and s.input.mean == (0.5, 0.5, 0.5)
    assert EFFICIENTNET_B4.variant("default").input.size == 256


def test_round_trips_on_tiny_networks():
    for spec, conv in ((XCEPTION, xception_from_dfb), (EFFICIENTNET_B4, efficientnet_from_dfb)):
        net = spec.build("test").net.double().eval()
        net2 = conv(to_dfb(net), variant="test")
        x = torch.rand(2, 3, 48, 48, dtype=torch.float64)
        with torch.no_grad():
            assert torch.equal(net(x), net2(x))


def test_dropout_head_and_adjust_channel_accepted(xception_ref):
    state = dfb_xception_state(xception_ref)
    state["backbone.last_linear.1.weight"] = state.pop("backbone.last_linear.weight")
    state["backbone.last_linear.1.bias"] = state.pop("backbone.last_linear.bias")
    net = xception_from_dfb({"state_dict": state})
    assert torch.equal(net.fc.weight, xception_ref.last_linear.weight)


@pytest.mark.parametrize("breakage", ["drop", "extra", "shape", "adjust_shape"])
def test_wrong_xception_checkpoint_refused_with_keys_listed(breakage):
    state = to_dfb(XCEPTION.build("test").net)
    named = {"drop": "backbone.block2.rep.1.pointwise.weight", "extra": "backbone.head.bogus",
             "shape": "backbone.last_linear.weight", "adjust_shape": "backbone.adjust_channel.0.weight"}[breakage]
    if breakage == "drop":
        del state[named]
    elif breakage == "extra":
        state[named] = torch.zeros(1)
    elif breakage == "shape":
        state[named] = torch.zeros(1000, 56)
    else:
        state[named] = torch.zeros(512, 2048, 1, 1)  # the test network is 56 wide
    with pytest.raises(CheckpointMismatchError) as err:
        xception_from_dfb(state, variant="test")
    assert named in str(err.value)


def test_wrong_efficientnet_checkpoint_refused(tiny_eff_ref):
    sbi_style = {"net." + k: v for k, v in tiny_eff_ref.efficientnet.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as err:
        efficientnet_from_dfb(sbi_style, variant="test")
    e = err.value
    assert "backbone.last_layer.weight" in e.missing and "net._conv_stem.weight" in e.unexpected


def test_core_convert_command(tmp_path, xception_ref):
    from dfbench.convert import convert_official

    src = tmp_path / "ckpt_best.pth"
    torch.save(dfb_xception_state(xception_ref), src)
    out = convert_official("xception_ffpp", src, tmp_path / "out")
    state, config = read_weights_dir(out, expected_sha256=json.loads((out / "config.json").read_text())["sha256"])
    assert config["variant"] == "ffpp" and config["input"]["aggregation"] == "mean_prob"
    assert torch.equal(state["net.fc.weight"], xception_ref.last_linear.weight)


def test_dlib_align_template_is_deepfakebench_img_align_crop():
    """The `dlib_align` cropper the baselines use places the 5 points where DeepfakeBench's
    ``img_align_crop(scale=1.3, outsize=256)`` does: its 96x112 template shifted by 8 px to
    112x112, scaled to the output, then moved by the margin and shrunk by S / (S + 2m)."""
    import numpy as np

    from dfbench.media.croppers import DlibAlignCropper

    size, scale = 256, 1.3
    dst = np.array([[30.2946, 51.6963], [65.5318, 51.5014], [48.0252, 71.7366],
                    [33.5493, 92.3655], [62.7299, 92.2041]])
    dst[:, 0] += 8.0
    dst *= size / 112.0
    margin = size * (scale - 1) / 2.0
    dst = (dst + margin) * size / (size + 2 * margin)
    ours = DlibAlignCropper(scale=scale).template(size)
    assert np.allclose(ours, dst, atol=1e-4)
    assert DlibAlignCropper(scale=scale).five_points(np.arange(81 * 2).reshape(81, 2)).tolist() == \
        [[74, 75], [88, 89], [60, 61], [98, 99], [110, 111]]  # landmarks 37, 44, 30, 49, 55
