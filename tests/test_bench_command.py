"""``dfbench bench``: the throughput protocol's figures and JSON, on tiny ``test`` variants.

Speeds are never asserted (the machines are shared); these tests check that every figure is
measured, is consistent with the others and lands in the JSON the leaderboard reads.
"""

from __future__ import annotations

import json
import os

import pytest
import torch
from click.testing import CliRunner

from dfbench.bench import bench_detector, count_macs, summary_lines, supported_precisions
from dfbench.detector import Detector
from dfbench.specs import InputSpec

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _conv_detector(size: int = 16) -> Detector:
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, bias=False), torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 1)
    )
    return Detector(
        net, InputSpec(unit="frame", size=size, cropper="dlib_align", frames_per_video=4)
    )


def test_macs_are_counted_exactly_for_conv_and_linear():
    det = _conv_detector().eval()
    conv = 4 * 3 * 3 * 3 * 14 * 14
    linear = 4 * 14 * 14 * 1
    assert count_macs(det) == pytest.approx(conv + linear)
    assert count_macs(det, batch=3) == pytest.approx(3 * (conv + linear))


def test_precision_support_on_cpu_always_has_fp32():
    sup = supported_precisions("cpu")
    assert set(sup) == {"fp32", "bf16", "fp16"} and sup["fp32"] is None
    for p in ("bf16", "fp16"):
        assert sup[p] is None or "CPU" in sup[p]


def test_bench_of_a_built_detector_object():
    det = _conv_detector()
    res = bench_detector(
        det, batch_size=4, precisions=["fp32"], iters=2, warmup=0, latency_iters=3, end_to_end=False
    )
    assert res["params"] == sum(p.numel() for p in det.parameters())
    assert res["gmacs"] == pytest.approx(count_macs(det.eval()) / 1e9)
    # Frame detector: 4 frames per video, no flip test.
    assert res["gmacs_per_video"] == pytest.approx(4 * res["gmacs"]) and res["flip_multiplier"] == 1
    assert [(r["precision"], r["channels_last"]) for r in res["throughput"]] == [
        ("fp32", False),
        ("fp32", True),
    ]
    for r in res["throughput"]:
        assert r["units_per_s"] > 0 and r["iters"] == 2 and r["batch_size"] == 4
        assert r["ms_per_batch_p95"] >= r["ms_per_batch_p50"] > 0
        assert r["units_per_s"] == pytest.approx(4000 / r["ms_per_batch_p50"])
    lat = res["latency_ms"]
    assert lat["batch_size"] == 1 and lat["p95"] >= lat["p50"] > 0 and lat["iters"] == 3
    assert res["best"]["units_per_s"] == max(r["units_per_s"] for r in res["throughput"])
    assert res["end_to_end"] is None and res["summary"]["videos_per_s"] is None
    assert res["peak_memory_mb"]["rss_delta"] >= 0
    # The benchmark must leave the caller's detector as it was (configs run on copies).
    assert det.param_dtype == torch.float32
    json.dumps(res)  # serialisable as is


def test_rounds_report_min_median_max_and_speedup_vs_fp32_nchw():
    """Issue 18: each configuration measured in rounds; the fields exist and agree (speeds never asserted)."""
    res = bench_detector(
        _conv_detector(), batch_size=2, precisions=["fp32"], iters=2, warmup=0, latency_iters=2,
        end_to_end=False, repeats=3,
    )
    assert res["summary"]["repeats"] == 3
    for r in res["throughput"]:
        assert r["rounds"] == 3 and r["iters"] == 2 and "_times" not in r
        assert 0 < r["units_per_s_min"] <= r["units_per_s_median"] <= r["units_per_s_max"]
        assert r["spread"] == pytest.approx(
            (r["units_per_s_max"] - r["units_per_s_min"]) / r["units_per_s_median"]
        )
        assert r["noisy"] is (r["spread"] > 0.25)
    base, cl = res["throughput"]  # fp32 NCHW, fp32 channels_last, in one run
    assert base["speedup_vs_fp32_nchw"] == 1.0
    assert cl["speedup_vs_fp32_nchw"] == pytest.approx(cl["units_per_s"] / base["units_per_s"])
    assert res["summary"]["noisy_configs"] == [
        t for t, r in zip(("fp32", "fp32 cl"), res["throughput"], strict=True) if r["noisy"]
    ]
    lines = "\n".join(summary_lines(res))
    assert "x fp32 NCHW" in lines and "over 3 rounds" in lines and "min " in lines and "max " in lines


def test_a_spread_over_25_percent_is_flagged_noisy():
    from dfbench.bench import _merge_rounds

    def round_(seconds):
        return {"batch_size": 2, "precision": "fp32", "channels_last": False, "compile": False,
                "peak_rss_delta_mb": 1.0, "_times": seconds}

    steady = _merge_rounds([round_([0.10, 0.10]), round_([0.11, 0.11]), round_([0.10, 0.105])])
    assert not steady["noisy"] and steady["spread"] < 0.25
    busy = _merge_rounds([round_([0.10, 0.10]), round_([0.30, 0.30]), round_([0.10, 0.11])])
    assert busy["noisy"] and busy["units_per_s_min"] == pytest.approx(2 / 0.30)
    assert busy["units_per_s_max"] == pytest.approx(2 / 0.10) and busy["rounds"] == 3
    text = "\n".join(summary_lines({
        "summary": {"params_m": 0.1, "latency_ms_p50": 1.0, "latency_ms_p95": 2.0},
        "detector": {"id": "x"}, "input": {"unit": "frame"}, "gmacs": 0.1,
        "throughput": [{**busy, "speedup_vs_fp32_nchw": 1.0}], "end_to_end": None,
    }))
    assert "NOISY" in text and "> 25 %" in text


