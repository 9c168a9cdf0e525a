"""DDP fine-tuning under torchrun: two gloo processes on CPU, reading clips from ``.npz`` files."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from dfbench_lipforensics.data import ClipsInMemory

from dfbench.testing.dist import assert_weights_match


def _clips(n_videos: int, seed: int) -> ClipsInMemory:
    rng = np.random.default_rng(seed)
    clips = rng.integers(0, 256, (n_videos, 5, 1, 24, 24), dtype=np.uint8)
    return ClipsInMemory(
        clips, [i % 2 for i in range(n_videos)], [f"s/{seed}/{i}" for i in range(n_videos)]
    )


@pytest.mark.slow
def test_torchrun_two_process_gloo_training(tmp_path):
    _clips(16, 0).save(tmp_path / "clips_train.npz")
    _clips(8, 1).save(tmp_path / "clips_val.npz")
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "dfbench_lipforensics.train",
        "--config",
        os.devnull,
        "--set",
        "variant=test_ta",
        "--set",
        f"out_dir={out}",
        "--set",
        "epochs=2",
        "--set",
        "batch_size=4",
        "--set",
        "precision=fp32",
        "--set",
        "threads=1",
        "--set",
        "data.factory=dfbench_lipforensics.data:npz_split",
        "--set",
        f"data.data_root={tmp_path}",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ck = torch.load(out / "last.pt", weights_only=True)
    # 16 clips over 2 ranks, batch 4: 2 steps per epoch on each rank.
    assert ck["epoch"] == 2 and ck["step"] == 4 and len(ck["rng"]) == 2
    assert (out / "best" / "model.safetensors").exists()


@pytest.mark.slow
def test_two_processes_match_one_process_with_double_batch(tmp_path):
    """The core's data-parallel contract on the test variant (dropout off: its masks are per process)."""
    _clips(16, 0).save(tmp_path / "clips_train.npz")
    _clips(8, 1).save(tmp_path / "clips_val.npz")
    common = ["--config", os.devnull, "--set", "variant=test_ta", "--set", "epochs=2", "--set", "precision=fp32",
              "--set", "threads=1", "--set", "model_overrides.dropout=0",
              "--set", "data.factory=dfbench_lipforensics.data:npz_split", "--set", f"data.data_root={tmp_path}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for procs, batch in ((1, 8), (2, 4)):
        launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"] \
            if procs == 2 else [sys.executable]
        proc = subprocess.run([*launch, "-m", "dfbench_lipforensics.train", *common, "--set", f"batch_size={batch}",
                               "--set", f"out_dir={tmp_path / str(procs)}"], capture_output=True, text=True,
                              env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
    one = torch.load(tmp_path / "1" / "last.pt", weights_only=True)
    two = torch.load(tmp_path / "2" / "last.pt", weights_only=True)
    assert one["step"] == two["step"] == 4
    lr, steps = 3e-4, 4  # the default optim.lr
    assert_weights_match(
        one["model"], two["model"], atol=1e-5, rtol=1e-4, close_keys=("weight", "running_var"),
        max_off_fraction=1e-3, max_abs=3 * lr * steps, uncapped=("running_mean",),
        why="as for RECCE: biases right before BatchNorm have float-noise gradients that Adam turns "
            "into +-lr steps (the running means below them follow, uncapped); every weight and running "
            "variance must agree")
