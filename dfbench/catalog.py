"""Rows describing what the installed plugins offer (``dfbench list``)."""

from __future__ import annotations

from typing import Any

from .ids import format_id
from .registry import Registry, get_registry


def catalog_rows(kind: str, registry: Registry | None = None) -> list[dict[str, Any]]:
    reg = registry or get_registry()
    if kind == "detectors":
        return _detector_rows(reg)
    if kind == "datasets":
        return [{"name": s.name, "aliases": list(s.aliases), "splits": list(s.splits), "version": s.version,
                 "precropped": s.precropped, "env_var": s.env_var, "plugin": reg.owner[("dataset", s.name)],
                 "summary": s.description + (f" (alias: {', '.join(s.aliases)})" if s.aliases else "")}
                for s in sorted(reg.datasets.values(), key=lambda s: s.name)]
    if kind == "corruptions":
        return [{"name": s.name, "levels": list(s.levels), "suites": list(s.suites), "scope": s.scope,
                 "official_name": s.official_name, "parameters": {str(k): v for k, v in s.parameters.items()},
                 "aliases": sorted(a for a, n in reg.aliases["corruption"].items() if n == s.name),
                 "plugin": reg.owner[("corruption", s.name)],
                 "summary": f"levels {s.levels[0]}-{s.levels[-1]}" + (f", suite {','.join(s.suites)}" if s.suites else "")
                 + (f" — {s.description}" if s.description else "")}
                for s in sorted(reg.corruptions.values(), key=lambda s: s.name)]
    if kind == "croppers":
        return [{"name": s.name, "defaults": dict(s.defaults), "temporal": s.temporal,
                 "aliases": list(s.aliases), "plugin": reg.owner[("cropper", s.name)],
                 "summary": s.description + (f" (alias: {', '.join(s.aliases)})" if s.aliases else "")}
                for s in sorted(reg.croppers.values(), key=lambda s: s.name)]
    raise ValueError(kind)


def _detector_rows(reg: Registry) -> list[dict[str, Any]]:
    rows = []
    for spec in sorted(reg.detectors.values(), key=lambda s: s.name):
        for v in spec.variants:
            vid = format_id(spec.name, v.name)
            tags = [w.tag for w in spec.weights if w.variant == v.name]
            default = " (default)" if v.name == spec.default_variant else ""
            i = v.input
            row = {
                "name": vid, "family": spec.name, "variant": v.name, "weights": tags,
                "default": v.name == spec.default_variant, "plugin": reg.owner[("detector", spec.name)],
                "input": i.to_dict(), "paper": spec.paper, "license": spec.license,
                "weights_license": spec.weights_license, "contract": i.describe(),
                "summary": f"{i.unit} {i.size}px {i.colour} via {i.cropper}; weights: {', '.join(tags) or 'none'}{default}",
            }
            # Per family (on its default variant's row): what a user checks before comparing.
            row["details"] = ([f"paper: {spec.paper or 'n/a'}",
                               f"official weights licence: {spec.weights_license or spec.license or 'not stated'}"]
                              if v.name == spec.default_variant else []) + [f"input: {i.describe()}"] \
                + ([f"variant: {v.description}"] if v.description else [])
            rows.append(row)
    return rows
