"""DDP through torchrun on CPU (gloo): two processes train the tiny variant to the end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from recce_synthetic import synthetic_crops, write_folder

from dfbench.testing.dist import assert_weights_match


@pytest.mark.slow
def test_torchrun_two_process_gloo(tmp_path):
    write_folder(tmp_path / "data", synthetic_crops(9, seed=0), "train")  # 9 -> uneven shards
    write_folder(tmp_path / "data", synthetic_crops(6, seed=1), "val")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "dfbench_recce", "train", "--config", os.devnull,
           "--set", "variant=test", "--set", f"out_dir={tmp_path / 'run'}", "--set", "epochs=2",
           "--set", "batch_size=4", "--set", "threads=1", "--set", f"data.train={tmp_path / 'data'}"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    ckpt = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert ckpt["epoch"] == 2 and (tmp_path / "run" / "best" / "model.safetensors").exists()


def _run(args: list[str], procs: int) -> None:
    launch = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)] \
        if procs > 1 else [sys.executable]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    res = subprocess.run([*launch, "-m", "dfbench_recce", "train", "--config", os.devnull, *args],
                         capture_output=True, text=True, timeout=600, env=env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]


@pytest.mark.slow
def test_two_processes_match_one_process_with_double_batch(tmp_path):
    """The core's data-parallel contract on RECCE's test variant (noise, dropout and flips off:
    those draws are per process; the metric and reconstruction losses off: the first compares every
    pair of samples in a process's batch, the second averages over that batch's reals, so neither is
    a per-sample mean that splits across processes — the BCE term and the whole network are)."""
    write_folder(tmp_path / "data", synthetic_crops(16, seed=0), "train")
    write_folder(tmp_path / "data", synthetic_crops(6, seed=1), "val")
    common = ["--set", "variant=test", "--set", "epochs=1", "--set", "threads=1", "--set", "data.hflip=0",
              "--set", "model_overrides.drop_rate=0", "--set", "model_overrides.noise_std=0",
              "--set", "lambda_metric=0", "--set", "lambda_recons=0",
              "--set", f"data.train={tmp_path / 'data'}", "--set", "optim.lr=1e-3"]
    _run([*common, "--set", "batch_size=8", "--set", f"out_dir={tmp_path / 'one'}"], 1)
    _run([*common, "--set", "batch_size=4", "--set", f"out_dir={tmp_path / 'two'}"], 2)
    one = torch.load(tmp_path / "one" / "last.pt", weights_only=True)
    two = torch.load(tmp_path / "two" / "last.pt", weights_only=True)
    assert one["step"] == two["step"] == 2 and two["world_size"] == 2
    lr, steps = 1e-3, 2
    assert_weights_match(
        one["model"], two["model"], atol=1e-5, rtol=1e-4, close_keys=("weight", "running_var"),
        max_off_fraction=1e-3, max_abs=3 * lr * steps, uncapped=("running_mean",),
        why="Adam moves a weight whose gradient is float noise (a bias right before BatchNorm) by "
            "+-lr per step in either run, and the running means below such biases follow them "
            "(uncapped); every weight and running variance must agree")
