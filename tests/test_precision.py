"""``--precision auto`` / ``--channels-last auto``: the choice per device, its tolerance and cache."""

from __future__ import annotations

import json
import os

import pytest
import torch

from dfbench import precision as P
from dfbench.detector import Detector
from dfbench.specs import InputSpec

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _conv_detector(unit: str = "frame") -> Detector:
    torch.manual_seed(0)
    if unit == "frame":
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                  torch.nn.Flatten(), torch.nn.Linear(8, 1))
        spec = InputSpec(unit="frame", size=32, cropper="dlib_align", frames_per_video=4)
    else:
        net = torch.nn.Sequential(torch.nn.Flatten(start_dim=1), torch.nn.LazyLinear(1))
        spec = InputSpec(unit="clip", size=16, colour="gray", clip_length=3, cropper="mouth",
                         frames_per_video=0, mean=(0.4,), std=(0.2,))
    det = Detector(net, spec)
    if unit == "clip":
        det(det.example_input(1))  # materialise the lazy layer
    return det


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DFBENCH_CACHE", str(tmp_path / "cache"))


def test_auto_on_a_bf16_cpu_is_not_fp32_nchw(monkeypatch):
    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: True)
    c = P.choose(_conv_detector(), "conv", "cpu")
    assert (c.precision, c.channels_last) == ("bf16", True)
    assert c.mode == "auto" and c.max_abs_logit_dev <= P.TOLERANCE
    assert c.candidates[0]["within_tolerance"] is True
    assert "auto on cpu" in c.describe()


def test_auto_without_bf16_keeps_fp32_but_takes_channels_last(monkeypatch):
    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: False)
    c = P.choose(_conv_detector(), "conv", "cpu")
    assert (c.precision, c.channels_last) == ("fp32", True)
    assert [x["precision"] for x in c.candidates] == ["fp32"]


def test_a_configuration_outside_the_tolerance_is_rejected(monkeypatch):
    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: True)
    c = P.choose(_conv_detector(), "conv", "cpu", tolerance=1e-12)
    assert c.precision == "fp32"
    assert c.candidates[0] == {**c.candidates[0], "precision": "bf16", "within_tolerance": False}
    assert c.candidates[0]["max_abs_logit_dev"] > 1e-12


def test_explicit_settings_pass_through_and_fp32_is_the_exact_path():
    det = _conv_detector()
    assert (P.choose(det, "conv", "cpu", "fp32").precision, P.choose(det, "conv", "cpu", "fp32").channels_last) == \
        ("fp32", False)
    assert P.choose(det, "conv", "cpu", "fp32", True).channels_last is True
    b = P.choose(det, "conv", "cpu", "bf16")
    assert (b.precision, b.channels_last, b.mode) == ("bf16", True, "explicit")
    assert b.protocol() == {"mode": "explicit", "tolerance": None}


def test_auto_precision_with_explicit_layout(monkeypatch):
    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: True)
    c = P.choose(_conv_detector(), "conv", "cpu", channels_last=False)
    assert (c.precision, c.channels_last) == ("bf16", False)


def test_clip_detectors_never_get_channels_last(monkeypatch):
    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: True)
    c = P.choose(_conv_detector("clip"), "clip", "cpu")
    assert c.channels_last is False and c.precision in ("bf16", "fp32")
    assert P.calibration_units(_conv_detector("clip")).shape == (8, 3, 1, 16, 16)


def test_choice_is_cached_once_per_detector_and_device(monkeypatch, tmp_path):
    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: True)
    det = _conv_detector()
    first = P.choose(det, "conv", "cpu")
    files = list((tmp_path / "cache" / "precision").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["precision"] == first.precision
    calls = []
    monkeypatch.setattr(P, "_calibrate", lambda *a, **k: calls.append(a) or first)
    again = P.choose(det, "conv", "cpu")
    assert again.cached and not calls
    assert (again.precision, again.channels_last, again.max_abs_logit_dev) == \
        (first.precision, first.channels_last, first.max_abs_logit_dev)
    P.choose(det, "other_detector", "cpu")  # another detector id: measured afresh
    assert len(calls) == 1


def test_cli_run_defaults_to_auto():
    from dfbench.cli import run

    opts = {p.name: p for p in run.params}
    assert opts["precision"].default == "auto" and opts["channels_last"].default == "auto"


@pytest.mark.parametrize("args, expected", [([], "auto"), (["--channels-last"], "on"),
                                            (["--channels-last", "off"], "off")])
def test_cli_channels_last_flag_and_value(args, expected):
    from dfbench.cli import run

    ctx = run.make_context("run", ["-d", "x", "-s", "y", *args, "--json"])
    assert ctx.params["channels_last"] == expected


def test_a_detector_that_cannot_be_calibrated_runs_fp32(monkeypatch, tmp_path):
    def broken(*a, **k):
        raise RuntimeError("cannot copy this model")

    monkeypatch.setattr(P, "_calibrate", broken)
    c = P.choose(_conv_detector(), "conv", "cpu")
    assert (c.precision, c.channels_last, c.mode) == ("fp32", False, "auto")
    assert "cannot copy" in c.candidates[0]["error"]
    assert not list((tmp_path / "cache").rglob("*.json"))  # a failure is not cached


def test_a_trained_model_with_near_tied_logits_keeps_fp32(monkeypatch):
    """Issue 16: bf16 must not reorder a trained model's near-tied scores (its AUC would move): the
    deviation is also bounded by a fraction of the fp32 calibration logits' spread. Untrained
    models (benchmarks) keep the absolute bound only."""
    import numpy as np

    monkeypatch.setattr(P, "cpu_has_fast_bf16", lambda: True)
    det = _conv_detector()
    ref = P.reference_logits(det, P.calibration_units(det))
    spread = float(np.max(ref) - np.min(ref))
    assert P.deviation_limit(ref, 0.1, None) == 0.1
    assert P.deviation_limit(ref, 0.1, P.RELATIVE_TOLERANCE) == pytest.approx(min(0.1, 0.05 * spread))
    untrained = P.choose(det, "conv", "cpu")
    assert untrained.precision == "bf16" and untrained.relative_tolerance is None
    assert untrained.protocol() == {"mode": "auto", "tolerance": P.TOLERANCE}
    det.trained = True
    # Make the logits nearly constant: bf16 rounding is then large against their spread.
    with torch.no_grad():
        det.net[-1].weight.mul_(1e-4)
    trained = P.choose(det, "conv_trained", "cpu")
    assert trained.relative_tolerance == P.RELATIVE_TOLERANCE
    assert trained.protocol() == {"mode": "auto", "tolerance": P.TOLERANCE, "relative_tolerance": 0.05}
    assert (trained.precision, trained.channels_last) != ("bf16", True)
    assert trained.candidates[0]["precision"] == "bf16" and trained.candidates[0]["within_tolerance"] is False
