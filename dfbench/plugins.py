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
EXTRA_ENV = "DFBENCH_EXTRA_PLUGINS"


class _Fallbacks:
    """The built-in fallback for ``resolve_dataset_root``: ``--data-root``, then the env var."""

    @hookspecs.hookimpl(trylast=True)
    def resolve_dataset_root(self, spec, data_dir):
        from pathlib import Path

        if data_dir is not None:
            return Path(data_dir)
        env = os.environ.get(spec.env_var)
        return Path(env) if env else None


LOAD_ERRORS: dict[str, str] = {}
PLUGIN_DISTS: dict[str, tuple[str, str]] = {}
DUPLICATE_ENTRY_POINTS: dict[str, str] = {}
"""Entry-point name -> what registered it a second time (reported by ``dfbench plugins``)."""


def _load_entrypoints(pm: pluggy.PluginManager) -> None:
    """Like pluggy's loader, but one broken plugin is reported instead of breaking every command."""
    from importlib.metadata import distributions

    seen: dict[str, str] = {}
    DUPLICATE_ENTRY_POINTS.clear()
    for dist in list(distributions()):
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or pm.is_blocked(ep.name):
                continue
            where = f"{dist.metadata['Name']} {dist.version} ({ep.value})"
            if ep.name in seen:
                # The same name twice (two distributions, or one installed twice on sys.path): only the
                # first is loaded, and the user is told, instead of one of them silently winning.
                if seen[ep.name] != where:
                    msg = (f"entry point {ep.name!r} is registered twice: by {seen[ep.name]} and by {where}; "
                           f"the first is used. Uninstall one (pip uninstall), or rename the entry point")
                    DUPLICATE_ENTRY_POINTS[ep.name] = msg
                    log.warning("%s", msg)
                continue
            seen[ep.name] = where
            try:
                plugin = ep.load()
            except Exception as e:  # noqa: BLE001 - any import error of a third-party plugin
                LOAD_ERRORS[ep.name] = f"{type(e).__name__}: {e}"
                PLUGIN_DISTS.pop(ep.name, None)
                log.warning("dfbench plugin %r (%s) failed to load: %s", ep.name, ep.value, e)
                continue
            LOAD_ERRORS.pop(ep.name, None)
            pm.register(plugin, name=ep.name)
            PLUGIN_DISTS[ep.name] = (dist.metadata["Name"], dist.version)


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
    ``DFBENCH_EXTRA_PLUGINS=module:object,...`` registers plugin objects that are not installed.
    """
    pm = pluggy.PluginManager("dfbench")
    pm.add_hookspecs(hookspecs)
    blocked = set(block) | {b for b in os.environ.get(BLOCK_ENV, "").split(",") if b}
    for name in blocked:
        pm.set_blocked(name)
    if load_entrypoints is None:
        load_entrypoints = os.environ.get(DISABLE_AUTOLOAD_ENV, "") not in ("1", "true", "yes")
    if load_entrypoints:
        _load_entrypoints(pm)
    for ref in filter(None, os.environ.get(EXTRA_ENV, "").split(",")):
        # "module:object" references: plugins that are not installed as distributions
        # (a plugin under development, the testing kit) without editing any code.
        from .specs import load_object

        if pm.get_plugin(ref) is None and not pm.is_blocked(ref):
            pm.register(load_object(ref.strip()), name=ref)
    for plugin in extra_plugins:
        pm.register(plugin)
    pm.register(_Fallbacks(), name="dfbench.fallbacks")
    pm.check_pending()
    return pm


def plugin_info(pm: pluggy.PluginManager) -> list[dict]:
    """Name, distribution and version of every loaded plugin (for ``dfbench plugins``)."""
    rows = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None or name == "dfbench.fallbacks":
            continue
        dist, version = PLUGIN_DISTS.get(name, (None, None))
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        rows.append({"name": name, "distribution": dist, "version": version, "hooks": hooks, "error": None})
    rows += [{"name": n, "distribution": None, "version": None, "hooks": [], "error": e}
             for n, e in LOAD_ERRORS.items()]
    rows += [{"name": n, "distribution": None, "version": None, "hooks": [], "error": e}
             for n, e in DUPLICATE_ENTRY_POINTS.items()]
    return rows


def plugin_versions() -> dict[str, str]:
    """Versions of every installed distribution that provides ``dfbench`` entry points."""
    from importlib.metadata import distributions

    out = {}
    for dist in distributions():
        if any(ep.group == ENTRY_POINT_GROUP for ep in dist.entry_points):
            out[dist.metadata["Name"]] = dist.version
    return dict(sorted(out.items()))
