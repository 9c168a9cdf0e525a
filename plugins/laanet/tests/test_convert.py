"""Official checkpoint conversion: exact key set, parity with the official semantics, errors."""

from __future__ import annotations

import pytest
import torch
from dfbench_laanet.convert import from_official, official_keys, to_official
from dfbench_laanet.model import EFNB4_CONFIG, TEST_CONFIG, LAANet
from laanet_official_reference import official_forward, synthetic_official_weights

from dfbench.errors import CheckpointMismatchError

# The tiny configuration with a native size different from the input size, so that the static
# padding quirk is exercised in the fast tests too (pads computed for 60 px, fed 64 px).
QUIRKY_TINY = {**TEST_CONFIG, "native_size": 60}
TINY_REPEATS = (1,) * 7


def _entries(config) -> list[tuple[str, list[int], str]]:
    return [(k, list(s), "int64" if k.endswith("num_batches_tracked") else "float64")
            for k, s in official_keys(config).items()]


@pytest.fixture(scope="module")
def b4_official(official_key_list):
    return synthetic_official_weights(official_key_list, seed=0)


@pytest.fixture(scope="module")
def b4_converted(b4_official):
    # The released file's layout: a training checkpoint, DataParallel prefixes, float64.
    ckpt = {"epoch": 37, "state_dict": {"module." + k: v for k, v in b4_official.items()},
            "optimizer": {"state": {}, "param_groups": []}}
    return from_official(ckpt)


def test_official_key_list_is_exactly_the_released_one(official_key_list):
    keys = official_keys()
    assert list(keys) == [k for k, _, _ in official_key_list]
    assert all(keys[k] == tuple(shape) for k, shape, _ in official_key_list)
    assert len(keys) == 803


def test_b4_conversion_consumes_every_official_tensor(b4_official, b4_converted):
    net = b4_converted
    assert isinstance(net, LAANet) and not net.training
    assert all(p.dtype == torch.float64 for p in net.parameters())
    back = to_official(net)
    assert list(back) == list(b4_official)
    for k, v in b4_official.items():
        assert torch.equal(back[k], v), k


def test_tiny_parity_with_the_official_forward():
    sd = synthetic_official_weights(_entries(QUIRKY_TINY), seed=3)
    net = from_official(sd, config=QUIRKY_TINY)
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        ours = net(x)
        ref = official_forward(sd, x, native_size=60, stage_repeats=TINY_REPEATS)
        plain = official_forward(sd, x, native_size=64, stage_repeats=TINY_REPEATS)
    for k in ("cls", "hm", "cstency"):
        assert ours[k].dtype == torch.float64
        assert ours[k].shape == ref[k].shape
        assert (ours[k] - ref[k]).abs().max() < 1e-10, k
    # The comparison is sensitive to the padding quirk: ignoring it changes the outputs.
    assert (ours["hm"] - plain["hm"]).abs().max() > 1e-6


