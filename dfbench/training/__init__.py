"""dfbench's training core: one loop, one config loader, one data path for every trainable family.

Layers (each imports only the ones above it):

* :mod:`.config` — typed configs (dataclasses + YAML + ``--set key=value``), one :class:`ConfigError`;
* :mod:`.runtime` — device, precision (``auto|fp32|bf16|fp16|fp64``), torchrun process group,
  gradient all-reduce and global BatchNorm;
* :mod:`.checkpoint` — atomic fsynced checkpoints with every RNG state;
* :mod:`.data` — training crops through the evaluation index/``FaceStage``/crop cache, held-out
  selection by video, the deterministic batch order;
* :mod:`.task` — the interface a family implements (build, forward, losses, optional optimiser step);
* :mod:`.trainer` — the loop: accumulation, exact resume, validation via :mod:`dfbench.metrics`,
  recorded selection, TensorBoard, progress bar.

Evaluation never imports this package; families' ``train.py`` files import it.
"""

from .config import ConfigError, load_config
from .runtime import PRECISIONS, TrainingError
from .task import RunSettings, SelectionRule, Task

__all__ = ["PRECISIONS", "ConfigError", "RunSettings", "SelectionRule", "Task", "TrainingError", "load_config"]
