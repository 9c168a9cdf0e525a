"""The LAA-Net network: backbone fidelity, the padding quirk, decoder and head semantics."""

from __future__ import annotations

import pytest
import timm
import torch
import torch.nn.functional as F
from dfbench_laanet.model import (
    EFNB4_CONFIG,
    TEST_CONFIG,
    LAANet,
    gate,
)

from dfbench.zoo.efficientnet import FixedPadConv2d


@pytest.fixture(scope="module")
def b4() -> LAANet:
    return LAANet.from_config(EFNB4_CONFIG).eval()


@pytest.fixture()
def tiny() -> LAANet:
    torch.manual_seed(0)
    return LAANet.from_config(TEST_CONFIG).eval()


def test_b4_backbone_is_timm_tf_efficientnet_b4(b4):
    ref = timm.create_model("tf_efficientnet_b4", pretrained=False, num_classes=0, global_pool="")
    ours = {k: tuple(v.shape) for k, v in b4.encoder.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    assert list(ours) == list(theirs)
    assert ours == theirs
    bns = [m for m in b4.encoder.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 96 and all(m.eps == 1e-3 for m in bns)


def test_b4_parameter_count_matches_the_official_model(b4):
    # Reference §1.6: backbone 17,548,616 + decoder and heads 9,580,170.
    assert sum(p.numel() for p in b4.encoder.parameters()) == 17_548_616
    assert sum(p.numel() for p in b4.parameters()) == 27_128_786


def test_b4_static_padding_reproduces_the_official_quirk(b4):
    pads = {name: m.fixed_pad for name, m in b4.named_modules() if isinstance(m, FixedPadConv2d)}
    assert pads == {
        "encoder.conv_stem": (0, 1, 0, 1),
        "encoder.blocks.1.0.conv_dw": (0, 1, 0, 1),
        "encoder.blocks.2.0.conv_dw": (2, 2, 2, 2),  # block 6: 95-px padding fed 96 px
        "encoder.blocks.3.0.conv_dw": (0, 1, 0, 1),
        "encoder.blocks.5.0.conv_dw": (1, 2, 1, 2),
    }
    # Without the quirk (native size = input size) block 6 gets TF-SAME padding.
    plain = LAANet.from_config({**TEST_CONFIG, "width_mult": 1.4, "depth_mult": 1.8, "num_features": None,
                                "image_size": 384, "native_size": 384})
    assert plain.encoder.blocks[2][0].conv_dw.fixed_pad == (1, 2, 1, 2)


def test_output_shapes_and_heads(tiny):
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        out = tiny(x)
        cls_only = tiny(x, heads=("cls",))
    assert set(out) == {"hm", "cls", "cstency"}
    assert out["hm"].shape == (2, 1, 16, 16)
    assert out["cls"].shape == (2, 1)
    assert out["cstency"].shape == (2, 16, 16, 16)
    assert set(cls_only) == {"cls"}
    assert torch.equal(cls_only["cls"], out["cls"])
    with pytest.raises(ValueError, match="unknown LAA-Net heads"):
        tiny(x, heads=("cls", "mask"))


def test_b4_taps_and_decoder_widths(b4):
    assert b4.tap_stages == (2, 4, 6)
    dec = b4.decoder
    assert dec.stage1.conv.weight.shape == (448, 1792, 3, 3)
    assert dec.stage2.body.conv.weight.shape == (160, 896, 3, 3)
    assert dec.stage3.body.conv.weight.shape == (56, 320, 3, 3)
    assert dec.stage4.up.weight.shape == (112, 112, 4, 4)
    assert b4.hm.conv.weight.shape == (64, 112, 3, 3) and b4.cls.fc.weight.shape == (1, 64)


def test_gate_suppresses_lateral_features_where_the_decoder_is_confident():
    d = torch.tensor([-20.0, 0.0, 20.0]).view(1, 3, 1, 1)
    f = torch.ones(1, 3, 1, 1)
    out = gate(d, f)
    assert torch.equal(out[:, :3], d)
    assert torch.allclose(out[:, 3:].flatten(), torch.tensor([1.0, 0.5, 0.0]), atol=1e-6)


def test_inception_shares_one_reduction_used_four_times_in_training(tiny):
    inc = tiny.decoder.stage4.body
    convs1x1 = [m for m in inc.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1)]
    assert len(convs1x1) == 1  # one shared 1x1 reduction
    x = torch.randn(2, inc.reduce.conv.in_channels, 8, 8)
    inc.train()
    before = int(inc.reduce.bn.num_batches_tracked)
    inc(x)
    assert int(inc.reduce.bn.num_batches_tracked) - before == 4  # as the official block (4 calls)
    inc.eval()
    with torch.no_grad():
        r = inc.reduce(x)
        want = torch.cat([r, inc.conv3(r), inc.conv5(r), inc.reduce(F.max_pool2d(x, 3, 1, 1))], 1)
        assert torch.equal(inc(x), want)


def test_eval_is_deterministic_and_training_uses_dropout(tiny):
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(tiny(x)["cls"], tiny(x)["cls"])
        tiny.train()
        torch.manual_seed(1)
        a = tiny(x)["hm"]
        torch.manual_seed(2)
        b = tiny(x)["hm"]
    assert not torch.allclose(a, b)


def test_official_initialisation(tiny):
    assert torch.allclose(tiny.hm.out.bias, torch.full_like(tiny.hm.out.bias, -2.19))
    assert torch.count_nonzero(tiny.cstency.out.bias) == 0
    assert torch.all(tiny.decoder.stage2.bn.weight == 1)


def test_from_config_rejects_unknown_keys():
    with pytest.raises(TypeError):
        LAANet.from_config({**TEST_CONFIG, "widht_mult": 1.0})
    with pytest.raises(ValueError, match="tf_efficientnet"):
        LAANet.from_config({**TEST_CONFIG, "backbone": "resnet50"})


def test_gradients_reach_every_parameter(tiny):
    tiny.train()
    out = tiny(torch.rand(2, 3, 64, 64) * 2 - 1)
    (out["hm"].mean() + out["cls"].mean() + out["cstency"].mean()).backward()
    dead = [n for n, p in tiny.named_parameters() if p.grad is None]
    assert not dead
