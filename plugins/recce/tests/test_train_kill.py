"""``kill -9`` in a real process, then resume: RECCE's ``test`` variant ends bit-identical to a straight run.

The in-process interrupt test (test_train.py) cannot catch state that only survives in memory; a
SIGKILL leaves nothing but what the checkpoint wrote to disk.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from recce_synthetic import synthetic_crops, write_folder

from dfbench.testing.resume import (
    assert_same_checkpoint,
    kill_at_first_checkpoint,
    resume,
    training_env,
)

EPOCHS = 3


def _cmd(data, out) -> list[str]:
    sets = ["variant=test", f"out_dir={out}", f"epochs={EPOCHS}", "batch_size=8", "threads=1",
            f"data.train={data}", "log_every=0"]
    return [sys.executable, "-m", "dfbench_recce", "train", "--config", os.devnull,
            *[a for s in sets for a in ("--set", s)]]


@pytest.mark.acceptance
def test_kill_dash_nine_then_resume_gives_the_same_weights(tmp_path):
    data = tmp_path / "data"
    write_folder(data, synthetic_crops(16, seed=0), "train")  # batch 8: 2 steps per epoch
    write_folder(data, synthetic_crops(6, seed=1), "val")
    subprocess.run(_cmd(data, tmp_path / "ref"), check=True, env=training_env(), timeout=600)
    out = tmp_path / "killed"
    killed = kill_at_first_checkpoint(_cmd(data, out), out)
    assert killed["epoch"] < EPOCHS, "the run finished before it could be killed"
    resume(_cmd(data, out), killed)  # it must say it went on from the checkpoint
    ref, got = assert_same_checkpoint(tmp_path / "ref", out)
    assert ref["epoch"] == got["epoch"] == EPOCHS
