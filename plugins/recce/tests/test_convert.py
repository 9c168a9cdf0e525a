"""Official-format checkpoints: every key consumed, parity with an independent forward, errors."""

from __future__ import annotations

import json

import pytest
import torch
from dfbench_recce.convert import convert_checkpoint, from_official, infer_config, to_official
from dfbench_recce.model import RecceNet
from dfbench_recce.spec import SPEC
from recce_helpers import official_key_list
from recce_reference import reference_logits

from dfbench.errors import CheckpointMismatchError
from dfbench.weights import read_weights_dir


def test_all_official_keys_consumed_and_round_trip(official_state):
    net = from_official(official_state)
    assert isinstance(net, RecceNet) and not net.training
    assert infer_config(official_state)["entry"] == (128, 256, 728)
    back = to_official(net, encoder_fc={k: official_state[k] for k in ("encoder.fc.weight", "encoder.fc.bias")})
    assert set(back) == {e["key"] for e in official_key_list()} == set(official_state)
    for k, v in official_state.items():
        assert back[k].dtype == v.dtype and torch.equal(back[k], v), k


@pytest.mark.acceptance
def test_float64_logits_match_independent_reference_at_299_batch1(official_state):
    net = from_official(official_state)
    assert net.fc.weight.dtype == torch.float64
    x = torch.rand(1, 3, 299, 299, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        ours = net(x)
    assert ours.shape == (1, 1) and ours.dtype == torch.float64
    ref = reference_logits(official_state, x)
    assert (ours - ref).abs().max().item() < 1e-8


def test_batch_logits_match_reference_small_input(official_state):
    net = from_official(official_state)
    x = torch.rand(3, 3, 64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        ours, recons = net(x, return_recons=True)
    ref = reference_logits(official_state, x)
    assert ours.shape == (3, 1) and recons.shape == x.shape
    assert (ours - ref).abs().max().item() < 1e-8
    assert ours.std() > 1e-3  # the inputs are told apart: the comparison is not between constants


def test_training_checkpoint_and_module_prefix_accepted(official_state):
    wrapped = {"epoch": 3, "model": {"module." + k: v for k, v in official_state.items()}}
    net = from_official(wrapped)
    ref = from_official(official_state)
    for (k1, v1), (k2, v2) in zip(net.state_dict().items(), ref.state_dict().items(), strict=True):
        assert k1 == k2 and torch.equal(v1, v2)


def test_float32_weights_give_float32_network(official_state):
    st = {k: (v.float() if v.is_floating_point() else v) for k, v in official_state.items()}
    net = from_official(st)
    assert net.fc.weight.dtype == torch.float32
    out = net(torch.zeros(1, 3, 96, 96))
    assert out.dtype == torch.float32 and out.shape == (1, 1)


@pytest.mark.parametrize("breakage,named", [
    ("drop", "attention.h.0.weight"),
    ("extra", "reasoning.bogus.weight"),
    ("shape", "fc.weight"),
])
def test_wrong_checkpoints_rejected_with_keys_named(official_state, breakage, named):
    st = dict(official_state)
    if breakage == "drop":
        del st[named]
    elif breakage == "extra":
        st[named] = torch.zeros(3)
    else:
        st[named] = torch.zeros(2, 2048, dtype=torch.float64)
    with pytest.raises(CheckpointMismatchError) as err:
        from_official(st)
    assert named in str(err.value)
    assert {"drop": err.value.missing, "extra": err.value.unexpected, "shape": err.value.mismatched}[breakage]


def test_foreign_checkpoint_rejected():
    foreign = {"backbone.conv_stem.weight": torch.zeros(48, 3, 3, 3), "head.fc.weight": torch.zeros(1, 1792)}
    with pytest.raises(CheckpointMismatchError) as err:
        from_official(foreign)
    msg = str(err.value)
    assert "RECCE" in msg and "backbone.conv_stem.weight" in msg
    assert "encoder.conv1.weight" in err.value.missing


def test_tiny_network_official_round_trip():
    net = SPEC.build("test").net.double().eval()
    st = to_official(net)
    net2 = from_official(st)
    x = torch.rand(2, 3, 64, 64, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        assert torch.equal(net(x), net2(x))


@pytest.mark.parametrize("full", [pytest.param(True, marks=pytest.mark.slow), False])
def test_gf_variant_from_official_equals_recce_until_trained(official_state, full):
    state = official_state if full else to_official(SPEC.build("test").net.double())
    plain = from_official(state)
    gf = from_official(state, variant={"gf": True, "gf_dim": 16, "gf_heads": 2})
    assert gf.gf is not None and float(gf.gf.gamma.detach().abs().sum()) == 0.0
    size = 96 if full else 64
    x = torch.rand(2, 3, size, size, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(plain(x), gf(x), atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="no official format"):
        to_official(gf)


def test_convert_checkpoint_writes_safetensors_and_config(tmp_path, official_state):
    src = tmp_path / "recce_official.pth"
    torch.save({"model": official_state}, src)
    out = convert_checkpoint(src, tmp_path / "out")
    state, config = read_weights_dir(out, expected_sha256=json.loads((out / "config.json").read_text())["sha256"])
    assert config["detector"] == "recce" and config["variant"] == "default"
    assert config["input"]["size"] == 299 and config["input"]["mean"] == [0.5, 0.5, 0.5]
    assert config["dtype"] == "float32"
    det = SPEC.build("default")
    det.load_state_dict(state)
    assert torch.allclose(det.net.fc.weight.double(), official_state["fc.weight"], atol=1e-6)


def test_core_convert_command_path(tmp_path, official_state):
    """``dfbench convert recce OFFICIAL.pth OUT_DIR`` goes through the core with our converter."""
    core = pytest.importorskip("dfbench.convert")
    src = tmp_path / "official.pth"
    torch.save({"state_dict": {"module." + k: v for k, v in official_state.items()}}, src)
    out = core.convert_official("recce", src, tmp_path / "out")
    state, config = read_weights_dir(out)
    assert config["variant"] == "default" and config["dtype"] == "float64"
    assert torch.equal(state["net.attention.h.0.weight"], official_state["attention.h.0.weight"])


def test_core_convert_into_gf_variant(tmp_path, official_state):
    core = pytest.importorskip("dfbench.convert")
    src = tmp_path / "official.pth"
    torch.save(official_state, src)
    out = core.convert_official("recce_gf", src, tmp_path / "out")
    state, config = read_weights_dir(out)
    assert config["variant"] == "gf" and float(state["net.gf.gamma"].abs().sum()) == 0.0
