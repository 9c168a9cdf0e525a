"""Build a detector by id, with its weights, ready for evaluation.

Weights come from (in order): ``--weights`` (a local directory or ``hf://org/name@revision``),
the id's ``.tag`` (``recce.demo``), or the family's default tag. A detector built without trained
weights is marked ``trained = False`` and every table labels it so; it is never silently scored.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from .errors import WeightsError
from .ids import format_id
from .registry import Registry, ResolvedDetector, get_registry
from .weights import (
    WEIGHTS_FILE,
    check_architecture,
    check_state_fits,
    read_weights_dir,
    resolve_source,
    sha256_file,
)

log = logging.getLogger(__name__)


def detector_id_of(det) -> str:
    return format_id(det.spec.name, det.variant.name, det.weights_info.get("tag"))


def fetch_weights(source: str, sha256: str | None = None) -> Path:
    """A local directory for ``source``: local paths as they are, ``hf://`` through the Hub client."""
    if source.startswith("hf://"):
        from .hub import download_weights

        return download_weights(source, expected_sha256=sha256)
    path = resolve_source(source)
    if not path.exists():
        raise WeightsError(f"weights not found at {path} (from {source!r}); pass --weights DIR or hf://ORG/NAME@REV")
    return path


def build_detector(name, weights: str | None = None, *, registry: Registry | None = None,
                   require_weights: bool = False):
    """Build ``name`` (``family[_variant][.tag]``) and load its weights.

    ``weights`` overrides the spec's weights (a directory with ``model.safetensors``, or
    ``hf://org/name@revision``). Without any weights the detector is returned untrained
    (``det.trained is False``) unless ``require_weights``.
    """
    reg = registry or get_registry()
    resolved: ResolvedDetector = name if isinstance(name, ResolvedDetector) else reg.resolve_detector(name)
    det = resolved.spec.build(resolved.variant.name)
    source, sha, tag, wspec = None, None, None, resolved.weights
    if weights:
        source = weights
    elif wspec is not None:
        source, sha, tag = wspec.source, wspec.sha256, wspec.tag
    if source is None:
        if det.trained:  # a detector with nothing to learn (e.g. the testing kit's references)
            return det
        if require_weights:
            raise WeightsError(f"{resolved.id} has no weights; pass --weights DIR (or a tagged id, e.g. "
                               f"{resolved.spec.name}.{resolved.spec.weights[0].tag if resolved.spec.weights else 'TAG'})")
        # Runs refuse it (or flag it with --allow-untrained); a warning here would only repeat that.
        log.info("%s: no trained weights; the detector is untrained", resolved.id)
        return det
    path = fetch_weights(source, sha)
    state, config = read_weights_dir(path, expected_sha256=sha)
    check_architecture(config, resolved.spec.name, resolved.variant.name, str(source), reg.detector_ids())
    check_state_fits(det.state_dict(), state, str(source), resolved.id)
    det.load_state_dict(state, strict=True)
    det.trained = True
    # The checksum that identifies a number is the file's own, never one copied from config.json
    # (which can be stale or edited): hashed here (read_weights_dir has already verified a pin).
    wfile = path / WEIGHTS_FILE if path.is_dir() else path
    det.weights_info = {"tag": tag, "source": str(source), "sha256": sha256_file(wfile),
                        "selection": selection_text((wspec.selection if wspec else None) or config.get("selection")),
                        "trained_on": (wspec.trained_on if wspec else None) or config.get("trained_on"),
                        "threshold": config.get("threshold")}
    return det


def selection_text(selection: Any) -> str | None:
    """The checkpoint-selection record as one line a reader (and the leaderboard) can quote.

    Weights trained on :mod:`dfbench.training` store a record (rule, split, metric, value, epoch);
    packaged or converted weights state it in prose. Both become text naming the split and the rule.
    """
    if not selection or isinstance(selection, str):
        return selection or None
    if isinstance(selection, dict):
        rule = selection.get("rule") or f"best {selection.get('metric', '?')}"
        split = selection.get("split")
        bits = [str(rule)]
        if split and str(split) not in str(rule):
            bits.append(f"selection split {split}")
        value, metric = selection.get("value"), selection.get("metric")
        if isinstance(value, (int, float)) and metric:
            bits.append(f"{metric} {value:.4f} at epoch {selection.get('epoch', '?')}")
        return "; ".join(bits)
    return str(selection)
