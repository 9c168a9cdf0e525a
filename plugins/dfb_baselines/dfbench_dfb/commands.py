"""``dfbench xception|efficientnet_b4|spsl train|export`` (click; heavy imports happen in the
command bodies). The three train on the core's generic crop-classifier task."""

from __future__ import annotations

import click

from dfbench.cli.train import classifier_group

xception = classifier_group("xception", "Xception (FF++ / DeepfakeBench baseline): training and export.")
efficientnet_b4 = classifier_group("efficientnet_b4", "EfficientNet-B4 (DeepfakeBench baseline): training and export.")
spsl = classifier_group("spsl", "SPSL (CVPR 2021, frequency domain): training and export.")


@click.group("dfbench_dfb")
def dfb() -> None:
    """The three families' commands without the dfbench CLI (``python -m dfbench_dfb``)."""


for _group in (xception, efficientnet_b4, spsl):
    dfb.add_command(_group)
