"""Plugin commands on the root group, collision-checked: two plugins adding the same command, or a
plugin shadowing a core command, is an error naming both (``DFBENCH_BLOCK_PLUGINS`` is the fix)."""

from __future__ import annotations

import click
import pluggy

from ..errors import DuplicateNameError


class _CommandGuard:
    """What one plugin's ``register_commands`` receives: the root click group, with every added
    command checked against the core commands and those of the other plugins."""

    def __init__(self, group, plugin: str, owners: dict[str, str], core: set[str]):
        self._group, self._plugin, self._owners, self._core = group, plugin, owners, core

    def add_command(self, cmd, name: str | None = None) -> None:
        name = name or cmd.name
        if name in self._owners:
            raise DuplicateNameError(
                f"command {name!r} is added by two plugins: {self._owners[name]!r} and {self._plugin!r}. "
                f"Uninstall one, or block it with DFBENCH_BLOCK_PLUGINS={self._plugin}.")
        if name in self._core:
            raise DuplicateNameError(
                f"plugin {self._plugin!r} adds command {name!r}, which is a core dfbench command. "
                f"Rename it in the plugin, or block the plugin with DFBENCH_BLOCK_PLUGINS={self._plugin}.")
        self._owners[name] = self._plugin
        self._group.add_command(cmd, name)

    def _decorator(self, make, args, kwargs):
        def deco(f):
            cmd = make(*args, **kwargs)(f)
            self.add_command(cmd)
            return cmd

        return deco

    def command(self, *args, **kwargs):
        if args and callable(args[0]):  # bare @cli.command
            return self._decorator(click.command, (), {})(args[0])
        return self._decorator(click.command, args, kwargs)

    def group(self, *args, **kwargs):
        if args and callable(args[0]):
            return self._decorator(click.group, (), {})(args[0])
        return self._decorator(click.group, args, kwargs)

    def __getattr__(self, attr):
        return getattr(self._group, attr)


def register_plugin_commands(pm: pluggy.PluginManager, group) -> dict[str, str]:
    """Call each plugin's ``register_commands`` with a guard so that two plugins adding the same
    command (or one shadowing a core command) is an error naming both; returns command -> plugin."""
    owners: dict[str, str] = {}
    core = set(group.commands)
    for impl in reversed(pm.hook.register_commands.get_hookimpls()):
        impl.function(cli=_CommandGuard(group, impl.plugin_name, owners, core))
    return owners
