"""``python -m dfbench_recce train --config CFG.yaml``: the same commands without the dfbench CLI,
for launchers that need a module (``torchrun --nproc-per-node 2 -m dfbench_recce train ...``)."""

import logging
import os

from .commands import recce

logging.basicConfig(level=os.environ.get("DFBENCH_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s: %(message)s")
recce(prog_name="dfbench recce")
