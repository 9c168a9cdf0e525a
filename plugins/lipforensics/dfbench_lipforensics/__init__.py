"""dfbench plugin for LipForensics (Haliassos et al., CVPR 2021) and its temporal-attention variant.

Importing the package is cheap (no torch): the model lives in :mod:`dfbench_lipforensics.model`,
the official-checkpoint converter in :mod:`dfbench_lipforensics.convert`, fine-tuning in
:mod:`dfbench_lipforensics.train`.
"""

__version__ = "0.1.0"
