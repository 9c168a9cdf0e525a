"""``dfbench univfd train|export`` (click): the linear probe on the frozen encoder, trained by the
core's generic crop-classifier task (only parameters with requires_grad train)."""

from __future__ import annotations

from dfbench.cli.train import classifier_group

univfd = classifier_group("univfd", "UnivFD (CVPR 2023): train the linear probe on the frozen encoder; export.")
