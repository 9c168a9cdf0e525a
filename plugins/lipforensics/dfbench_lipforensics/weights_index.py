"""Weights shipped with the plugin, pinned by sha256 (``package://`` sources inside this package).

The ``demo`` weights were trained on this project's CPU with ``configs/demo_lite*.yaml`` on the
demo train split (validation: 25 % of the train videos held out; the test split was never read).
No LRW-pretrained trunk is available offline, so their frozen front end + trunk are a seeded random
init and only the temporal back end was trained: they exist to exercise the pipeline end to end
(``make demo``), not to stand for LipForensics' published accuracy.
"""

from __future__ import annotations

from dfbench.specs import WeightsSpec

_DEMO_NOTE = (
    "Demo only: random frozen lip features (no LRW pre-training offline) + trained MS-TCN; "
    "trained in ~1 min on 2 CPU cores."
)

WEIGHTS: tuple[WeightsSpec, ...] = (
    WeightsSpec(
        tag="demo",
        variant="lite",
        source="package://dfbench_lipforensics/weights/demo_lite",
        sha256="04841b9eac0d77c9d95b0091799cf0bf76095978fb055cdc1858155e04b5c0c5",
        trained_on="demo/train (24 videos; 8 held out for validation)",
        selection="best val_auc on 25% of demo/train videos held out (epoch 1 of 40)",
        license="Apache-2.0",
        description=_DEMO_NOTE,
    ),
    WeightsSpec(
        tag="demo",
        variant="lite_ta",
        source="package://dfbench_lipforensics/weights/demo_lite_ta",
        sha256="23afca733a5f4acc9107ba1a4128f5070428eb4d17fc71121ff623dfe0222f43",
        trained_on="demo/train (24 videos; 8 held out for validation)",
        selection="best val_auc on 25% of demo/train videos held out (epoch 23 of 40)",
        license="Apache-2.0",
        description=_DEMO_NOTE,
    ),
)
