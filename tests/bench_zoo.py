"""Inference throughput of the detector zoo's full-size models through the runner's model stage
(``make bench``; issue 15: "``dfbench bench`` figures in the README table").

Each family's default variant (random weights: speed does not depend on them), batch 8, 2
threads, 3 rounds: the default flags (``--backend auto --precision auto``, resolved as
``dfbench run`` resolves them) against ``--precision fp32`` on torch. Images/s and what ``auto``
chose go to ``extra_info``; ``scripts/speed_table.py`` turns them into README rows.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import pytest
import torch

BATCH = 8
THREADS = int(os.environ.get("DFBENCH_BENCH_THREADS", "2"))
FAMILIES = ("sbi", "xception", "efficientnet_b4", "spsl", "univfd")


def _build(family: str):
    from dfbench.build import build_detector
    from dfbench.errors import DfbenchError

    try:
        return build_detector(family).eval()
    except (DfbenchError, ImportError) as e:
        pytest.skip(f"{family}: {e}")


@pytest.mark.benchmark(group="zoo-inference-batch8", min_rounds=1, warmup=False)
@pytest.mark.parametrize("case", ["auto", "fp32"])
@pytest.mark.parametrize("family", FAMILIES)
def test_zoo_model_stage_throughput(benchmark, family, case, tmp_path_factory):
    from dfbench import backends
    from dfbench.pipeline import ModelStage
    from dfbench.precision import calibration_units

    torch.set_num_threads(THREADS)
    os.environ["DFBENCH_CACHE"] = str(tmp_path_factory.getbasetemp() / "cache")
    det = _build(family)
    units = calibration_units(det, BATCH)
    info: dict = {"precision": "fp32", "backend": "torch", "channels_last": False}
    if case == "auto":
        c, prepared = backends.resolve_execution(copy.deepcopy(det), family, "cpu")
        stage = ModelStage(det, precision="fp32" if prepared else c.precision, channels_last=c.channels_last,
                           flip_test=det.input_spec.flip_test, batch_size=BATCH)
        if prepared:
            backends.install(stage, prepared)
        info = {"precision": c.precision, "backend": c.backend, "channels_last": c.channels_last,
                "max_abs_logit_dev": c.max_abs_logit_dev}
    else:
        stage = ModelStage(det, flip_test=det.input_spec.flip_test, batch_size=BATCH)
    stage.logits(units)  # warm-up
    y = benchmark.pedantic(lambda: stage.logits(units), rounds=3, iterations=1)
    assert y.shape == (BATCH,) and np.isfinite(y).all()
    s = det.input_spec
    benchmark.extra_info.update({"images_per_s": round(BATCH / benchmark.stats.stats.median, 3),
                                 "input": f"{s.size}px", "flip_test": s.flip_test, "threads": THREADS,
                                 "params_m": round(sum(p.numel() for p in det.parameters()) / 1e6, 1), **info})
