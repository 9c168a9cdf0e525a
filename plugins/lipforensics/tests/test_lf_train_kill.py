"""``kill -9`` in a real process, then resume: the ``test`` variant ends bit-identical to a straight run.

The in-process interrupt test (test_lf_train.py) cannot catch state that only survives in memory;
a SIGKILL leaves nothing but what the checkpoint wrote to disk. Killed after the first mid-epoch
checkpoint, so resume has to restart inside an epoch (batch order, RNG and scheduler position).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from dfbench_lipforensics.data import ClipsInMemory

from dfbench.testing.resume import (
    assert_same_checkpoint,
    kill_at_first_checkpoint,
    resume,
    training_env,
)

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


@pytest.mark.acceptance
@pytest.mark.parametrize("extra", [[], ["freeze=false"]], ids=["frozen-trunk-cached", "full-network"])
def test_kill_dash_nine_then_resume_gives_the_same_weights(tmp_path, extra):
    _clips(16, 0).save(tmp_path / "clips_train.npz")
    _clips(8, 1).save(tmp_path / "clips_val.npz")
    subprocess.run(_cmd(tmp_path, tmp_path / "ref", extra), check=True, env=training_env(), timeout=600)
    out = tmp_path / "killed"
    killed = kill_at_first_checkpoint(_cmd(tmp_path, out, extra), out)
    assert killed["step"] < EPOCHS * STEPS_PER_EPOCH, "the run finished before it could be killed"
    resume(_cmd(tmp_path, out, extra), killed)  # it must say it went on from the checkpoint
    ref, got = assert_same_checkpoint(tmp_path / "ref", out)
    assert ref["step"] == got["step"] == EPOCHS * STEPS_PER_EPOCH
