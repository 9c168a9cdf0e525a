"""``dfbench.testing.dist.assert_weights_match``: the one comparison behind every "2 processes ==
1 process with the doubled batch" test.

The helper must fail on a perturbed weight and name it, and it must reproduce the two bound shapes
the tests used before it existed: ``torch.testing.assert_close`` (the core's tiny task) and the
per-family loop (hard cap on every weight, a small fraction of elements allowed off); both are
kept below as oracles and compared on random perturbations around the tolerance edge.
"""

from __future__ import annotations

import pytest
import torch

from dfbench.testing.dist import assert_weights_match, weight_mismatches

FAMILY = dict(atol=1e-5, rtol=1e-4, close_keys=("weight", "running_var"), max_off_fraction=1e-3,
              max_abs=3 * 1e-3 * 2, uncapped=("running_mean",))


def _state(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"conv.weight": torch.randn(64, 3, 3, 3, generator=g), "conv.bias": torch.randn(64, generator=g),
            "bn.weight": torch.rand(64, generator=g) + 0.5, "bn.bias": torch.randn(64, generator=g),
            "bn.running_mean": torch.randn(64, generator=g), "bn.running_var": torch.rand(64, generator=g) + 0.1,
            "bn.num_batches_tracked": torch.tensor(4), "fc.weight": torch.randn(10, 64, generator=g)}


def _copy(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in sd.items()}


def test_identical_weights_pass():
    sd = _state()
    assert_weights_match(sd, _copy(sd), atol=0, rtol=0)
    assert_weights_match(sd, _copy(sd), **FAMILY)


def test_a_perturbed_weight_fails_and_is_named():
    sd = _state()
    other = _copy(sd)
    other["fc.weight"][3, 7] += 1e-3
    with pytest.raises(AssertionError, match=r"1 of \d+ weights differ.*worst: fc\.weight \(1 of 640 off") as e:
        assert_weights_match(sd, other, atol=1e-5, rtol=1e-4, why="because")
    assert "bounds: because" in str(e.value)


def test_the_worst_tensors_come_first():
    sd = _state()
    other = _copy(sd)
    other["fc.weight"][0, :2] += 1e-2
    other["conv.weight"][:5] += 1e-3
    msg = "\n".join(weight_mismatches(sd, other, atol=1e-5, rtol=1e-4))
    assert msg.index("conv.weight (135 of 1728 off") < msg.index("fc.weight (2 of 640 off")


def test_the_hard_cap_and_its_exemptions():
    sd = _state()
    other = _copy(sd)
    other["bn.running_mean"] += 1.0  # uncapped and not counted: passes under the family bounds
    assert_weights_match(sd, other, **FAMILY)
    with pytest.raises(AssertionError, match=r"more than max_abs=0.006: bn\.running_mean \(max \|diff\| 1\)"):
        assert_weights_match(sd, other, **{**FAMILY, "uncapped": ()})
    other = _copy(sd)
    other["conv.bias"][0] += 0.01  # not counted (a bias) but capped
    with pytest.raises(AssertionError, match=r"conv\.bias"):
        assert_weights_match(sd, other, **FAMILY)


def test_the_fraction_of_weights_allowed_off():
    big = {"w.weight": torch.ones(20_000)}
    other = _copy(big)
    other["w.weight"][:3] += 1e-3  # 1.5e-4 of the elements
    assert_weights_match(big, other, atol=1e-5, rtol=1e-4, max_off_fraction=1e-3)
    with pytest.raises(AssertionError, match="3 of 20000 weights differ"):
        assert_weights_match(big, other, atol=1e-5, rtol=1e-4, max_off_fraction=1e-4)


@pytest.mark.parametrize("change", ["counter", "missing", "shape", "dtype", "nan"])
def test_everything_but_float_noise_must_be_exact(change):
    sd = _state()
    other = _copy(sd)
    if change == "counter":
        other["bn.num_batches_tracked"] += 1
    elif change == "missing":
        del other["bn.bias"]
    elif change == "shape":
        other["bn.bias"] = other["bn.bias"][:-1]
    elif change == "dtype":
        other["bn.bias"] = other["bn.bias"].double()
    else:
        other["bn.running_mean"][0] = float("nan")
    with pytest.raises(AssertionError, match="num_batches_tracked|key sets|bn.bias|NaN"):
        assert_weights_match(sd, other, **FAMILY)


def _family_loop(one, two, lr, steps, frac, cap_running_mean):
    """The loop the family tests had before the helper (the oracle for "same bounds")."""
    n_total = n_off = 0
    for k, a in one.items():
        b = two[k]
        if not a.is_floating_point():
            assert torch.equal(a, b), k
            continue
        d = (a - b).abs()
        if cap_running_mean or not k.endswith("running_mean"):
            assert d.max() <= 3 * lr * steps, k
        if k.endswith(("weight", "running_var")):
            n_total += d.numel()
            n_off += int((d > 1e-5 + 1e-4 * a.abs()).sum())
    assert n_off / n_total < frac, f"{n_off} of {n_total} weights differ"


def _passes(fn, *args, **kwargs) -> bool:
    try:
        fn(*args, **kwargs)
    except AssertionError:
        return False
    return True


def test_same_verdicts_as_the_bounds_it_replaced():
    verdicts: dict[str, set[bool]] = {"core": set(), "laanet": set(), "recce": set()}
    for seed in range(60):
        g = torch.Generator().manual_seed(seed)
        one = _state(seed)
        two = _copy(one)
        for v in two.values():  # noise straddling atol + rtol*|w| on a few elements, sometimes the cap
            if v.is_floating_point():
                scale = [1e-6, 1e-5, 1e-4, 3e-3, 1e-2][int(torch.randint(5, (1,), generator=g))]
                mask = torch.rand(v.shape, generator=g) < 0.002 * (1 + seed % 3)
                v += mask * torch.randn(v.shape, generator=g) * scale + torch.randn(v.shape, generator=g) * 1e-7
        # The core: torch.testing.assert_close(one[k], two[k], rtol=1e-4, atol=1e-5) for every key.
        old = all(_passes(torch.testing.assert_close, one[k], two[k], rtol=1e-4, atol=1e-5) for k in one)
        assert _passes(assert_weights_match, two, one, atol=1e-5, rtol=1e-4) == old, seed
        verdicts["core"].add(old)
        # LAA-Net (every float capped, fraction 1e-4); RECCE/LipForensics (running means uncapped, 1e-3).
        for name, frac, cap_rm in (("laanet", 1e-4, True), ("recce", 1e-3, False)):
            old = _passes(_family_loop, one, two, 1e-3, 2, frac, cap_rm)
            new = _passes(assert_weights_match, one, two,
                          **{**FAMILY, "max_off_fraction": frac, "uncapped": () if cap_rm else ("running_mean",)})
            assert new == old, (seed, name)
            verdicts[name].add(old)
    assert all(v == {True, False} for v in verdicts.values()), verdicts  # both verdicts were exercised
