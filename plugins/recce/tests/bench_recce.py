"""Throughput of RECCE inference at 299 px, batch 8 (``make bench``): float64, fp32, bf16 + channels_last.

Images/s = 8 / mean round time (pytest-benchmark's ``ops`` column x 8). float64 is the official
code's parity precision; bf16 autocast + channels_last is the fast CPU path (AMX-bf16).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from dfbench_recce.spec import SPEC  # noqa: E402

BATCH = 8


def _detector(variant: str, dtype: torch.dtype, fast: bool):
    det = SPEC.build(variant).eval().to(dtype)
    if fast:
        det.configure_inference(channels_last=True, autocast="bf16")
    return det


@pytest.fixture(autouse=True)
def _no_onednn_for_tiny_models():
    """Overrides the plugin tests' switch (conftest.py turns oneDNN off for tiny test networks):
    a benchmark measures the real CPU path, oneDNN on."""
    yield


@pytest.mark.benchmark(group="recce-299-batch8")
@pytest.mark.parametrize("variant", ["default", "gf"])
@pytest.mark.parametrize("mode", ["float64", "fp32", "bf16_channels_last"])
def test_recce_throughput(benchmark, variant, mode):
    torch.set_num_threads(int(os.environ.get("DFBENCH_BENCH_THREADS", "2")))
    dtype = torch.float64 if mode == "float64" else torch.float32
    det = _detector(variant, dtype, fast=mode == "bf16_channels_last")
    x = det.example_input(BATCH)
    if mode == "bf16_channels_last":
        x = x.contiguous(memory_format=torch.channels_last)

    def run():
        with torch.inference_mode():
            return det(x)

    run()  # warm-up: oneDNN builds its kernels on the first call
    out = benchmark.pedantic(run, rounds=int(os.environ.get("DFBENCH_BENCH_ROUNDS", "3")), iterations=1)
    assert out.shape == (BATCH,)
    benchmark.extra_info["images_per_s"] = BATCH / benchmark.stats["mean"]
    benchmark.extra_info["batch"] = BATCH
