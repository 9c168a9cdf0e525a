"""Weights shipped with the plugin, pinned by sha256 (``package://`` sources inside this package).

The ``demo`` weights were trained on this project's CPU with ``configs/demo_lite*.yaml`` on the
demo train split (validation: 25 % of the train videos held out; the test split was never read).
No LRW lip-reading trunk is available offline, so — unlike the paper's frozen-trunk fine-tuning —
the whole network was trained from scratch (``freeze: false``) with random crops, flips and time
offsets. They exist to exercise the pipeline end to end (``make demo``) and score the synthetic
demo videos; they say nothing about LipForensics' published accuracy.
"""

from __future__ import annotations

from dfbench.specs import WeightsSpec

_DEMO_NOTE = (
    "Demo only: quarter-width network trained from scratch (no LRW pre-training offline) on 24 "
    "synthetic demo videos in ~3 min on one CPU core; not comparable with the paper's numbers."
)

_SELECTION = (
    "best val_auc (ties: lower val_loss) on 25% of demo/train videos held out (epoch {epoch} of 40)"
)

WEIGHTS: tuple[WeightsSpec, ...] = (
    WeightsSpec(
        tag="demo",
        variant="lite",
        source="package://dfbench_lipforensics/weights/demo_lite",
        sha256="31fe7b402fe0afc79447dc82561a9899eb559d32d274df5cfe286267994b4aee",
        trained_on="demo/train (24 of its 32 videos; 8 held out for validation)",
        selection=_SELECTION.format(epoch=24),
        license="Apache-2.0",
        description=_DEMO_NOTE,
    ),
    WeightsSpec(
        tag="demo",
        variant="lite_ta",
        source="package://dfbench_lipforensics/weights/demo_lite_ta",
        sha256="0b4a0d291dcf2b89447c3e2cc6ebe6ad07ea7128c1894b0a1604203390d92b63",
        trained_on="demo/train (24 of its 32 videos; 8 held out for validation)",
        selection=_SELECTION.format(epoch=36),
        license="Apache-2.0",
        description=_DEMO_NOTE,
    ),
)
