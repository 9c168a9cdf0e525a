"""Name -> spec registries, filled from the plugin hooks.

A name registered by two plugins is an error that names both. Every kind has first-class aliases
(``spec.aliases``; a corruption's DeeperForensics ``official_name`` such as ``GB`` is one too),
checked like names: an alias that shadows a name or another alias is an error naming both
plugins. Detector ids follow timm: ``<family>[_<variant>][.<weights_tag>]`` (parsed only by
:mod:`dfbench.ids`); ``laanet`` resolves to the default variant and weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pluggy

from .errors import (
    DfbenchError,
    DuplicateNameError,
    UnknownCorruptionError,
    UnknownCropperError,
    UnknownDatasetError,
    UnknownDetectorError,
)
from .ids import format_id, parse_id
from .plugins import get_plugin_manager
from .specs import (
    CorruptionSpec,
    CropperSpec,
    DatasetSpec,
    DetectorSpec,
    VariantSpec,
    WeightsSpec,
    load_object,
)


@dataclass(frozen=True)
class ResolvedDetector:
    spec: DetectorSpec
    variant: VariantSpec
    weights: WeightsSpec | None

    @property
    def id(self) -> str:
        return format_id(self.spec.name, self.variant.name, self.weights.tag if self.weights else None)


class Registry:
    """All specs contributed by the loaded plugins."""

    def __init__(self, pm: pluggy.PluginManager | None = None):
        self.pm = pm or get_plugin_manager()
        self.detectors: dict[str, DetectorSpec] = {}
        self.datasets: dict[str, DatasetSpec] = {}
        self.corruptions: dict[str, CorruptionSpec] = {}
        self.croppers: dict[str, CropperSpec] = {}
        self.owner: dict[tuple[str, str], str] = {}
        self._collect("detector", self.detectors, self.pm.hook.register_detectors, DetectorSpec)
        self._collect("dataset", self.datasets, self.pm.hook.register_datasets, DatasetSpec)
        self._collect("corruption", self.corruptions, self.pm.hook.register_corruptions, CorruptionSpec)
        self._collect("cropper", self.croppers, self.pm.hook.register_croppers, CropperSpec)
        # kind -> alias -> name, and aliases refused as ambiguous (kind -> alias -> message).
        self.aliases: dict[str, dict[str, str]] = {}
        self.ambiguous: dict[str, dict[str, str]] = {}
        for kind, table in self._tables().items():
            self._collect_aliases(kind, table)
        self.dataset_aliases = self.aliases["dataset"]

    def _tables(self) -> dict[str, dict]:
        return {"detector": self.detectors, "dataset": self.datasets, "corruption": self.corruptions,
                "cropper": self.croppers}

    def _collect_aliases(self, kind: str, table: dict) -> None:
        """Aliases of every spec of ``kind``, refused when they shadow a name or another alias."""
        aliases: dict[str, str] = {}
        ambiguous: dict[str, str] = {}
        lower_names = {n.casefold(): n for n in table}
        for name, spec in table.items():
            plugin = self.owner[(kind, name)]
            official = getattr(spec, "official_name", "") or ""
            for alias in dict.fromkeys((*tuple(getattr(spec, "aliases", ()) or ()), official)):
                if not alias or alias == name:
                    continue
                if alias in table:
                    raise DuplicateNameError(
                        f"{kind} alias {alias!r} of {name!r} (plugin {plugin!r}) shadows the {kind} {alias!r} of "
                        f"plugin {self.owner[(kind, alias)]!r}. Remove the alias, or block one plugin with "
                        f"DFBENCH_BLOCK_PLUGINS={plugin}.")
                if alias in aliases and aliases[alias] != name:
                    other = aliases[alias]
                    raise DuplicateNameError(
                        f"{kind} alias {alias!r} is claimed by {other!r} (plugin {self.owner[(kind, other)]!r}) and by "
                        f"{name!r} (plugin {plugin!r}). Remove one alias, or block a plugin with "
                        f"DFBENCH_BLOCK_PLUGINS={plugin}.")
                clash = lower_names.get(alias.casefold())
                if alias == official and clash and clash != name:
                    # DeeperForensics' "JPEG" is a rescale while dfbench's "jpeg" is real JPEG coding:
                    # an official name that differs from another name only by case is never guessed.
                    ambiguous[alias] = (f"{alias!r} is ambiguous: the official name {alias!r} means {name!r} here, "
                                        f"while {clash!r} is another {kind}. Use {name!r} or {clash!r}.")
                    continue
                aliases[alias] = name
        self.aliases[kind] = aliases
        self.ambiguous[kind] = ambiguous

    def canonical(self, kind: str, name: str) -> str:
        """The registered name for ``name`` of ``kind``: itself, an alias, or a unique case-insensitive
        match of either; unknown names raise the kind's Unknown*Error with suggestions."""
        table, aliases = self._tables()[kind], self.aliases[kind]
        if name in table:
            return name
        if name in aliases:
            return aliases[name]
        for alias, message in self.ambiguous[kind].items():
            if name.casefold() == alias.casefold():
                raise DfbenchError(message)
        folded = {k.casefold(): v for k, v in {**{n: n for n in table}, **aliases}.items()
                  if k.casefold() not in {a.casefold() for a in self.ambiguous[kind]}}
        if name.casefold() in folded:
            return folded[name.casefold()]
        known = sorted(table) + sorted(aliases)
        err = {"dataset": UnknownDatasetError, "corruption": UnknownCorruptionError,
               "cropper": UnknownCropperError, "detector": UnknownDetectorError}[kind]
        raise err(name, known)

    def _collect(self, kind: str, table: dict, hook, spec_type) -> None:
        # Call each implementation separately so we know which plugin registered what.
        for impl in reversed(hook.get_hookimpls()):
            plugin_name = impl.plugin_name

            def register(spec: Any, _plugin=plugin_name) -> None:
                if not isinstance(spec, spec_type):
                    raise TypeError(f"plugin {_plugin!r} registered {type(spec).__name__}, expected {spec_type.__name__}")
                if spec.name in table:
                    other = self.owner[(kind, spec.name)]
                    raise DuplicateNameError(
                        f"{kind} {spec.name!r} is registered by two plugins: {other!r} and {_plugin!r}. "
                        f"Uninstall one, or block it with DFBENCH_BLOCK_PLUGINS={_plugin}."
                    )
                table[spec.name] = spec
                self.owner[(kind, spec.name)] = _plugin

            impl.function(**{"register": register} if "register" in impl.argnames else {})

    # -- detectors --------------------------------------------------------------------------
    def detector_ids(self) -> list[str]:
        ids = []
        for spec in self.detectors.values():
            ids += [format_id(spec.name, v.name) for v in spec.variants]
            ids += [format_id(spec.name, w.variant, w.tag) for w in spec.weights]
            ids += list(spec.aliases)
        return sorted(set(ids))

    def resolve_detector(self, name: str) -> ResolvedDetector:
        """``family[_variant][.tag]`` (or an alias of a family, with an optional ``.tag``) ->
        (spec, variant, weights or None).

        ``onnx:PATH``, ``torchscript:PATH`` and ``py:module:factory`` name bring-your-own models
        (:mod:`dfbench.zoo.byo`): no plugin, the input contract comes from a sidecar or flags."""
        if name.startswith(("onnx:", "torchscript:", "py:")):
            from .zoo.byo import resolve_byo

            return resolve_byo(name)
        from .ids import split_tag

        base, tag = split_tag(name)
        if base in self.aliases.get("detector", {}):
            parsed = parse_id(self.aliases["detector"][base] + (f".{tag}" if tag else ""), self.detectors)
        else:
            parsed = parse_id(name, self.detectors, lambda fam: {v.name for v in self.detectors[fam].variants})
        if parsed is None:
            raise UnknownDetectorError(name, self.detector_ids())
        spec = self.detectors[parsed.family]
        explicit_variant = parsed.variant != "default" or base not in (spec.name, *spec.aliases)
        variant = spec.variant(parsed.variant if explicit_variant else spec.default_variant)
        weights = None
        if tag:
            weights = spec.weights_for(tag, variant.name) or (None if explicit_variant else spec.weights_for(tag))
            if weights is None:
                known = [format_id(spec.name, w.variant, w.tag) for w in spec.weights]
                raise UnknownDetectorError(name, known + self.detector_ids())
            variant = spec.variant(weights.variant)
        elif spec.default_weights:
            weights = spec.weights_for(spec.default_weights, variant.name)
        return ResolvedDetector(spec, variant, weights)

    # -- others ------------------------------------------------------------------------------
    def dataset(self, name: str) -> DatasetSpec:
        return self.datasets[self.canonical("dataset", name)]

    def corruption(self, name: str) -> CorruptionSpec:
        """By name, alias or DeeperForensics short name (``GB``); the official ``JPEG`` is refused as
        ambiguous (it is ``pixelation`` here, while ``jpeg`` is real JPEG coding)."""
        return self.corruptions[self.canonical("corruption", name)]

    def cropper(self, name: str) -> CropperSpec:
        return self.croppers[self.canonical("cropper", name)]

    def build_cropper(self, name: str, overrides: Any = None) -> tuple[Any, dict[str, Any]]:
        """A cropper instance and its settings: the spec's defaults updated with ``overrides``
        (a detector's ``crop_settings``). The one place croppers are built, so run, predict,
        bench and prepare always crop alike."""
        spec = self.cropper(name)
        settings = {**dict(spec.defaults), **dict(overrides or {})}
        return load_object(spec.factory)(**settings), settings

    def suite(self, tag: str) -> list[CorruptionSpec]:
        return [c for c in self.corruptions.values() if tag in c.suites]


_default: Registry | None = None


def get_registry(refresh: bool = False) -> Registry:
    """The process-wide registry (built once; ``refresh=True`` rebuilds it)."""
    global _default
    if _default is None or refresh:
        _default = Registry()
    return _default
