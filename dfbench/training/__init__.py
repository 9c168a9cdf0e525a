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
  recorded selection, TensorBoard, progress bar;
* :mod:`.crops` — generic binary crop-classification data (folder / ``module:factory`` /
  ``dfbench:<dataset>`` sources, held-out split by video, collate, per-sample jitter);
* :mod:`.classifier` — one task for every frame classifier (Xception, EfficientNet-B4, SPSL,
  UnivFD's probe, ...): BCE on the fake logit, selection by held-out AUC, a card on the weights;
* :mod:`.export` — re-save selected weights for shipping (storage dtype, tag, card).

Evaluation never imports this package; families' ``train.py`` files import it.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Names are loaded on first use: a plugin's commands.py imports dfbench.cli.train (and this package), and
# `dfbench --help` must not pay for torch.
_EXPORTS = {"ConfigError": "config", "load_config": "config", "PRECISIONS": "config",
            "TrainingError": "runtime", "RunSettings": "task", "SelectionRule": "task", "Task": "task"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
