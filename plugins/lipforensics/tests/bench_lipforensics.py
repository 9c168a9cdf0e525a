"""Throughput of LipForensics r18 on 25x88x88 clips: float64, fp32 and bf16 (``make bench``).

Reports clips/s in ``extra_info`` (the official code runs ≈1.3 clips/s fp32 on these machines).
Skipped by default (``--benchmark-skip``); run with
``pytest plugins/lipforensics/tests/bench_lipforensics.py --benchmark-enable -p no:randomly``.
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from dfbench_lipforensics.spec import SPEC

BATCH = 4


@pytest.fixture(scope="module")
def clips() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (BATCH, 25, 1, 88, 88), generator=g, dtype=torch.uint8)


def _detector(variant: str, dtype: torch.dtype, channels_last: bool = True):
    torch.manual_seed(0)
    det = SPEC.build(variant).to(dtype).eval()
    det.configure_inference(heads=("cls",), channels_last=channels_last)  # as the runner does
    return det


@pytest.mark.benchmark(group="lipforensics-r18")
@pytest.mark.parametrize(
    "precision,variant",
    [
        ("float64", "r18"),
        ("fp32", "r18"),
        ("bf16", "r18"),
        ("bf16_contiguous", "r18"),
        ("bf16", "r18_ta"),
    ],
)
def test_clips_per_second(benchmark, clips, precision, variant):
    dtype = torch.float64 if precision == "float64" else torch.float32
    det = _detector(variant, dtype, channels_last=not precision.endswith("contiguous"))
    cast = (
        torch.autocast("cpu", dtype=torch.bfloat16)
        if precision.startswith("bf16")
        else contextlib.nullcontext()
    )

    def run():
        with torch.inference_mode(), cast:
            return det(clips)

    run()  # warm-up: oneDNN primitive creation
    out = benchmark.pedantic(run, rounds=3, iterations=1)
    assert out.shape == (BATCH,) and torch.isfinite(out).all()
    benchmark.extra_info["clips_per_s"] = BATCH / benchmark.stats.stats.mean
    benchmark.extra_info["threads"] = torch.get_num_threads()
