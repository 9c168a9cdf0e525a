"""LAA-Net variant configurations as plain data (no torch import, so ``spec.py`` stays cheap).

Each dict holds the keyword arguments of :class:`dfbench_laanet.model.LAANet`.
"""

from __future__ import annotations

from typing import Any

# The official model (lukemelas EfficientNet-B4 + E-FPN, heads hm/cls/cstency, head_conv 64).
EFNB4_CONFIG: dict[str, Any] = {
    "backbone": "tf_efficientnet",
    "width_mult": 1.4,
    "depth_mult": 1.8,
    "num_features": None,
    "image_size": 384,
    # The official backbone computes its static 'same' padding for B4's native 380 px although it
    # is fed 384 px; this moves block 6's padding by one pixel (reference §1.2). Kept for parity.
    "native_size": 380,
    "head_conv": 64,
    "hm_channels": 1,
    "cstency_channels": 256,
    "dropout": 0.4,
    "drop_path_rate": 0.2,
}

# Same topology, narrow and shallow (one block per stage, 64 px): a real LAA-Net in miniature that
# runs a forward pass in milliseconds, for contract tests and demo training.
TEST_CONFIG: dict[str, Any] = {
    "backbone": "tf_efficientnet",
    "width_mult": 0.25,
    "depth_mult": 0.1,
    "num_features": 64,
    "image_size": 64,
    "native_size": 64,
    "head_conv": 16,
    "hm_channels": 1,
    "cstency_channels": 16,
    "dropout": 0.4,
    "drop_path_rate": 0.2,
}
