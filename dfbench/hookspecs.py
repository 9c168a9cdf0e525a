"""The extension API of dfbench: every hook a plugin may implement.

Plugins are discovered through the ``dfbench`` entry-point group and implement these hooks with
``@dfbench.hookimpl``. Built-in datasets, corruptions and croppers are plugins like any other.
``docs/plugins.md`` documents each hook; a test keeps that page and this module in step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("dfbench")
hookimpl = pluggy.HookimplMarker("dfbench")


@hookspec
def register_detectors(register: Callable[[Any], None]) -> None:
    """Register detector families.

    Call ``register(DetectorSpec(...))`` once per family. The spec must be cheap to build (name
    the model factory as an import string) because every CLI call collects all specs. A name that
    another plugin already registered is an error naming both plugins.
    """


@hookspec
def register_datasets(register: Callable[[Any], None]) -> None:
    """Register datasets: call ``register(DatasetSpec(...))`` once per dataset.

    The spec's ``index`` callable enumerates the official split membership from the user's data
    root (label 1 = fake, globally unique keys), listing missing or broken files rather than
    crashing on them.
    """


@hookspec
def register_corruptions(register: Callable[[Any], None]) -> None:
    """Register corruptions: call ``register(CorruptionSpec(...))`` once per corruption.

    ``apply(frames, level, seed)`` takes uint8 ``[T, H, W, 3]`` RGB frames and returns a new array
    of the same shape and dtype; all randomness derives from ``seed``.
    """


@hookspec
def register_croppers(register: Callable[[Any], None]) -> None:
    """Register face croppers: call ``register(CropperSpec(...))`` once per cropper.

    A detector's input spec names the cropper it needs; the recipe of the cropper (its settings)
    is part of the protocol hash and of the crop-cache key.
    """


@hookspec
def register_commands(cli: Any) -> None:
    """Add sub-commands to the ``dfbench`` click group (e.g. ``dfbench laanet train``).

    ``cli`` is the root :class:`click.Group` (seen through a guard); call ``cli.add_command(...)``
    or use ``@cli.command()``. A command name that another plugin or the core already uses is an
    error naming both. Import heavy modules inside the command body, not at plugin import time.
    """


@hookspec(firstresult=True)
def resolve_dataset_root(spec: Any, data_dir: Path | None) -> Path | None:
    """Map a dataset to the directory that holds it; the first non-None answer wins.

    Site plugins use this to point datasets at cluster paths. ``data_dir`` is the ``--data-root``
    given on the command line (or None). The built-in fallback returns ``data_dir``, then the
    environment variable ``DFBENCH_<NAME>_ROOT``.
    """


@hookspec
def run_started(run: Any) -> None:
    """Called when an evaluation starts, with the run's :class:`dfbench.runner.RunContext`
    (protocol, output directory, detector and dataset ids). Loggers and trackers hook in here."""


@hookspec
def run_finished(run: Any, result: dict) -> None:
    """Called when an evaluation finished, with the run context and the ``results.json`` content."""
