"""LAA-Net inference throughput at 384 px, batch 8 (``make bench``; skipped in normal test runs).

Cases: float64 with all heads and no BatchNorm folding (what the official code computes),
float64 / fp32 with only the ``cls`` head and BatchNorm folded, and bf16 autocast + channels_last
(with and without folding); with the flip test off and on (on = the
frame and its mirror, two forward passes, as the harness does). Images/s go to
``benchmark.extra_info`` and a ratio table is printed at the end of the session.
"""

from __future__ import annotations

import os

import pytest
import torch
from dfbench_laanet.model import HEADS
from dfbench_laanet.spec import laanet_spec

BATCH = 8
THREADS = int(os.environ.get("DFBENCH_BENCH_THREADS", "2"))
CASES = {
    # name: (precision, heads, channels_last, fold_bn)
    "fp64_all_heads": ("fp64", HEADS, False, False),  # what the official code computes
    "fp64": ("fp64", ("cls",), False, True),
    "fp32": ("fp32", ("cls",), False, True),
    "bf16_channels_last_unfolded": ("bf16", ("cls",), True, False),
    "bf16_channels_last": ("bf16", ("cls",), True, True),
}


@pytest.fixture(scope="module")
def detector():
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    return laanet_spec().build("efnb4")


@pytest.mark.benchmark(group="laanet-384-batch8", min_rounds=1, warmup=False)
@pytest.mark.parametrize("flip", [False, True], ids=["flip_off", "flip_on"])
@pytest.mark.parametrize("case", list(CASES))
def test_inference_throughput(benchmark, detector, laanet_throughput, case, flip):
    precision, heads, channels_last, fold_bn = CASES[case]
    if flip and case in ("fp64", "bf16_channels_last_unfolded"):
        pytest.skip("flip on costs exactly two passes; measured for the other cases")
    if precision == "fp64":
        rounds = 1  # float64 takes ~10-30 s a round here; one round (after a warm-up) is enough
    else:
        rounds = 3
    detector.configure_inference(heads=heads, precision=precision, channels_last=channels_last,
                                 fold_bn=fold_bn)
    x = detector.example_input(batch=BATCH, seed=0)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    def run() -> torch.Tensor:
        with torch.inference_mode():
            y = detector(x)
            if flip:
                y = 0.5 * (y + detector(torch.flip(x, dims=(-1,))))
        return y

    y = benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1)
    assert y.shape == (BATCH,) and torch.isfinite(y).all()
    ips = BATCH / benchmark.stats.stats.median
    key = f"{case}/{'flip_on' if flip else 'flip_off'}"
    laanet_throughput[key] = ips
    benchmark.extra_info.update({"images_per_s": round(ips, 3), "threads": THREADS, "batch": BATCH,
                                 "precision": precision, "heads": list(heads), "channels_last": channels_last,
                                 "fold_bn": fold_bn, "flip_test": flip})
