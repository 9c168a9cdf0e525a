"""Official-checkpoint conversion and float64 parity with an independent functional forward."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from dfbench_lipforensics.convert import convert_file, from_official, to_official
from dfbench_lipforensics.model import LipForensicsNet, symmetric_chomp

from dfbench.errors import CheckpointMismatchError
from dfbench.weights import read_weights_dir


# ---------------------------------------------------------------------------------------------
# An independent re-computation of the official forward, written with functional ops straight
# from the state dict and the architecture notes (no code shared with model.py). The TCN uses
# "same" padding ((k-1)*d/2 each side) instead of pad-(k-1)*d-then-chomp: equal by construction
# only if the symmetric chomp is right.
# ---------------------------------------------------------------------------------------------
def _bn(x, sd, p):
    return F.batch_norm(
        x,
        sd[p + ".running_mean"],
        sd[p + ".running_var"],
        sd[p + ".weight"],
        sd[p + ".bias"],
        training=False,
        eps=1e-5,
    )


def reference_forward(sd: dict[str, torch.Tensor], x: torch.Tensor, lengths=None) -> torch.Tensor:
    b, _, t, _, _ = x.shape
    y = F.conv3d(x, sd["frontend3D.0.weight"], stride=(1, 2, 2), padding=(2, 3, 3))
    y = F.prelu(_bn(y, sd, "frontend3D.1"), sd["frontend3D.2.weight"])
    y = F.max_pool3d(y, (1, 3, 3), (1, 2, 2), (0, 1, 1))
    frames = torch.stack([y[:, :, i] for i in range(t)], dim=1)  # [B, T, C, H, W]
    y = frames.reshape(b * t, *frames.shape[2:])
    for layer in range(1, 5):
        for blk in range(2):
            p = f"trunk.layer{layer}.{blk}"
            stride = 2 if (layer > 1 and blk == 0) else 1
            out = F.conv2d(y, sd[p + ".conv1.weight"], stride=stride, padding=1)
            out = F.prelu(_bn(out, sd, p + ".bn1"), sd[p + ".relu1.weight"])
            out = _bn(F.conv2d(out, sd[p + ".conv2.weight"], padding=1), sd, p + ".bn2")
            if p + ".downsample.0.weight" in sd:
                res = _bn(
                    F.conv2d(y, sd[p + ".downsample.0.weight"], stride=stride),
                    sd,
                    p + ".downsample.1",
                )
            else:
                res = y
            y = F.prelu(out + res, sd[p + ".relu2.weight"])
    feats = y.mean(dim=(2, 3)).reshape(b, t, -1)
    h = feats.permute(0, 2, 1)
    for lvl in range(4):
        d = 2**lvl
        p = f"tcn.mb_ms_tcn.network.{lvl}"
        inp = h
        for layer in range(2):
            branches = []
            for j, k in enumerate((3, 5, 7)):
                q = f"{p}.cbcr{layer}_{j}"
                z = F.conv1d(
                    inp,
                    sd[q + ".conv.weight"],
                    sd[q + ".conv.bias"],
                    padding=(k - 1) * d // 2,
                    dilation=d,
                )
                branches.append(F.prelu(_bn(z, sd, q + ".batchnorm"), sd[q + ".non_lin.weight"]))
            inp = torch.cat(branches, dim=1)
        res = F.conv1d(h, sd[p + ".downsample.weight"], sd[p + ".downsample.bias"])
        h = F.prelu(inp + res, sd[p + ".relu_final.weight"])
    lengths = lengths or [t] * b
    pooled = torch.stack([h[i, :, :n].sum(dim=1) / n for i, n in enumerate(lengths)])
    return F.linear(pooled, sd["tcn.tcn_output.weight"], sd["tcn.tcn_output.bias"])


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.fixture(scope="module")
def clip64() -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 1, 25, 88, 88, generator=g, dtype=torch.float64)


@pytest.fixture(scope="module")
def net64(official_sd) -> LipForensicsNet:
    return from_official(official_sd)


def test_official_keys_load_in_eval_mode_and_weights_dtype(net64, official_sd, official_key_shapes):
    assert not net64.training
    assert all(p.dtype == torch.float64 for p in net64.parameters())
    assert set(net64.state_dict()) == set(official_key_shapes)
    for k, v in net64.state_dict().items():
        assert tuple(v.shape) == official_key_shapes[k][0], k
    for k, v in net64.state_dict().items():
        assert torch.equal(v, official_sd[k]), k


def test_float64_parity_with_independent_forward(net64, official_sd, clip64):
    with torch.no_grad():
        ours = net64(clip64)
        ref = reference_forward(official_sd, clip64)
    assert ours.shape == (2, 1) and ours.dtype == torch.float64
    assert ref.abs().max() > 1e-3  # a non-degenerate signal, so the relative check means something
    assert _rel(ours, ref) < 1e-8


def test_lengths_follow_official_average(net64, official_sd, clip64):
    x = clip64[:, :, :, :48, :48]  # smaller frames keep this check fast; the 88x88 one is above
    with torch.no_grad():
        ours = net64(x, lengths=[25, 13])
        ref = reference_forward(official_sd, x, lengths=[25, 13])
        full = net64(x)
    assert _rel(ours, ref) < 1e-8
    assert torch.equal(ours[0], full[0]) and not torch.allclose(ours[1], full[1])


def test_full_checkpoint_with_module_prefix(official_sd, clip64, net64):
    ckpt = {"epoch": 3, "model_state_dict": {"module." + k: v for k, v in official_sd.items()}}
    net = from_official(ckpt)
    x = clip64[:1, :, :5, :40, :40]
    with torch.no_grad():
        assert torch.equal(net(x), net64(x))


def test_float32_weights_give_float32_model(official_sd):
    net = from_official(
        {k: v.float() if v.is_floating_point() else v for k, v in official_sd.items()}
    )
    assert all(p.dtype == torch.float32 for p in net.parameters())


def test_wrong_checkpoint_lists_every_difference(official_sd):
    bad = dict(official_sd)
    del bad["tcn.tcn_output.bias"]
    bad["trunk.fc.weight"] = torch.zeros(2, 512, dtype=torch.float64)
    bad["tcn.mb_ms_tcn.network.2.downsample.weight"] = torch.zeros(768, 768, 3, dtype=torch.float64)
    with pytest.raises(CheckpointMismatchError) as err:
        from_official(bad)
    msg = str(err.value)
    assert "tcn.tcn_output.bias" in msg and "trunk.fc.weight" in msg
    assert "network.2.downsample.weight: (768, 768, 3) vs (768, 768, 1)" in msg
    assert err.value.missing == ["tcn.tcn_output.bias"] and err.value.unexpected == [
        "trunk.fc.weight"
    ]


def test_foreign_checkpoint_is_refused_not_crashed():
    with pytest.raises(CheckpointMismatchError) as err:
        from_official(
            {"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(1000, 512)}
        )
    assert len(err.value.missing) == 343 and "conv1.weight" in err.value.unexpected


def test_to_official_is_the_inverse(official_sd, net64):
    back = to_official(net64)
    assert set(back) == set(official_sd)
    assert all(torch.equal(back[k], official_sd[k]) for k in back)
    with pytest.raises(ValueError, match="no official"):
        to_official(from_official(official_sd, consensus="attention"))


def test_attention_variant_starts_equal_to_official(official_sd, net64, clip64):
    ta = from_official(official_sd, consensus="attention")
    x = clip64[:, :, :, :48, :48]
    with torch.no_grad():
        out = ta.forward_with_weights(x)
        assert torch.allclose(out["logits"], net64(x), rtol=1e-10, atol=1e-12)
    assert torch.allclose(out["frame_weights"], torch.full_like(out["frame_weights"], 1 / 25))


def test_symmetric_chomp_equals_same_padding():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 25, generator=g, dtype=torch.float64)
    for k in (3, 5, 7):
        for d in (1, 2, 4, 8):
            w = torch.randn(3, 4, k, generator=g, dtype=torch.float64)
            long = F.conv1d(x, w, padding=(k - 1) * d, dilation=d)
            assert long.shape[2] == 25 + (k - 1) * d
            same = F.conv1d(x, w, padding=(k - 1) * d // 2, dilation=d)
            chomped = symmetric_chomp(long, (k - 1) * d)
            assert chomped.shape[2] == 25
            assert torch.allclose(chomped, same, atol=1e-12)


def test_every_tcn_block_projects_its_residual(net64):
    blocks = list(net64.tcn.mb_ms_tcn.network)
    assert [tuple(b.downsample.weight.shape) for b in blocks] == [(768, 512, 1)] + [
        (768, 768, 1)
    ] * 3
    # The projection is used: zeroing it changes the output of a 768 -> 768 block.
    h = torch.randn(1, 768, 25, dtype=torch.float64)
    blk = blocks[1]
    with torch.no_grad():
        before = blk(h)
        w = blk.downsample.weight.clone()
        blk.downsample.weight.zero_()
        after = blk(h)
        blk.downsample.weight.copy_(w)
    assert not torch.allclose(before, after)


def test_convert_file_writes_dfbench_weights(official_sd, tmp_path):
    sd32 = {k: v.float() if v.is_floating_point() else v for k, v in official_sd.items()}
    src = tmp_path / "lipforensics_ff.pth"
    torch.save({"model_state_dict": sd32}, src)
    out = convert_file(src, tmp_path / "out")
    state, config = read_weights_dir(out, expected_sha256=None)
    assert config["detector"] == "lipforensics" and config["variant"] == "r18"
    assert config["input"]["mean"] == [0.421] and config["input"]["clip_length"] == 25
    assert set(state) == {"net." + k for k in official_sd}
    from dfbench_lipforensics.spec import SPEC

    det = SPEC.build("r18")
    det.load_state_dict(state)
    assert torch.equal(det.net.tcn.tcn_output.weight, sd32["tcn.tcn_output.weight"])


def test_core_convert_into_the_attention_variant(tmp_path):
    """`dfbench convert lipforensics_r18_ta OFFICIAL.pth OUT` builds the TA variant on official weights."""
    import torch
    from dfbench_lipforensics.convert import to_official

    from dfbench.build import build_detector
    from dfbench.convert import convert_official
    from dfbench.registry import get_registry

    official = to_official(get_registry().detectors["lipforensics"].build("r18").net)
    torch.save(official, tmp_path / "lf.pth")
    out = convert_official("lipforensics_r18_ta", tmp_path / "lf.pth", tmp_path / "out")
    det = build_detector("lipforensics_r18_ta", weights=str(out))
    assert det.trained and det.variant.name == "r18_ta"
    assert det(det.example_input(1)).shape == (1,)
