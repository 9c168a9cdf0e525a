"""A face stage whose worker process dies (SIGKILL) on one chosen video (tests/test_parallel.py).

A module of its own, not a class in the test file: spawned workers import it by name, with the
parent's ``sys.path``."""

import os
import signal
from dataclasses import dataclass

from dfbench.pipeline import FaceStage


@dataclass
class CrashingStage(FaceStage):
    crash_on: str = ""

    def prepare(self, item):
        if self.crash_on and item.key.endswith(self.crash_on):
            os.kill(os.getpid(), signal.SIGKILL)
        return super().prepare(item)
