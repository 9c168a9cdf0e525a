"""RECCE training step at 299 px (``make bench``): images/s of one optimiser step, batch 16.

Forward (classification + reconstruction branches), the RECCE loss (BCE + reconstruction +
metric), backward and the optimiser step, as the training core runs RECCE's task
(:class:`dfbench.training.trainer.Trainer` with :class:`dfbench_recce.train.RecceTask`). Cases: fp32,
bf16 autocast + channels_last (the fast CPU path). The official RECCE training step cannot run
here without its code; issue 16 asks for it as the anchor in the same sitting when available.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

BATCH = 16
THREADS = int(os.environ.get("DFBENCH_BENCH_THREADS", "2"))
VARIANT = os.environ.get("DFBENCH_BENCH_RECCE_VARIANT", "default")


@pytest.fixture(autouse=True)
def _no_onednn_for_tiny_models():
    """Overrides the plugin tests' switch (conftest.py turns oneDNN off for tiny test networks):
    a benchmark measures the real CPU path, oneDNN on."""
    yield


@pytest.mark.benchmark(group="recce-train-step-299", min_rounds=1, warmup=False)
@pytest.mark.parametrize("mode", ["fp32", "bf16_channels_last"])
def test_recce_train_step(benchmark, mode):
    from dfbench_recce.config import load_config
    from dfbench_recce.train import RecceTask

    from dfbench.training.crops import ArrayDataset
    from dfbench.training.trainer import Trainer

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    fast = mode == "bf16_channels_last"
    cfg = load_config(None, [f"variant={VARIANT}", f"batch_size={BATCH}", f"precision={'bf16' if fast else 'fp32'}",
                             f"channels_last={str(fast).lower()}", f"threads={THREADS}", "out_dir=/tmp/unused",
                             "data.train=unused", "data.val_split=unused"])
    size = RecceTask(cfg).build().input_spec.size
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (BATCH, 3, size, size), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, 2, (BATCH,), generator=g).tolist()
    task = RecceTask(cfg, ArrayDataset(images, labels), ArrayDataset(images[:2], labels[:2]))
    t = Trainer(task)  # the training core's step: RECCE's forward and losses, Adam
    t.setup_data()
    batch = task.load_batch(t.train_set, list(range(BATCH)), 0, 0)
    task.train_mode(True)

    def step():
        return t.train_step(batch)["loss"]

    step()  # warm-up
    loss = benchmark.pedantic(step, rounds=3, iterations=1)
    assert loss == loss  # finite
    benchmark.extra_info.update({"images_per_s": round(BATCH / benchmark.stats.stats.median, 3), "batch": BATCH,
                                 "mode": mode, "size": size, "threads": THREADS,
                                 "anchor": "official training step not runnable here (no official code)"})
