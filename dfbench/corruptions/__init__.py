"""Corruptions (perturbations) applied to full frames before face detection.

Built in: the DeeperForensics-1.0 suite (tag ``df1.0``: ``saturation``, ``contrast``, ``block``,
``noise``, ``blur``, ``pixelation``, ``compression``; levels 1-5, official parameters and
arithmetic) and the extras ``jpeg``, ``downscale``, ``h265``. Third-party corruptions registered
through the ``register_corruptions`` hook work with the same API.

>>> from dfbench.corruptions import apply, derive_seed
>>> seed = derive_seed(0, "ffpp/fake/Deepfakes/000_003", "noise", 3)
>>> noisy = apply("noise", frames, 3, seed)        # frames: uint8 [T, H, W, 3] or [H, W, 3] RGB

This module stays import-light (no cv2, av or torch): the implementations load on first use.
"""

from __future__ import annotations

import hashlib
from numbers import Integral
from typing import TYPE_CHECKING

from ..errors import DfbenchError, UnknownCorruptionError
from ..specs import CorruptionSpec, load_object
from .catalog import BUILTIN, DF_SUITE, LEVELS, OFFICIAL_ALIASES, SUITES
from .errors import CorruptionInputError, CorruptionLevelError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "BUILTIN",
    "DF_SUITE",
    "LEVELS",
    "SUITES",
    "CorruptionInputError",
    "CorruptionLevelError",
    "apply",
    "apply_with_size",
    "derive_seed",
    "encoded_size_bytes",
    "expand_corruption",
    "get_spec",
    "parse_corruption",
]

_SEED_NAMESPACE = b"dfbench/corruption-seed/v1"

# Codec corruptions can also report the size of the file they encoded (their strength measure).
_WITH_SIZE = {
    "compression": "dfbench.corruptions.deeperforensics:compression_with_size",
    "h265": "dfbench.corruptions.extra:h265_with_size",
}


def _canonical(name: str) -> str | None:
    """Built-in name for ``name``: case-insensitive, official DeeperForensics names accepted."""
    key = name.strip()
    if key in BUILTIN:
        return key
    if key.upper() == "JPEG":
        # The official "JPEG" type is a down/up-scaling, while our "jpeg" is real JPEG coding;
        # guessing either way would silently run the wrong corruption.
        raise CorruptionInputError(
            f"{name!r} is ambiguous: the official DeeperForensics 'JPEG' type (no JPEG codec, a "
            "down/up-scaling) is 'pixelation' here; real JPEG coding is 'jpeg' (lower case)."
        )
    if key.upper() in OFFICIAL_ALIASES:
        return OFFICIAL_ALIASES[key.upper()]
    if key.lower() in BUILTIN:
        return key.lower()
    return None


def get_spec(name: str) -> CorruptionSpec:
    """The spec of a corruption: a built-in one (also by official name, e.g. ``"GB"``; the
    official ``"JPEG"`` is refused as ambiguous, use ``"pixelation"``) or one a plugin registered.
    Unknown names raise :class:`UnknownCorruptionError` with suggestions."""
    builtin = _canonical(name)
    if builtin is not None:
        return BUILTIN[builtin]
    # Only unknown names reach the plugin registry, so built-ins never pay for plugin discovery.
    from ..registry import get_registry

    registered = get_registry().corruptions
    if name in registered:
        return registered[name]
    known = sorted(set(registered) | set(BUILTIN) | (set(OFFICIAL_ALIASES) - {"JPEG"}))
    raise UnknownCorruptionError(name, known)


def _check_level(spec: CorruptionSpec, level: object) -> int:
    # bool is an Integral too, but "True" as a level is a caller bug, not level 1.
    if isinstance(level, bool) or not isinstance(level, Integral) or int(level) not in spec.levels:
        raise CorruptionLevelError(spec.name, level, spec.levels)
    return int(level)


