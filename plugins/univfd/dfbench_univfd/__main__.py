"""``python -m dfbench_univfd train --config CFG.yaml``: the same commands without the dfbench CLI,
for launchers that need a module (``torchrun --nproc-per-node 2 -m dfbench_univfd train ...``)."""

import logging
import os

from .commands import univfd

logging.basicConfig(level=os.environ.get("DFBENCH_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s: %(message)s")
univfd(prog_name="python -m dfbench_univfd")
