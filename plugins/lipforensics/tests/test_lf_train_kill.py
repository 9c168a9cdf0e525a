"""``kill -9`` in a real process, then resume: the ``test`` variant ends bit-identical to a straight run.

The in-process interrupt test (test_lf_train.py) cannot catch state that only survives in memory;
a SIGKILL leaves nothing but what the checkpoint wrote to disk. Killed after the first mid-epoch
checkpoint, so resume has to restart inside an epoch (batch order, RNG and scheduler position).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from dfbench_lipforensics.data import ClipsInMemory

EPOCHS, STEPS_PER_EPOCH = 2, 4  # 16 clips, batch 4


def _clips(n_videos: int, seed: int) -> ClipsInMemory:
    rng = np.random.default_rng(seed)
    clips = rng.integers(0, 256, (n_videos, 5, 1, 24, 24), dtype=np.uint8)
    return ClipsInMemory(clips, [i % 2 for i in range(n_videos)], [f"s/{seed}/{i}" for i in range(n_videos)])


def _cmd(root, out, extra: list[str]) -> list[str]:
    sets = ["variant=test", f"out_dir={out}", f"epochs={EPOCHS}", "batch_size=4", "precision=fp32",
            "threads=1", "log_every=0", "checkpoint_every_steps=1",
            "data.factory=dfbench_lipforensics.data:npz_split", f"data.data_root={root}", *extra]
    return [sys.executable, "-m", "dfbench_lipforensics.train", "--config", os.devnull,
            *[a for s in sets for a in ("--set", s)]]


def _env() -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}


@pytest.mark.acceptance
@pytest.mark.parametrize("extra", [[], ["freeze=false"]], ids=["frozen-trunk-cached", "full-network"])
def test_kill_dash_nine_then_resume_gives_the_same_weights(tmp_path, extra):
    _clips(16, 0).save(tmp_path / "clips_train.npz")
    _clips(8, 1).save(tmp_path / "clips_val.npz")
    subprocess.run(_cmd(tmp_path, tmp_path / "ref", extra), check=True, env=_env(), timeout=600)
    out = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(tmp_path, out, extra), env=_env())
    ckpt = out / "last.pt"
    deadline = time.time() + 600
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended on its own before it could be killed"
    killed = torch.load(ckpt, weights_only=True)
    assert killed["step"] < EPOCHS * STEPS_PER_EPOCH, "the run finished before it could be killed"
    res = subprocess.run(_cmd(tmp_path, out, extra), capture_output=True, text=True, env=_env(), timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    # It went on from the checkpoint (a run that restarted from scratch would also match).
    assert f"at epoch {killed['epoch']}, step {killed['step']}" in res.stdout + res.stderr
    ref = torch.load(tmp_path / "ref" / "last.pt", weights_only=True)
    got = torch.load(ckpt, weights_only=True)
    assert ref["step"] == got["step"] == EPOCHS * STEPS_PER_EPOCH
    assert ref["model"].keys() == got["model"].keys()
    for k in ref["model"]:
        assert torch.equal(ref["model"][k], got["model"][k]), k
