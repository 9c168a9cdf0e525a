"""dfbench hook implementations for LAA-Net (cheap imports only: no torch at registration)."""

from __future__ import annotations

import logging
from typing import Any

from dfbench import hookimpl

log = logging.getLogger(__name__)


@hookimpl
def register_detectors(register: Any) -> None:
    from .spec import laanet_spec

    register(laanet_spec())


@hookimpl
def register_commands(cli: Any) -> None:
    """Add ``dfbench laanet ...`` (training, synthesis checks) when the training side is installed."""
    try:
        from .commands import laanet
    except ModuleNotFoundError as e:
        if e.name != f"{__package__}.commands":
            raise  # commands.py exists but something it needs is missing: show the real error
        log.warning(
            "dfbench-laanet: %s.commands is absent, so `dfbench laanet` (training) is unavailable; "
            "reinstall dfbench-laanet to get it. Evaluation is unaffected.", __package__,
        )
        return
    cli.add_command(laanet)
