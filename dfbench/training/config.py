"""Typed training configs: dataclasses, read from YAML, with ``--set key=value`` overrides.

Every trainable family describes its recipe as (nested) dataclasses; this module is the one
loader for all of them, so a config behaves the same whichever family it trains:

* defaults come from the dataclasses, then the YAML file, then the overrides, in that order;
* values are checked against the field's type (from its default), and the classic YAML 1.1 trap,
  ``1e-4`` without a dot read as a *string*, is turned into a number here, once;
* any error is one :class:`ConfigError` naming the key and where it came from (the file or
  ``--set``), with a "did you mean" hint for misspelt keys.

Frozen dataclasses are supported (they are rebuilt, never mutated); dict-typed fields are
free-form mappings (``model.overrides.dropout=0`` sets one entry).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ..errors import DfbenchError

T = TypeVar("T")

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "fp64")
"""One precision vocabulary project-wide (see :mod:`dfbench.training.runtime` for what each means)."""


class ConfigError(DfbenchError):
    """A training config key or value is invalid (the message names the key and its source)."""


def check_choice(key: str, value: Any, choices: Iterable[Any], error: type[Exception] = ConfigError) -> None:
    """Refuse a config value outside its vocabulary, naming the key and every allowed value."""
    choices = tuple(choices)
    if value not in choices:
        raise error(f"{key} must be one of {', '.join(map(str, choices))}, got {value!r}")


def _where(source: str | None) -> str:
    return f"{source}: " if source else ""


def _coerce(value: Any, default: Any, key: str, source: str | None) -> Any:
    """Match ``value`` to the type of the field's default (None defaults accept anything)."""
    if value is None or default is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{_where(source)}{key} expects true/false, got {value!r}")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool):
            raise ConfigError(f"{_where(source)}{key} expects a number, got {value!r}")
        try:  # YAML 1.1 reads "1e-3" (no dot) as a string: the one place this is fixed
            if isinstance(default, float):
                return float(value)
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(float(value)) if isinstance(value, str) else int(value)
        except (TypeError, ValueError):
            kind = "a number" if isinstance(default, float) else "an integer"
            raise ConfigError(f"{_where(source)}{key} expects {kind}, got {value!r}") from None
    if isinstance(default, tuple):
        if not isinstance(value, (list, tuple)) or len(value) != len(default):
            raise ConfigError(f"{_where(source)}{key} expects a list of {len(default)} values, got {value!r}")
        return tuple(_coerce(v, d, key, source) for v, d in zip(value, default, strict=True))
    if isinstance(default, str) and not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # `variant: 18` is meant as a name
        raise ConfigError(f"{_where(source)}{key} expects a string, got {value!r}")
    if isinstance(default, dict) and not isinstance(value, Mapping):
        raise ConfigError(f"{_where(source)}{key} expects a mapping, got {value!r}")
    return value


def _unknown(cls: type, key: str, prefix: str, source: str | None) -> ConfigError:
    names = [f.name for f in dataclasses.fields(cls)]
    close = difflib.get_close_matches(key, names, n=1)
    hint = f" Did you mean {prefix + close[0]!r}?" if close else ""
    return ConfigError(f"{_where(source)}unknown key {prefix + key!r}.{hint} "
                       f"Known keys{' in ' + prefix.rstrip('.') if prefix else ''}: {', '.join(names)}")


def _defaults(cls: type) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            out[f.name] = f.default_factory()  # type: ignore[misc]
        else:
            out[f.name] = None
    return out


def _from_annotation(cls: type, key: str) -> Any:
    """A typed stand-in default for an Optional field (``float | None`` -> 0.0)."""
    ann = str(next(f.type for f in dataclasses.fields(cls) if f.name == key))
    for name, stand_in in (("bool", False), ("float", 0.0), ("int", 0)):
        if re.search(rf"\b{name}\b", ann):
            return stand_in
    return None


def merge(obj: T, data: Mapping[str, Any], source: str | None = None, prefix: str = "") -> T:
    """``obj`` (a dataclass instance) with the entries of ``data`` applied, type-checked."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{_where(source)}{prefix.rstrip('.') or 'the config'} must be a mapping, got {data!r}")
    cls = type(obj)
    defaults = _defaults(cls)
    changes: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        if key not in defaults:
            raise _unknown(cls, key, prefix, source)
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            changes[key] = merge(current, value, source, f"{prefix}{key}.")
        elif isinstance(current, dict) or (current is None and isinstance(defaults[key], dict)):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{_where(source)}{prefix}{key} expects a mapping, got {value!r}")
            changes[key] = {**(current or {}), **value}
        else:
            ref = defaults[key] if defaults[key] is not None else current
            if ref is None:
                ref = _from_annotation(cls, key)
            changes[key] = _coerce(value, ref, prefix + key, source)
    try:
        return dataclasses.replace(obj, **changes)
    except ConfigError as e:  # a dataclass's own __post_init__ check
        raise ConfigError(f"{_where(source)}{e}" if source and not str(e).startswith(source) else str(e)) from None
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{_where(source)}{e}") from None


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"optim.lr=1e-4"`` -> (``["optim", "lr"]``, ``1e-4``); the value is read as YAML."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set: override {item!r} must look like KEY=VALUE (section.key=value), "
                          f"e.g. optim.lr=1e-4")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {key.strip()}: cannot read {raw!r} as a value ({e.problem})") from None
    return key.strip().split("."), value


def nest(parts: list[str], value: Any) -> dict[str, Any]:
    out: Any = value
    for p in reversed(parts):
        out = {p: out}
    return out


def read_yaml(path: str | Path, hint: str = "") -> dict[str, Any]:
    """The mapping at the top of a YAML config file (empty file: ``{}``)."""
    p = Path(path)
    if not p.exists() or p.is_dir():  # (/dev/null is a valid, empty config)
        raise ConfigError(f"config file {p} not found{'; ' + hint if hint else ''}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({e})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level of a training config must be a mapping")
    return data


def load_config(cls: type[T], path: str | Path | None = None, overrides: Iterable[str] = (),
                *, hint: str = "") -> T:
    """Defaults of ``cls``, then the YAML file at ``path`` (if any), then ``key.sub=value`` overrides."""
    cfg = cls()
    if path is not None:
        cfg = merge(cfg, read_yaml(path, hint), source=str(path))
    for item in overrides or ():
        parts, value = parse_override(item)
        cfg = merge(cfg, nest(parts, value), source="--set")
    validate = getattr(cfg, "validate", None)
    if callable(validate):
        try:
            out = validate()
        except ConfigError as e:
            where = str(path) if path is not None else "config"
            raise ConfigError(f"{where}: {e}") from None
        cfg = out if out is not None else cfg
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain (YAML/JSON-able) dict: tuples become lists."""
    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return plain(dataclasses.asdict(cfg))


def to_yaml(cfg: Any) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def save_config(cfg: Any, path: str | Path) -> None:
    from ..weights import atomic_write_bytes

    atomic_write_bytes(path, to_yaml(cfg).encode())


__all__ = ["PRECISIONS", "ConfigError", "load_config", "merge", "parse_override", "read_yaml", "save_config", "to_dict",
           "to_yaml"]


class ConfigMethods:
    """``to_dict`` / ``to_yaml`` / ``save`` / ``from_dict`` for a family's top-level config
    dataclass (mixed in, so every family reads and writes its config the same way)."""

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def to_yaml(self) -> str:
        return to_yaml(self)

    def save(self, path: str | Path) -> None:
        save_config(self, path)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, source: str | None = None):
        return merge(cls(), data or {}, source=source)
