"""Compare the weights of two training runs: "2 processes == 1 process with the doubled batch".

Every trainable family checks the training core's data-parallel contract on its ``test`` variant:
one process with batch ``2b`` and two ``torchrun`` processes with batch ``b`` must end with the same
weights. The runs differ in float summation order, so the comparison needs bounds, and each family
has a reason for its own (Adam turns a float-noise gradient into a full ``±lr`` step, so a bias
right before a BatchNorm, and the running mean below it, may drift). :func:`assert_weights_match`
takes those bounds explicitly and, when they do not hold, fails with one message naming the worst
tensors, instead of a loop per test that stops at the first key.

The bounds, all applied to ``d = |actual - expected|`` element by element:

- ``atol + rtol * |expected|``: an element above it is *off*. Only tensors whose key ends with one
  of ``close_keys`` are counted (``None``: every floating-point tensor); at most a fraction
  ``max_off_fraction`` of the counted elements may be off (``0``: none).
- ``max_abs``: a hard cap on ``d`` for every floating-point tensor except keys ending with one of
  ``uncapped`` (``None``: no cap).
- Everything else must be exact: the two key sets, each tensor's shape and dtype, every
  non-floating-point tensor (``num_batches_tracked``); a NaN or inf in either run's weights fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

__all__ = ["assert_weights_match", "weight_mismatches"]


@dataclass(frozen=True)
class _Stats:
    key: str
    max_diff: float
    n_off: int
    numel: int
    counted: bool
    capped: bool


def _ends(key: str, suffixes: Iterable[str] | None) -> bool:
    return suffixes is None or key.endswith(tuple(suffixes))


def weight_mismatches(expected: Mapping[str, torch.Tensor], actual: Mapping[str, torch.Tensor], *,
                      atol: float, rtol: float, max_off_fraction: float = 0.0,
                      close_keys: Iterable[str] | None = None, max_abs: float | None = None,
                      uncapped: Iterable[str] = (), why: str = "") -> list[str]:
    """The failures of :func:`assert_weights_match` as lines (empty when the bounds hold)."""
    close_keys = None if close_keys is None else tuple(close_keys)
    uncapped = tuple(uncapped)
    problems: list[str] = []
    missing, extra = sorted(set(expected) - set(actual)), sorted(set(actual) - set(expected))
    if missing or extra:
        problems.append(f"key sets differ: only in expected {missing[:5]}, only in actual {extra[:5]}")
    stats: list[_Stats] = []
    for key in expected:
        if key not in actual:
            continue
        a, e = actual[key].detach().cpu(), expected[key].detach().cpu()
        if a.shape != e.shape or a.dtype != e.dtype:
            problems.append(f"{key}: expected {e.dtype}{list(e.shape)}, got {a.dtype}{list(a.shape)}")
            continue
        if not e.is_floating_point():
            if not torch.equal(a, e):
                problems.append(f"{key}: non-float tensors differ ({e.flatten()[:4].tolist()} vs "
                                f"{a.flatten()[:4].tolist()})")
            continue
        if not (torch.isfinite(a).all() and torch.isfinite(e).all()):
            problems.append(f"{key}: NaN/inf in the weights")
            continue
        # Same arithmetic as torch.isclose (|a - e| <= atol + rtol * |e|), in the tensor's dtype.
        d = (a - e).abs()
        off = d > atol + rtol * e.abs()
        stats.append(_Stats(key, float(d.max()) if d.numel() else 0.0, int(off.sum()), d.numel(),
                            _ends(key, close_keys), not key.endswith(uncapped)))
    if max_abs is not None:
        over = sorted((s for s in stats if s.capped and s.max_diff > max_abs), key=lambda s: -s.max_diff)
        if over:
            worst = ", ".join(f"{s.key} (max |diff| {s.max_diff:.3g})" for s in over[:5])
            problems.append(f"{len(over)} tensor(s) moved apart by more than max_abs={max_abs:g}: {worst}")
    counted = [s for s in stats if s.counted]
    n_total, n_off = sum(s.numel for s in counted), sum(s.n_off for s in counted)
    if not counted:
        problems.append(f"no floating-point tensor (keys ending with {close_keys}): nothing was compared")
    elif n_off and not n_off / n_total < max_off_fraction:
        worst = sorted((s for s in counted if s.n_off), key=lambda s: (-s.n_off, -s.max_diff))
        names = ", ".join(f"{s.key} ({s.n_off} of {s.numel} off, max |diff| {s.max_diff:.3g})" for s in worst[:5])
        problems.append(f"{n_off} of {n_total} weights differ by more than {atol:g} + {rtol:g}*|expected| "
                        f"(allowed: fraction < {max_off_fraction:g}); worst: {names}")
    if problems and why:
        problems.append(f"bounds: {why}")
    return problems


def assert_weights_match(expected: Mapping[str, torch.Tensor], actual: Mapping[str, torch.Tensor], *,
                         atol: float, rtol: float, max_off_fraction: float = 0.0,
                         close_keys: Iterable[str] | None = None, max_abs: float | None = None,
                         uncapped: Iterable[str] = (), why: str = "") -> None:
    """Fail (``AssertionError``) unless ``actual`` matches ``expected`` within the bounds above.

    ``why`` says why the bounds are what they are; it is printed with a failure."""
    problems = weight_mismatches(expected, actual, atol=atol, rtol=rtol, max_off_fraction=max_off_fraction,
                                 close_keys=close_keys, max_abs=max_abs, uncapped=uncapped, why=why)
    if problems:
        raise AssertionError("weights differ:\n  " + "\n  ".join(problems))
