"""SBI: official-checkpoint conversion, float64 parity with efficientnet_pytorch, protocol, errors."""

from __future__ import annotations

import json

import pytest
import torch
from dfbench_sbi.convert import expected_official_keys, from_official, to_official
from dfbench_sbi.spec import SPEC
from sbi_reference import rel_err, sbi_reference

from dfbench.errors import CheckpointMismatchError
from dfbench.weights import read_weights_dir

TINY = SPEC.variant("test").config


def _official(ref: torch.nn.Module) -> dict:
    """The layout of FFraw.tar: {"model": Detector.state_dict()} with the network under ``net.``."""
    return {"model": {"net." + k: v for k, v in ref.state_dict().items()}, "optimizer": {}, "epoch": 99}


@pytest.fixture(scope="module")
def tiny_ref():
    return sbi_reference(TINY["width_mult"], TINY["depth_mult"], TINY["native_size"], seed=1)


def test_tiny_parity_float64_including_off_native_sizes(tiny_ref):
    net = from_official(_official(tiny_ref), variant="test")
    assert next(net.parameters()).dtype == torch.float64 and not net.training
    g = torch.Generator().manual_seed(0)
    for size in (64, 71):  # 71: the static padding computed for 64 px applies to other sizes too
        x = torch.rand(3, 3, size, size, generator=g, dtype=torch.float64)
        with torch.no_grad():
            ours, ref = net(x), tiny_ref(x)
        assert ours.shape == ref.shape == (3, 2)
        assert rel_err(ours, ref) <= 1e-6
        assert (ref[:, 1] - ref[:, 0]).std() > 1e-3  # the inputs are told apart


@pytest.mark.acceptance
def test_b4_380_parity_float64():
    ref = sbi_reference(1.4, 1.8, 380, seed=2)
    net = from_official(_official(ref))
    x = torch.rand(2, 3, 380, 380, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        ours, want = net(x), ref(x)
    assert rel_err(ours, want) <= 1e-6
    assert (want[0] - want[1]).abs().max() > 1e-6
    assert len(expected_official_keys()) == len(ref.state_dict()) == 706


def test_detector_logit_is_the_official_fake_probability(tiny_ref):
    det = SPEC.build("test").double().eval()
    det.net.load_state_dict(from_official(_official(tiny_ref), variant="test").state_dict())
    x = det.example_input(batch=2, seed=4)
    with torch.no_grad():
        p_ours = torch.sigmoid(det(x).double())
        p_official = tiny_ref(x.double() / 255).softmax(1)[:, 1]  # official: img / 255, no mean/std
    assert torch.allclose(p_ours, p_official, atol=1e-6)


def test_round_trip_and_bare_state_dict(tiny_ref):
    net = from_official({k: v for k, v in tiny_ref.state_dict().items()}, variant="test")
    back = to_official(net)
    assert set(back) == {"net." + k for k in tiny_ref.state_dict()}
    for k, v in tiny_ref.state_dict().items():
        assert torch.equal(back["net." + k], v), k


@pytest.mark.parametrize("breakage", ["drop", "extra", "shape"])
def test_wrong_checkpoint_refused_with_keys_listed(tiny_ref, breakage):
    model = dict(_official(tiny_ref)["model"])
    if breakage == "drop":
        del model["net._blocks.1._se_reduce.weight"]
    elif breakage == "extra":
        model["net.head.bogus"] = torch.zeros(3)
    else:
        model["net._fc.weight"] = torch.zeros(1000, model["net._fc.weight"].shape[1])
    with pytest.raises(CheckpointMismatchError) as err:
        from_official({"model": model}, variant="test")
    e = err.value
    assert {"drop": e.missing, "extra": e.unexpected, "shape": e.mismatched}[breakage]
    assert {"drop": "net._blocks.1._se_reduce.weight", "extra": "net.head.bogus", "shape": "net._fc.weight"}[breakage] in str(e)


def test_foreign_checkpoint_refused():
    with pytest.raises(CheckpointMismatchError) as err:
        from_official({"state_dict": {"backbone.conv1.weight": torch.zeros(32, 3, 3, 3)}}, variant="test")
    assert "net._conv_stem.weight" in err.value.missing and err.value.unexpected


def test_core_convert_writes_weights_with_the_protocol(tmp_path, tiny_ref):
    from dfbench.convert import convert_official

    src = tmp_path / "FFraw.tar"
    torch.save(_official(tiny_ref), src)
    out = convert_official("sbi_test", src, tmp_path / "out")
    state, config = read_weights_dir(out, expected_sha256=json.loads((out / "config.json").read_text())["sha256"])
    assert config["variant"] == "test" and config["input"]["mean"] == [0.0, 0.0, 0.0]
    assert config["input"]["aggregation"] == "mean_prob" and config["input"]["frames_per_video"] == 32
    assert torch.equal(state["net.classifier.weight"], tiny_ref.state_dict()["_fc.weight"])


def test_protocol_matches_the_official_inference():
    s = SPEC.variant("efnb4").input
    assert (s.size, s.frames_per_video, s.aggregation, s.flip_test) == (380, 32, "mean_prob", False)
    assert s.mean == (0.0, 0.0, 0.0) and s.std == (1.0, 1.0, 1.0)
    # The official recipe (RetinaFace, MTCNN offline) and the official missing-face rule; the tiny
    # test variant keeps the dlib stand-in for the same w/8, h/8 box.
    assert s.cropper == "sbi_official" and s.missing_face == "skip_half"
    t = SPEC.variant("test").input
    assert t.cropper == "laanet" and t.crop_settings == {"enlarge": 0.125, "base": 64, "margin": 0}


def test_cli_convert_refuses_a_wrong_checkpoint_with_the_keys_listed(tmp_path):
    from click.testing import CliRunner

    from dfbench.cli import cli

    src = tmp_path / "not_sbi.pth"
    torch.save({"model": {"backbone.conv1.weight": torch.zeros(32, 3, 3, 3)}}, src)
    res = CliRunner().invoke(cli, ["convert", "sbi", str(src), str(tmp_path / "out"), "--variant", "test"])
    assert res.exit_code == 1
    assert "not an official SBI" in res.output and "net._conv_stem.weight" in res.output
    assert "unexpected keys: backbone.conv1.weight" in res.output
    assert not (tmp_path / "out").exists()
