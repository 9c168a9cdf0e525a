"""Weights shipped inside a plugin package, declared one way for every family.

A family keeps trained weights in ``<package>/weights/<dir>/`` (``model.safetensors`` +
``config.json`` as :func:`dfbench.weights.save_weights` writes them) and lists them in its spec
with ``weights=packaged_weights("dfbench_<family>")``. The config names the variant, the tag
(default: the directory name, so ``lite_demo/`` and ``lite_gf_demo/`` can both be ``demo``) and
pins the sha256; its ``card`` says what the weights were trained on and how the checkpoint was
selected. Only small JSON files are read (no torch), so specs stay cheap to import.
"""

from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any

from .specs import WeightsSpec

log = logging.getLogger(__name__)


def _selection(card: dict[str, Any], cfg: dict[str, Any]) -> str:
    sel = card.get("selection", cfg.get("selection", ""))
    if isinstance(sel, dict):  # a training run's selection record
        rule = sel.get("rule")
        return f"{rule} (epoch {sel.get('epoch')})" if rule else json.dumps(sel, sort_keys=True)
    return str(sel or "")


def packaged_weights(package: str, subdir: str = "weights", *, default_variant: str | None = None
                     ) -> tuple[WeightsSpec, ...]:
    """The :class:`WeightsSpec` of every ``<package>/<subdir>/<dir>/`` holding weights + config."""
    root = resources.files(package) / subdir
    if not root.is_dir():
        return ()
    out = []
    for d in sorted(root.iterdir(), key=lambda p: p.name):
        if not (d.is_dir() and (d / "model.safetensors").is_file() and (d / "config.json").is_file()):
            continue
        try:
            cfg: dict[str, Any] = json.loads((d / "config.json").read_text())
        except (OSError, ValueError) as e:
            log.warning("skipping packaged weights %s/%s: unreadable config.json (%s)", package, d.name, e)
            continue
        card = cfg.get("card") if isinstance(cfg.get("card"), dict) else {}
        variant = cfg.get("variant", default_variant)
        if variant is None:
            log.warning("skipping packaged weights %s/%s: config.json names no variant", package, d.name)
            continue
        out.append(WeightsSpec(
            tag=str(cfg.get("tag") or d.name), variant=str(variant),
            source=f"package://{package}/{subdir}/{d.name}", sha256=cfg.get("sha256"),
            trained_on=str(card.get("trained_on", cfg.get("trained_on", ""))), selection=_selection(card, cfg),
            license=str(card.get("license", cfg.get("license", ""))),
            description=str(card.get("description", cfg.get("description", ""))),
            reported=card.get("reported", {}) or {}))
    return tuple(out)


__all__ = ["packaged_weights"]
