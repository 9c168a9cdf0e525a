"""DDP through torchrun on CPU (gloo): two processes train the tiny variant to the end."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from recce_synthetic import synthetic_crops, write_folder


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
