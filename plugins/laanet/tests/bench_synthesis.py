"""Throughput of the pseudo-fake synthesis and of a training step (``make bench``).

Run: ``pytest plugins/laanet/tests/bench_synthesis.py --benchmark-only``. Synthesis runs on one
OpenCV thread (the per-core figure of performance.md); each benchmark round makes one pair
(pairs/s = 1 / mean) or one training step of 8 pairs.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import cv2
import numpy as np
import pytest
from dfbench_laanet.targets import encode_targets

from dfbench.synthesis.bi import BIGenerator, FaceBank
from dfbench.synthesis.faces import astronaut_face, jittered_frames
from dfbench.synthesis.sbi import SBIGenerator


@pytest.fixture(scope="module")
def face256():
    cv2.setNumThreads(1)
    return astronaut_face(256)


@pytest.mark.benchmark(group="synthesis")
@pytest.mark.parametrize("out_size", [256, 384])
def test_bench_sbi_pair(benchmark, face256, out_size):
    img, lm = face256
    gen = SBIGenerator(out_size=out_size)
    rng = np.random.default_rng(0)

    def one():
        p = gen(img, lm, rng)
        return encode_targets(p.boundary)

    benchmark(one)
    benchmark.extra_info["pairs_per_s"] = 1.0 / benchmark.stats.stats.mean


@pytest.mark.benchmark(group="synthesis")
def test_bench_bi_pair(benchmark, face256):
    img, lm = face256
    bank = FaceBank.from_videos([jittered_frames(img, lm, 4, seed=s) for s in range(8)])
    gen = BIGenerator(bank, out_size=256, k_neighbours=8)
    gen(0, np.random.default_rng(0))  # neighbour search outside the timing
    rng = np.random.default_rng(0)
    i = iter(range(10**9))

    def one():
        p = gen(next(i) % len(bank), rng)
        return encode_targets(p.boundary)

    benchmark(one)
    benchmark.extra_info["pairs_per_s"] = 1.0 / benchmark.stats.stats.mean


@pytest.mark.benchmark(group="train")
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_bench_train_step_tiny(benchmark, tmp_path, precision):
    import torch
    from dfbench_laanet.config import load_config
    from dfbench_laanet.train import LAANetTask

    from dfbench.synthesis.pairs import collate_pairs
    from dfbench.training.trainer import Trainer

    torch.set_num_threads(2)
    cfg = load_config(None, ["model.variant=test", "data.source=faces:2", "data.frames_per_video=8",
                             "data.crop_size=128", "run.batch_size=8", f"run.precision={precision}",
                             f"run.out_dir={tmp_path}", "run.tensorboard=false", "data.val_split=''"])
    t = Trainer(LAANetTask(cfg))
    t.setup_data()
    batch = collate_pairs([t.train_set[i] for i in range(8)])
    t.task.train_mode(True)
    t.train_step(batch)
    benchmark(t.train_step, batch)
    benchmark.extra_info["images_per_s"] = 16.0 / benchmark.stats.stats.mean
