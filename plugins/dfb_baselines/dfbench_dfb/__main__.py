"""``python -m dfbench_dfb xception train --config CFG.yaml`` (likewise efficientnet_b4, spsl): the
same commands without the dfbench CLI, for launchers that need a module
(``torchrun --nproc-per-node 2 -m dfbench_dfb xception train ...``)."""

import logging
import os

from .commands import dfb

logging.basicConfig(level=os.environ.get("DFBENCH_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s: %(message)s")
dfb(prog_name="python -m dfbench_dfb")
