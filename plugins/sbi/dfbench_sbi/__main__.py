"""``python -m dfbench_sbi train --config CFG.yaml``: the same command without the dfbench CLI,
for launchers that need a module (``torchrun --nproc-per-node 2 -m dfbench_sbi train ...``)."""

import logging
import os

from .commands import sbi

logging.basicConfig(level=os.environ.get("DFBENCH_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s: %(message)s")
sbi(prog_name="dfbench sbi")