@pytest.mark.acceptance
def test_b4_384_parity_with_the_official_forward_float64(b4_official, b4_converted):
    x = torch.rand(1, 3, 384, 384, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        ours = b4_converted(x)
        ref = official_forward(b4_official, x, native_size=380)
    assert ours["cls"].shape == (1, 1)
    assert ours["hm"].shape == (1, 1, 96, 96)
    assert ours["cstency"].shape == (1, 256, 96, 96)
    for k in ("cls", "hm", "cstency"):
        assert ours[k].dtype == torch.float64
        assert (ours[k] - ref[k]).abs().max() < 1e-8, k


def test_roundtrip_through_the_official_format_keeps_outputs():
    torch.manual_seed(0)
    net = LAANet.from_config(TEST_CONFIG).eval()
    sd = to_official(net)
    assert "inception_block.pw_block.0.weight" in sd and "deconv_4.0.pw_block.0.weight" in sd
    back = from_official(sd, config=TEST_CONFIG)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        a, b = net(x), back(x)
    for k in a:
        assert torch.equal(a[k], b[k])


def test_float32_weights_give_a_float32_model():
    sd = {k: v.float() if v.is_floating_point() else v
          for k, v in synthetic_official_weights(_entries(TEST_CONFIG)).items()}
    net = from_official(sd, config=TEST_CONFIG)
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert net(torch.zeros(1, 3, 64, 64))["cls"].dtype == torch.float32


def test_accepts_a_checkpoint_file(tmp_path):
    sd = synthetic_official_weights(_entries(TEST_CONFIG))
    path = tmp_path / "official.pth"
    torch.save({"epoch": 1, "state_dict": sd, "optimizer": {"state": {}, "param_groups": []}}, path)
    net = from_official(path, config=TEST_CONFIG)
    assert torch.equal(to_official(net)["cls.5.weight"], sd["cls.5.weight"])


@pytest.fixture()
def tiny_official():
    return synthetic_official_weights(_entries(TEST_CONFIG), seed=1)


def test_missing_key_is_named(tiny_official):
    del tiny_official["_blocks.3._se_expand.bias"]
    with pytest.raises(CheckpointMismatchError, match=r"missing keys: _blocks\.3\._se_expand\.bias") as e:
        from_official(tiny_official, config=TEST_CONFIG)
    assert e.value.missing == ["_blocks.3._se_expand.bias"]


def test_mis_shaped_key_is_named_with_both_shapes(tiny_official):
    tiny_official["cls.5.weight"] = torch.zeros(2, 16, dtype=torch.float64)
    with pytest.raises(CheckpointMismatchError, match=r"cls\.5\.weight: \[2, 16\] vs \[1, 16\]"):
        from_official(tiny_official, config=TEST_CONFIG)


def test_unexpected_key_is_named(tiny_official):
    tiny_official["_fc.weight"] = torch.zeros(1000, 64, dtype=torch.float64)
    with pytest.raises(CheckpointMismatchError, match=r"unexpected keys: _fc\.weight"):
        from_official(tiny_official, config=TEST_CONFIG)


def test_inconsistent_inception_duplicates_are_refused(tiny_official):
    tiny_official["deconv_4.0.conv3_block.0.weight"] = tiny_official["deconv_4.0.conv3_block.0.weight"] + 1
    with pytest.raises(CheckpointMismatchError, match=r"inception_block\.conv3_block\.0\.weight: differs"):
        from_official(tiny_official, config=TEST_CONFIG)


def test_another_architecture_is_refused_with_a_list_of_differences():
    # A plain EfficientNet-B4 classifier (lukemelas names, with _fc) is not LAA-Net.
    sd = {k: torch.zeros(s) for k, s in official_keys(EFNB4_CONFIG).items() if k.startswith("_")}
    sd["_fc.weight"], sd["_fc.bias"] = torch.zeros(1000, 1792), torch.zeros(1000)
    with pytest.raises(CheckpointMismatchError) as e:
        from_official(sd)
    assert "deconv_1.0.0.weight" in e.value.missing and "_fc.weight" in e.value.unexpected
    assert "missing keys" in str(e.value) and "more" in str(e.value)


@pytest.mark.acceptance
def test_dfbench_convert_writes_weights_that_load_with_weights_dir(tmp_path, b4_official, b4_converted):
    from dfbench.build import build_detector
    from dfbench.convert import convert_official
    from dfbench.weights import read_weights_dir

    pth = tmp_path / "official.pth"
    torch.save({"epoch": 1, "state_dict": b4_official}, pth)
    out = convert_official("laanet", pth, tmp_path / "converted")
    state, config = read_weights_dir(out, expected_sha256=None)
    assert config["detector"] == "laanet" and config["variant"] == "efnb4" and config["dtype"] == "float64"
    assert config["input"]["flip_test"] is True and config["input"]["cropper"] == "laanet_official"
    det = build_detector("laanet", weights=str(out))
    assert det.trained
    det.configure_inference(precision="fp64")
    x = det.example_input(batch=1, seed=0)
    with torch.no_grad():
        got = det(x).double()
        want = b4_converted(x.double() / 255 * 2 - 1)["cls"][:, 0]
    assert torch.allclose(got, want, atol=1e-6)
