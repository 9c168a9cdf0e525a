"""Training data for RECCE: the training core's generic crop-classification sources.

The Dataset protocol (``(uint8 [3, H, W] image, label)``, optional per-sample ``groups``), the
three source forms (folder, ``module:factory``, ``dfbench:<dataset>``), the held-out split by
video and the collate step live in :mod:`dfbench.training.crops`, shared with every frame
classifier; the names stay importable from here.
"""

from __future__ import annotations

from dfbench.training.crops import (
    IMAGE_SUFFIXES,
    ArrayDataset,
    FolderDataset,
    TrainingDataError,
    collate,
    open_source,
    registry_crops,
    split_by_group,
)

__all__ = ["IMAGE_SUFFIXES", "ArrayDataset", "FolderDataset", "TrainingDataError", "collate", "open_source",
           "registry_crops", "split_by_group"]
