"""The ``--workers`` / ``--executor`` flags, shared by ``run`` and ``robustness``."""

from __future__ import annotations

import click


def parallel_options(f):
    """Decorator adding ``workers`` and ``executor`` parameters to a click command."""
    f = click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                     help="ray: prepare videos as Ray tasks on the cluster at RAY_ADDRESS (else a local Ray "
                          "with --workers CPUs, default 2); results are identical to a local run.")(f)
    f = click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
                     help="Worker processes that decode, corrupt and crop (one thread each); 0: a thread "
                          "in this process. Results do not depend on it.")(f)
    return f
