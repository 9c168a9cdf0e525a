"""The root ``dfbench`` click group: clean one-line errors, plugin commands loaded on first need.

Only the ``dfbench.cli`` package prints. Errors derived from :class:`DfbenchError` are shown as one
clear message (naming the flag, file or environment variable that fixes them) with exit code 1.
"""

from __future__ import annotations

import logging

import click

from ..errors import DfbenchError


class _Group(click.Group):
    """Turns dfbench errors into clean messages, and lets plugins add commands lazily."""

    _plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if not self._plugins_loaded:
            self._plugins_loaded = True
            from ..registry import get_registry
            from .guard import register_plugin_commands

            try:
                register_plugin_commands(get_registry().pm, self)
            except DfbenchError as e:
                # Two plugins claiming one command: which one runs would be an accident of load
                # order, so nothing runs until the user removes or blocks one (the message says how).
                click.secho(f"error: {e}", fg="red", err=True)
                raise SystemExit(1) from e

    def list_commands(self, ctx):
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is None:
            self._load_plugin_commands()
            cmd = super().get_command(ctx, name)
        return cmd

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DfbenchError as e:
            click.secho(f"error: {e}", fg="red", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="dfbench")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """dfbench: how good is this deepfake detector, on which data, under which corruption, at what cost?

    \b
    Environment:
      DFBENCH_CACHE            cache root: face crops, the demo dataset, Hugging Face media
                               (default ~/.cache/dfbench)
      DFBENCH_<DATASET>_ROOT   where a dataset lives, e.g. DFBENCH_CELEBDF_V2_ROOT (or --data-root)
      DFBENCH_BLOCK_PLUGINS, DFBENCH_EXTRA_PLUGINS, DFBENCH_DISABLE_PLUGIN_AUTOLOAD   plugin switches
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if verbose < 2:
        _quiet_ffmpeg()


def _quiet_ffmpeg() -> None:
    """FFmpeg's own log lines (``[h264 @ 0x...] error while decoding``) would tear the progress
    bar; each failure is recorded with its reason instead, so only fatal FFmpeg messages pass.

    Two FFmpeg builds decode here: OpenCV's (it reads ``OPENCV_FFMPEG_LOGLEVEL`` when it first
    opens a video; 8 = AV_LOG_FATAL; a value the user set wins) and PyAV's. ``-vv`` keeps both.
    """
    import os

    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "8")
    try:
        import av.logging

        if hasattr(av.logging, "set_libav_level"):
            av.logging.set_libav_level(av.logging.FATAL)
        else:
            av.logging.set_level(av.logging.FATAL)
    except Exception:  # no PyAV (or an old one): nothing to silence
        pass
