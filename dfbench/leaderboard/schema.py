"""The leaderboard entry schema (JSON Schema, draft 2020-12) and validation.

One entry = one detector on one dataset under one protocol, stored at
``leaderboards/<dataset>/<protocol>/<detector_id>.json``. It keeps the paper's number
(``reported``: value, source, confidence tag) beside dfbench's own (``measured``: metrics with CIs,
protocol hash, weights sha256, dfbench version, hardware, throughput, and the ``cost`` measured by
``dfbench bench``), so a reader sees at once
whether a published figure was reproduced. Metric values are fractions in [0, 1] stored as JSON
numbers, never strings or percentages.
"""

from __future__ import annotations

import functools
from typing import Any

SCHEMA_VERSION = 1

LEVELS = ("frame", "video", "clip")
CONFIDENCE = ("H", "M", "L")
"""H: read in the source or measured; M: from an issue thread or abstract; L: recalled from a paper table."""
FLAGS = (
    "reported-not-reproduced",  # the number comes from a paper/README; dfbench has not re-run it
    "oracle-selection",  # checkpoint chosen on the test set (DeepfakeBench, RECCE): an upper bound
    "unverified-number",  # confidence L: check against the paper before quoting
    "third-party-retest",  # someone other than the authors re-ran released weights
    "different-preprocessing",  # the authors' own face pipeline, not dfbench's
    "merged-ff-pairs",  # FF++ pairs merged across methods by folder name (video count differs)
    "untrained",  # measured with random weights: meaningless numbers, kept visible
    "demo-data",  # measured on the embedded demo split: a smoke test, not a benchmark
    "partial-dataset",  # fewer videos than the official split
    "subset",  # a --limit/--limit-percent run: some videos of the split were left out on purpose
    "other-protocol",  # frames/aggregation/cropper differ from the detector's own, or filed under another table
    "crops-fallback",  # the official crop recipe's face models were absent: an offline stand-in made the crops
)
UNRANKED_FLAGS = ("subset", "partial-dataset", "other-protocol")
"""Entries with one of these flags are shown but left out of the ranking unless ranked explicitly."""
METRICS = ("auc", "ap", "eer", "acc", "f1_best")
"""``f1_best`` is the oracle F1: its threshold was chosen on the test set itself (an upper bound)."""

_unit = {"type": "number", "minimum": 0, "maximum": 1}
_ci = {"type": ["array", "null"], "items": {"type": ["number", "null"]}, "minItems": 2, "maxItems": 2}
_metric_block = {
    "type": "object",
    "properties": {**{m: {"type": ["number", "null"], "minimum": 0, "maximum": 1} for m in METRICS},
                   **{f"{m}_ci95": _ci for m in METRICS},
                   "n_real": {"type": ["integer", "null"], "minimum": 0},
                   "n_fake": {"type": ["integer", "null"], "minimum": 0}},
    "additionalProperties": False,
}
_robustness = {
    "description": "corruption type -> level ('1'..'5', or 'mean' when only the average over levels is known) -> AUC",
    "type": "object",
    "additionalProperties": {
        "type": "object",
        "propertyNames": {"pattern": "^([0-9]+|mean)$"},
        "additionalProperties": _unit,
        "minProperties": 1,
    },
}
_slug = {"type": "string", "pattern": "^[a-z0-9][a-z0-9._+-]*$"}
_nonneg = {"type": "number", "minimum": 0}
_opt_nonneg = {"type": ["number", "null"], "minimum": 0}
_cost = {
    "description": "what the detector costs, from `dfbench bench` on the named hardware: model-only figures "
                   "at its declared input, end-to-end videos/s through decode + faces + model on one video",
    "type": "object",
    "required": ["source", "benchmarked_id", "params", "params_m", "gmacs", "unit", "units_per_s", "best_config",
                 "videos_per_s", "hardware", "dfbench_version"],
    "additionalProperties": False,
    "properties": {
        "source": {"const": "dfbench bench"},
        "benchmarked_id": {"type": "string", "minLength": 1},
        "bench_schema_version": {"type": "integer", "minimum": 1},
        "params": {"type": "integer", "minimum": 0},
        "params_m": _nonneg,
        "gmacs": {**_nonneg, "description": "per input unit (one frame crop or one clip)"},
        "gmacs_per_video": {**_opt_nonneg, "description": "units per video x flip-test multiplier"},
        "unit": {"enum": ["frame", "clip"]},
        "latency_ms_p50": _opt_nonneg,
        "latency_ms_p95": _opt_nonneg,
        "units_per_s": {"type": "number", "exclusiveMinimum": 0, "description": "best model-only throughput"},
        "best_config": {"type": "string", "minLength": 1},
        "best": {"type": "object", "additionalProperties": False,
                 "properties": {"precision": {"type": "string"}, "channels_last": {"type": "boolean"},
                                "compile": {"type": "boolean"}, "batch_size": {"type": "integer", "minimum": 1}}},
        "videos_per_s": {**_opt_nonneg, "description": "end to end; null when the bench ran with --no-e2e"},
        "e2e_video": {"type": ["string", "null"]},
        "e2e_units": {"type": ["integer", "null"], "minimum": 0},
        "peak_rss_delta_mb": _opt_nonneg,
        "hardware": {"type": "object", "required": ["cpu", "threads", "torch", "device"],
                     "additionalProperties": {"type": ["string", "integer"]}},
        "dfbench_version": {"type": "string"},
        "git_commit": {"type": ["string", "null"]},
    },
}

