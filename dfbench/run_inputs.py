"""What a run reads its faces from: the face rule a dataset asks for (every face of a frame, or
the primary one) and the crop cache a run shares with other runs of the same crops.

Split from :mod:`dfbench.runner`, which builds the protocol from these answers.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from .registry import Registry
from .specs import DatasetSpec, load_object

log = logging.getLogger(__name__)


FACE_RULE_ALL = "max over the faces of a frame, then video aggregation over frames"


def resolve_face_rule(ds_spec: DatasetSpec, options: dict | None, input_spec: Any, cropper_name: str,
               reg: Registry) -> tuple[bool, str | None, dict[str, Any]]:
    """(score every face?, the rule for the protocol, the cropper's settings).

    A dataset whose faces are not all manipulated (FFIW-10K) asks for ``multi_face: all`` in its
    options: every face of a frame is scored and the frame keeps its maximum (SBI's rule). The
    cropper is then built with ``multi_face="all"`` (or crops every face anyway, as SBI's recipe
    does). A cropper or a clip detector that cannot do it scores the primary face, and the
    protocol says so instead of claiming the dataset's rule. ``--option multi_face=largest``
    turns the rule off. Absent the option nothing changes (and no hash changes)."""
    from .datasets.common import merged_options

    crop_settings = dict(input_spec.crop_settings)
    if merged_options(ds_spec, options).get("multi_face") != "all" or ds_spec.precropped:
        return False, None, crop_settings
    spec = reg.cropper(cropper_name)
    every = "multi_face" in spec.defaults or getattr(load_object(spec.factory), "crops_every_face", False)
    if input_spec.unit != "frame" or not every:
        why = "a clip detector" if input_spec.unit != "frame" else f"cropper {cropper_name} crops one face"
        log.warning("%s asks to score every face of a frame, but %s: only the primary face is scored",
                    ds_spec.name, why)
        return False, f"primary face only ({why}; the dataset asks for every face)", crop_settings
    if "multi_face" in spec.defaults:
        crop_settings["multi_face"] = "all"
    return True, FACE_RULE_ALL, crop_settings


def crop_recipe(cropper, settings: dict) -> dict:
    recipe = getattr(cropper, "recipe", None)
    return recipe() if callable(recipe) else dict(settings)


SOURCE_OPTIONS = ("path_or_id", "revision", "source", "repo_id")
"""Dataset options that say *which* data a generic dataset reads (a Hugging Face dataset id and
revision): they separate crop caches, so two such datasets never share cached crops."""


def open_crop_cache(cache_dir, ds_spec, cropper_name, settings, cropper, input_spec, max_frames, options=None):
    from dataclasses import replace

    try:
        from .media.cache import open_run_cache
    except ImportError:
        return None
    source = {k: (options or {}).get(k) for k in SOURCE_OPTIONS if (options or {}).get(k) is not None}
    if source:
        tag = hashlib.sha256(json.dumps(source, sort_keys=True, default=str).encode()).hexdigest()[:12]
        ds_spec = replace(ds_spec, version=f"{ds_spec.version}+{tag}")
    root = Path(cache_dir) if cache_dir else default_cache_dir() / "crops"
    return open_run_cache(root, dataset=ds_spec, cropper_name=cropper_name, recipe=crop_recipe(cropper, settings),
                          input_spec=input_spec, max_frames=max_frames)


def default_cache_dir() -> Path:
    from .fileio import cache_root

    return cache_root()