def test_unknown_precision_is_refused():
    from dfbench.errors import DfbenchError

    with pytest.raises(DfbenchError, match="fp8"):
        bench_detector(_conv_detector(), precisions=["fp8"], end_to_end=False)


def test_cli_bench_every_installed_detector_test_variant(tmp_path):
    """`dfbench bench -d all:test` covers every installed detector family (model-only figures)."""
    from dfbench.cli import cli
    from dfbench.registry import get_registry

    families = sorted(
        f for f, s in get_registry().detectors.items() if "test" in {v.name for v in s.variants}
    )
    assert families, "no detector plugin installed"
    out = tmp_path / "bench.json"
    res = CliRunner().invoke(
        cli,
        [
            "bench",
            "-d",
            "all:test",
            "--no-e2e",
            "--iters",
            "1",
            "--warmup",
            "0",
            "--latency-iters",
            "2",
            "--batch-size",
            "2",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output[-3000:]
    docs = json.loads(out.read_text())
    docs = docs if isinstance(docs, list) else [docs]
    assert [d["detector"]["family"] for d in docs] == families
    native = [p for p, why in supported_precisions("cpu").items() if why is None]
    for d in docs:
        assert d["params"] > 0 and d["gmacs"] > 0, d["detector"]["id"]
        layouts = [False, True] if d["input"]["unit"] == "frame" else [False]
        assert [(r["precision"], r["channels_last"]) for r in d["throughput"] if r["backend"] == "torch"] == [
            (p, cl) for p in native for cl in layouts
        ]
        # Every exported configuration --backend auto would try is timed or says why not.
        from dfbench.bench import exported_configs

        for b, p, _ in exported_configs("cpu", None):
            timed = any(r["backend"] == b and r["precision"] == p for r in d["throughput"])
            assert timed or f"{b} {p}" in d["summary"]["not_measured"], (d["detector"]["id"], b, p)
        assert d["summary"]["units_per_s"] > 0 and d["env"]["torch"] == torch.__version__
        assert d["detector"]["id"] in res.output  # the table is printed when writing to a file


def test_cli_end_to_end_on_a_given_video_prints_json(tmp_path, monkeypatch):
    from dfbench.cli import cli
    from dfbench.media.synthetic import face_frames, write_video
    from dfbench.registry import get_registry

    monkeypatch.setenv("DFBENCH_EXTRA_PLUGINS", "dfbench.testing:TESTING_PLUGIN")
    get_registry(refresh=True)
    try:
        video = write_video(tmp_path / "v.mp4", face_frames(20, 320, 240, seed=1), codec="h264")
        res = CliRunner().invoke(
            cli,
            [
                "bench",
                "-d",
                "oracle",
                "--video",
                str(video),
                "--precisions",
                "fp32",
                "--channels-last",
                "off",
                "--iters",
                "1",
                "--warmup",
                "0",
                "--latency-iters",
                "2",
            ],
        )
    finally:
        monkeypatch.delenv("DFBENCH_EXTRA_PLUGINS")
        get_registry(refresh=True)
    assert res.exit_code == 0, res.output[-3000:]
    doc = json.loads(res.stdout)
    e = doc["end_to_end"]
    assert e["video"] == str(video) and e["frames_in_video"] == 20 and e["resolution"] == [320, 240]
    assert e["units"] == 4  # the oracle's protocol: 4 evenly spaced frames, each with a face
    assert e["videos_per_s"] > 0 and e["seconds"]["faces"] > 0 and e["seconds"]["decode"] > 0
    assert e["seconds"]["total"] >= e["seconds"]["faces"] + e["seconds"]["model"] - 1e-6
    assert doc["summary"]["videos_per_s"] == pytest.approx(e["videos_per_s"], rel=1e-3)
    assert [(r["precision"], r["channels_last"]) for r in doc["throughput"]] == [("fp32", False)]
    assert any("end to end" in line for line in summary_lines(doc))


def test_bench_times_the_exported_runtime_auto_would_pick():
    """Issue 16: ``dfbench bench`` measures what ``--backend auto`` may choose (OpenVINO on a CPU),
    so "the default is the fastest configuration bench finds" can be checked on any machine."""
    pytest.importorskip("openvino")
    res = bench_detector(_conv_detector(), batch_size=2, iters=1, warmup=0, latency_iters=1, end_to_end=False,
                         repeats=1)
    rows = {(r["backend"], r["precision"], r["channels_last"]) for r in res["throughput"]}
    assert ("openvino", "fp32", False) in rows and ("torch", "fp32", False) in rows
    assert res["best"]["backend"] in {"torch", "openvino"}
    if res["best"]["backend"] == "openvino":
        assert res["summary"]["best_config"].startswith("openvino ")
    ov = next(r for r in res["throughput"] if r["backend"] == "openvino")
    assert "openvino" in "\n".join(summary_lines(res))
    assert ov["speedup_vs_fp32_nchw"] is not None  # against torch fp32 NCHW of the same run
    only_torch = bench_detector(_conv_detector(), batch_size=2, iters=1, warmup=0, latency_iters=1,
                                end_to_end=False, repeats=1, backends=["torch"])
    assert {r["backend"] for r in only_torch["throughput"]} == {"torch"}
