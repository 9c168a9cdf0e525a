"""Plugin discovery: a fresh pluggy manager per call, loading the ``dfbench`` entry points."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable

import pluggy

from . import hookspecs

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "dfbench"
DISABLE_AUTOLOAD_ENV = "DFBENCH_DISABLE_PLUGIN_AUTOLOAD"
BLOCK_ENV = "DFBENCH_BLOCK_PLUGINS"


class _Fallbacks:
    """The built-in fallback for ``resolve_dataset_root``: ``--data-root``, then the env var."""

    @hookspecs.hookimpl(trylast=True)
    def resolve_dataset_root(self, spec, data_dir):
        from pathlib import Path

        if data_dir is not None:
            return Path(data_dir)
        env = os.environ.get(spec.env_var)
        return Path(env) if env else None


def get_plugin_manager(
    *,
    block: Iterable[str] = (),
    extra_plugins: Iterable[object] = (),
    load_entrypoints: bool | None = None,
) -> pluggy.PluginManager:
    """Return a fresh plugin manager.

    Entry points of the ``dfbench`` group are loaded unless ``DFBENCH_DISABLE_PLUGIN_AUTOLOAD=1``
    (then only ``extra_plugins`` and the built-in fallbacks are present). ``block`` (and the
    comma-separated ``DFBENCH_BLOCK_PLUGINS``) names entry points to skip.
    """
    pm = pluggy.PluginManager("dfbench")
    pm.add_hookspecs(hookspecs)
    blocked = set(block) | {b for b in os.environ.get(BLOCK_ENV, "").split(",") if b}
    for name in blocked:
        pm.set_blocked(name)
    if load_entrypoints is None:
        load_entrypoints = os.environ.get(DISABLE_AUTOLOAD_ENV, "") not in ("1", "true", "yes")
    if load_entrypoints:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra_plugins:
        pm.register(plugin)
    pm.register(_Fallbacks(), name="dfbench.fallbacks")
    pm.check_pending()
    return pm


def plugin_info(pm: pluggy.PluginManager) -> list[dict]:
    """Name, distribution and version of every loaded plugin (for ``dfbench plugins``)."""
    dists = {id(p): d for p, d in pm.list_plugin_distinfo()}
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None or name == "dfbench.fallbacks":
            continue
        dist = dists.get(id(plugin))
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        rows.append({
            "name": name,
            "distribution": dist.project_name if dist else None,
            "version": dist.version if dist else None,
            "hooks": hooks,
        })
    return rows