ENTRY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://dfbench.dev/schemas/leaderboard-entry-1.json",
    "title": "dfbench leaderboard entry",
    "type": "object",
    "required": ["schema_version", "detector_id", "detector", "dataset", "protocol", "protocol_info", "flags"],
    "anyOf": [{"required": ["reported"]}, {"required": ["measured"]}],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "detector_id": {**_slug, "description": "dfbench id family[_variant][.tag]; the tag says whose weights"},
        "detector": {
            "type": "object", "required": ["name"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "minLength": 1}, "family": {"type": "string"},
                           "backbone": {"type": "string"}, "paper": {"type": "string"}, "url": {"type": "string"},
                           "in_dfbench": {"type": "boolean", "description": "a dfbench plugin implements it"}},
        },
        "dataset": _slug,
        "protocol": _slug,
        "protocol_info": {
            "type": "object", "required": ["level", "train_set", "checkpoint_selection"], "additionalProperties": False,
            "properties": {
                "level": {"enum": list(LEVELS)},
                "train_set": {"type": "string", "minLength": 1},
                "checkpoint_selection": {"type": "string", "minLength": 1},
                "frames_per_video": {"type": ["integer", "string", "null"]},
                "aggregation": {"type": ["string", "null"]},
                "preprocessing": {"type": "string"},
                "test_set": {"type": "string"},
                "description": {"type": "string"},
            },
        },
        "reported": {
            "type": "object", "required": ["status", "source", "confidence", "metrics"], "additionalProperties": False,
            "properties": {
                "status": {"const": "reported, not reproduced here"},
                "source": {"type": "string", "minLength": 3},
                "url": {"type": "string"},
                "confidence": {"enum": list(CONFIDENCE)},
                "metrics": {"type": "object", "additionalProperties": _unit,
                            "propertyNames": {"enum": list(METRICS)}},
                "robustness": _robustness,
                "note": {"type": "string"},
            },
        },
        "measured": {
            "type": "object",
            "required": ["status", "protocol_hash", "metrics", "counts", "weights", "dfbench_version"],
            "additionalProperties": False,
            "properties": {
                "status": {"const": "measured by dfbench"},
                "protocol_hash": {"type": "string", "pattern": "^[0-9a-f]{16,64}$"},
                "protocol_core_hash": {"type": "string", "pattern": "^[0-9a-f]{16,64}$"},
                "metrics": {"type": "object", "required": ["video"], "additionalProperties": False,
                            "properties": {"video": _metric_block, "frame": _metric_block}},
                "roc": {"type": "object", "required": ["fpr", "tpr"], "additionalProperties": False,
                        "properties": {"fpr": {"type": "array", "items": _unit},
                                       "tpr": {"type": "array", "items": _unit}}},
                "per_method": {"type": "object", "additionalProperties": {"type": "object"}},
                "counts": {"type": "object", "required": ["videos_scored"],
                           "additionalProperties": {"type": ["integer", "null"], "minimum": 0}},
                "weights": {"type": "object", "required": ["sha256"], "additionalProperties": False,
                            "properties": {"tag": {"type": ["string", "null"]}, "sha256": {"type": ["string", "null"]},
                                           "source": {"type": ["string", "null"]}, "trained": {"type": "boolean"}}},
                "protocol": {"type": "object"},
                "dfbench_version": {"type": "string"},
                "git_commit": {"type": ["string", "null"]},
                "hardware": {"type": "object"},
                "throughput": {"type": "object", "additionalProperties": {"type": ["number", "string", "null"]}},
                "robustness": _robustness,
                "cost": _cost,
            },
        },
        "flags": {"type": "array", "uniqueItems": True, "items": {"enum": list(FLAGS)}},
        "ranked": {"type": "boolean",
                   "description": "false: shown on the page but not ranked (see UNRANKED_FLAGS); absent = ranked"},
        "flag_reasons": {"type": "object", "additionalProperties": {"type": "string"},
                         "description": "flag -> why it was set (e.g. 'scored 2 of 24 videos (--limit 2)')"},
        "footnote": {"type": "string"},
    },
}


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema

    return jsonschema.Draft202012Validator(ENTRY_SCHEMA)


def validate_entry(entry: Any) -> list[str]:
    """Every schema violation of ``entry`` as ``path: message`` (empty when valid)."""
    validator = _validator()
    errors = []
    for err in sorted(validator.iter_errors(entry), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        errors.append(f"{where}: {err.message}")
    return errors
