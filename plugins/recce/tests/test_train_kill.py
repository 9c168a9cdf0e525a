"""``kill -9`` in a real process, then resume: RECCE's ``test`` variant ends bit-identical to a straight run.

The in-process interrupt test (test_train.py) cannot catch state that only survives in memory; a
SIGKILL leaves nothing but what the checkpoint wrote to disk.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from recce_synthetic import synthetic_crops, write_folder

EPOCHS = 3


def _cmd(data, out) -> list[str]:
    sets = ["variant=test", f"out_dir={out}", f"epochs={EPOCHS}", "batch_size=8", "threads=1",
            f"data.train={data}", "log_every=0"]
    return [sys.executable, "-m", "dfbench_recce", "train", "--config", os.devnull,
            *[a for s in sets for a in ("--set", s)]]


def _env() -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


@pytest.mark.acceptance
def test_kill_dash_nine_then_resume_gives_the_same_weights(tmp_path):
    data = tmp_path / "data"
    write_folder(data, synthetic_crops(16, seed=0), "train")  # batch 8: 2 steps per epoch
    write_folder(data, synthetic_crops(6, seed=1), "val")
    subprocess.run(_cmd(data, tmp_path / "ref"), check=True, env=_env(), timeout=600)
    out = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(data, out), env=_env())
    ckpt = out / "last.pt"
    deadline = time.time() + 600
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended on its own before it could be killed"
    killed = torch.load(ckpt, weights_only=True)
    assert killed["epoch"] < EPOCHS, "the run finished before it could be killed"
    res = subprocess.run(_cmd(data, out), capture_output=True, text=True, env=_env(), timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    # It went on from the checkpoint (a run that restarted from scratch would also match).
    assert f"at epoch {killed['epoch']}, step {killed['step']}" in res.stdout + res.stderr
    ref = torch.load(tmp_path / "ref" / "last.pt", weights_only=True)
    got = torch.load(ckpt, weights_only=True)
    assert ref["epoch"] == got["epoch"] == EPOCHS
    assert ref["model"].keys() == got["model"].keys()
    for k in ref["model"]:
        assert torch.equal(ref["model"][k], got["model"][k]), k
