"""Name -> spec registries, filled from the plugin hooks.

A name registered by two plugins is an error that names both. Detector ids follow timm:
``<family>[_<variant>][.<weights_tag>]``; ``laanet`` resolves to the default variant and weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pluggy

from .errors import (
    DuplicateNameError,
    UnknownCorruptionError,
    UnknownCropperError,
    UnknownDatasetError,
    UnknownDetectorError,
)
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
        base = self.spec.name if self.variant.name == "default" else f"{self.spec.name}_{self.variant.name}"
        return f"{base}.{self.weights.tag}" if self.weights else base


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
        self.dataset_aliases = {a: s.name for s in self.datasets.values() for a in s.aliases}

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
            for v in spec.variants:
                ids.append(spec.name if v.name == "default" else f"{spec.name}_{v.name}")
            ids += [f"{spec.name}.{w.tag}" if w.variant == "default" else f"{spec.name}_{w.variant}.{w.tag}"
                    for w in spec.weights]
            ids += list(spec.aliases)
        return sorted(set(ids))

    def resolve_detector(self, name: str) -> ResolvedDetector:
        """``family[_variant][.tag]`` -> (spec, variant, weights or None).

        ``onnx:PATH``, ``torchscript:PATH`` and ``py:module:factory`` name bring-your-own models
        (:mod:`dfbench.zoo.byo`): no plugin, the input contract comes from a sidecar or flags."""
        if name.startswith(("onnx:", "torchscript:", "py:")):
            from .zoo.byo import resolve_byo

            return resolve_byo(name)
        base, _, tag = name.partition(".")
        spec, variant_name = None, None
        for fam in sorted(self.detectors, key=len, reverse=True):
            s = self.detectors[fam]
            if base == fam or base in s.aliases:
                spec, variant_name = s, s.default_variant
                break
            if base.startswith(fam + "_"):
                rest = base[len(fam) + 1:]
                if rest in {v.name for v in s.variants}:
                    spec, variant_name = s, rest
                    break
        if spec is None:
            raise UnknownDetectorError(name, self.detector_ids())
        variant = spec.variant(variant_name)
        explicit_variant = not (base == spec.name or base in spec.aliases)
        weights = None
        if tag:
            weights = spec.weights_for(tag, variant.name) or (None if explicit_variant else spec.weights_for(tag))
            if weights is None:
                known = [f"{spec.name if w.variant == 'default' else spec.name + '_' + w.variant}.{w.tag}" for w in spec.weights]
                raise UnknownDetectorError(name, known + self.detector_ids())
            variant = spec.variant(weights.variant)
        elif spec.default_weights:
            weights = spec.weights_for(spec.default_weights, variant.name)
        return ResolvedDetector(spec, variant, weights)

    # -- others ------------------------------------------------------------------------------
    def dataset(self, name: str) -> DatasetSpec:
        name = self.dataset_aliases.get(name, name)
        if name not in self.datasets:
            raise UnknownDatasetError(name, sorted(self.datasets) + sorted(self.dataset_aliases))
        return self.datasets[name]

    def corruption(self, name: str) -> CorruptionSpec:
        if name not in self.corruptions:
            raise UnknownCorruptionError(name, sorted(self.corruptions))
        return self.corruptions[name]

    def cropper(self, name: str) -> CropperSpec:
        if name not in self.croppers:
            raise UnknownCropperError(name, sorted(self.croppers))
        return self.croppers[name]

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