def apply(name: str, frames: np.ndarray, level: int, seed: int = 0) -> np.ndarray:
    """Corrupt uint8 RGB ``frames`` (``[T, H, W, 3]`` or one ``[H, W, 3]`` frame) at ``level``.

    Returns a new array of the same shape and dtype; ``frames`` is never modified. ``seed``
    (``0 <= seed < 2**32``) fixes all randomness: ``block`` draws from ``random.Random(seed)``
    and ``noise`` from ``np.random.RandomState(seed)`` in the official draw order, so one frame
    equals the official DeeperForensics function after ``random.seed(seed); np.random.seed(seed)``
    and later frames continue the same stream. Use :func:`derive_seed` for one seed per video.
    """
    from ._frames import as_clip, restore

    spec = get_spec(name)
    level = _check_level(spec, level)
    clip, single = as_clip(frames)
    out = load_object(spec.apply)(clip, level, seed)
    if getattr(out, "shape", None) != clip.shape or getattr(out, "dtype", None) != clip.dtype:
        raise DfbenchError(
            f"corruption {spec.name!r} returned {getattr(out, 'dtype', type(out).__name__)} "
            f"{getattr(out, 'shape', '')} for uint8 {clip.shape}; its apply function "
            f"({spec.apply!r}) must return frames of the input's shape and dtype."
        )
    return restore(out, single)


def apply_with_size(
    name: str, frames: np.ndarray, level: int, seed: int = 0
) -> tuple[np.ndarray, int]:
    """Like :func:`apply` for the codec corruptions (``compression``, ``h265``), also returning
    the size in bytes of the encoded bitstream."""
    spec = get_spec(name)
    if spec.name not in _WITH_SIZE:
        raise CorruptionInputError(
            f"corruption {spec.name!r} does not encode a file; only {sorted(_WITH_SIZE)} report a size."
        )
    return load_object(_WITH_SIZE[spec.name])(frames, _check_level(spec, level), seed)


def encoded_size_bytes(name: str, frames: np.ndarray, level: int) -> int:
    """Size in bytes of the bitstream that ``compression``/``h265`` encode for ``frames`` at ``level``."""
    return apply_with_size(name, frames, level)[1]


def derive_seed(run_seed: int, video_key: str, name: str, level: int) -> int:
    """The corruption seed of one video in one run: ``[0, 2**32)``, from SHA-256.

    Stable across processes, platforms and Python versions (no ``hash()``, which is salted per
    process). Built-in names are canonicalised first, so ``"GB"`` and ``"blur"`` give the same
    seed. Different videos, types and levels get independent streams.
    """
    canonical = _canonical(name) or name
    message = b"\x00".join(
        [
            _SEED_NAMESPACE,
            str(int(run_seed)).encode(),
            video_key.encode("utf-8"),
            canonical.encode("utf-8"),
            str(int(level)).encode(),
        ]
    )
    return int.from_bytes(hashlib.sha256(message).digest()[:4], "big")


def parse_corruption(text: str) -> tuple[str, int]:
    """``"saturation:3"`` -> ``("saturation", 3)``; official names work too (``"CS:3"``).

    Raises :class:`CorruptionInputError` for a malformed string, :class:`UnknownCorruptionError`
    (with "did you mean") for an unknown name and :class:`CorruptionLevelError` naming the valid
    levels for a level out of range.
    """
    name, sep, level_text = text.strip().partition(":")
    if not sep or not name:
        raise CorruptionInputError(
            f"expected 'name:level' such as 'saturation:3', got {text!r}; "
            "use expand_corruption() for all levels of a type or a suite such as 'df1.0'."
        )
    spec = get_spec(name)
    try:
        level = int(level_text)
    except ValueError:
        raise CorruptionLevelError(spec.name, level_text, spec.levels) from None
    return spec.name, _check_level(spec, level)


def expand_corruption(text: str) -> list[tuple[str, int]]:
    """Expand a comma-separated selection into ``(name, level)`` pairs, in order.

    Each item is a suite tag (``"df1.0"``: every type x level), a type (``"blur"``: all its
    levels) or one ``"name:level"``.
    """
    pairs: list[tuple[str, int]] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if ":" in item:
            pairs.append(parse_corruption(item))
            continue
        if item in SUITES:
            specs = [BUILTIN[n] for n in SUITES[item]]
        else:
            specs = (_registered_suite(item) if _canonical(item) is None else []) or [
                get_spec(item)
            ]
        pairs += [(s.name, lv) for s in specs for lv in s.levels]
    if not pairs:
        raise CorruptionInputError(f"no corruption selected by {text!r}; e.g. 'df1.0' or 'blur:3'.")
    return pairs


def _registered_suite(tag: str) -> list[CorruptionSpec]:
    from ..registry import get_registry

    return get_registry().suite(tag)
