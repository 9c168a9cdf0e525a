"""Contract-style checks of the detector wrapper and the temporal-attention variant (tiny variants)."""

from __future__ import annotations

import pytest
import torch
from dfbench_lipforensics import plugin
from dfbench_lipforensics.model import LipForensicsConfig, LipForensicsNet
from dfbench_lipforensics.spec import SPEC, max_frames_for

from dfbench.plugins import get_plugin_manager
from dfbench.registry import Registry


@pytest.fixture(params=["test", "test_ta"])
def det(request):
    torch.manual_seed(0)
    return SPEC.build(request.param)


def test_registered_through_the_hook():
    reg = Registry(get_plugin_manager(load_entrypoints=False, extra_plugins=[plugin]))
    for name, variant in [
        ("lipforensics", "r18"),
        ("lipforensics_r18", "r18"),
        ("lipforensics_r18_ta", "r18_ta"),
        ("lipforensics_test_ta", "test_ta"),
    ]:
        r = reg.resolve_detector(name)
        assert r.spec.name == "lipforensics" and r.variant.name == variant


def test_input_contract_of_the_spec():
    for v in SPEC.variants:
        s = v.input
        official = v.name in ("r18", "r18_ta")  # the published models: the official recipe, dlib offline
        assert (s.unit, s.colour, s.cropper, s.aggregation, s.flip_test) == (
            "clip",
            "gray",
            "lipforensics_official" if official else "mouth",
            "mean_logit",
            False,
        )
        assert dict(s.crop_settings) == ({"offline_fallback": "mouth"} if official else {})
        assert s.mean == (0.421,) and s.std == (0.165,) and s.frames_per_video == 0
    r18 = SPEC.variant("r18").input
    assert (r18.size, r18.clip_length) == (88, 25)
    assert max_frames_for(SPEC.variant("r18"), "ffpp_c23") == 110
    assert max_frames_for(SPEC.variant("r18"), "celebdf_v2") == 0


def test_shapes_dtype_and_determinism(det):
    x = det.example_input(batch=3)
    assert x.shape == (3, 5, 1, 24, 24)
    with torch.no_grad():
        a, b = det(x), det(x)
    assert a.shape == (3,) and a.dtype == torch.float32
    assert torch.equal(a, b)


def test_batch_independence(det):
    x = det.example_input(batch=3, seed=4)
    with torch.no_grad():
        full = det(x)
        single = torch.cat([det(x[i : i + 1]) for i in range(3)])
    assert torch.allclose(full, single, atol=1e-5)


def test_wrapper_uses_official_layout_and_normalisation(det):
    x = det.example_input(batch=2, seed=2)
    xn = (x.float() / 255 - 0.421) / 0.165
    with torch.no_grad():
        assert torch.allclose(det(x), det.net(xn.transpose(1, 2))[:, 0], atol=1e-6)
    # Time order matters: reversing the frames changes the score (the model is temporal).
    with torch.no_grad():
        assert not torch.allclose(det(x), det(x.flip(1)))


def test_rejects_float_input(det):
    with pytest.raises(TypeError, match="uint8"):
        det(det.example_input().float())


def test_explain_weights_sum_to_one_and_decompose_the_logit(det):
    x = det.example_input(batch=2)
    with torch.no_grad():
        out = det.explain(x)
        logits = det(x)
    if det.net.tcn.attention is None:  # the mean variant returns no weights: its pooling is the time mean
        assert "frame_weights" not in out
        w = torch.full_like(out["frame_logits"], 1 / out["frame_logits"].shape[1])
    else:
        w = out["frame_weights"]
    assert w.shape == (2, 5) and (w >= 0).all()
    assert torch.allclose(w.sum(1), torch.ones(2), atol=1e-6)
    assert torch.allclose(out["logits"], logits, atol=1e-6)
    # The head is linear, so the clip logit is the weighted sum of the per-frame logits.
    bias = det.net.tcn.tcn_output.bias
    recon = (w * (out["frame_logits"] - bias)).sum(1) + bias
    assert torch.allclose(recon, logits, atol=1e-5)


def test_attention_weights_respond_to_input():
    torch.manual_seed(0)
    det = SPEC.build("test_ta")
    with torch.no_grad():
        w1 = det.explain(det.example_input(batch=1, seed=1))["frame_weights"]
        w2 = det.explain(det.example_input(batch=1, seed=2))["frame_weights"]
    assert not torch.allclose(w1, torch.full_like(w1, 1 / 5), atol=1e-4)
    assert (w1 - w2).abs().max() > 1e-4


def test_attention_ignores_padding_beyond_lengths():
    torch.manual_seed(0)
    net = LipForensicsNet(
        LipForensicsConfig.from_mapping({**SPEC.variant("test_ta").config})
    ).eval()
    x = torch.randn(2, 1, 5, 24, 24)
    with torch.no_grad():
        out = net.forward_with_weights(x, lengths=[5, 3])
    w = out["frame_weights"]
    assert torch.equal(w[1, 3:], torch.zeros(2)) and torch.allclose(w.sum(1), torch.ones(2))


def test_mean_variant_lengths_average_leading_steps():
    torch.manual_seed(0)
    net = LipForensicsNet(LipForensicsConfig.from_mapping({**SPEC.variant("test").config})).eval()
    x = torch.randn(2, 1, 5, 24, 24, dtype=torch.float64)
    net = net.double()
    with torch.no_grad():
        h = net.tcn.features(net.frame_features(x))
        expected = net.tcn.tcn_output(torch.stack([h[0].mean(1), h[1, :, :2].mean(1)]))
        assert torch.allclose(net(x, lengths=[5, 2]), expected)
        assert torch.equal(net(x, lengths=[5, 5]), net(x))
    with pytest.raises(ValueError, match="lengths"):
        net(x, lengths=[6, 2])


def test_frozen_parts_are_front_end_and_trunk():
    from dfbench_lipforensics.model import trainable_parameters

    net = SPEC.build("test_ta").net
    names = {n for n, p in net.named_parameters() if any(p is q for q in trainable_parameters(net))}
    assert names and all(n.startswith("tcn.") for n in names)
    assert any(n.startswith("tcn.attention.") for n in names)


def test_config_rejects_bad_consensus():
    with pytest.raises(ValueError, match="consensus"):
        LipForensicsConfig(consensus="max")


@pytest.mark.parametrize("variant", ["test", "test_ta"])
def test_passes_dfbench_contract_checks(variant):
    from dfbench.testing import check_detector

    check_detector(SPEC, variant)


def test_cli_group_has_train_and_leaves_convert_to_the_core():
    """Issue 13: `dfbench lipforensics convert` repeated `dfbench convert lipforensics`; one remains."""
    import click

    root = click.Group("dfbench")
    plugin.register_commands(root)
    group = root.commands["lipforensics"]
    assert "train" in group.commands and "convert" not in group.commands
