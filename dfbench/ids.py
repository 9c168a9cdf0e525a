"""Detector ids ``family[_variant][.tag]``: the one parser and the one formatter.

``laanet`` is the family's default variant (and default weights), ``laanet_efnb4`` a variant,
``laanet_efnb4.demo`` that variant with the weights tagged ``demo``. Family names may themselves
contain underscores, so splitting a base into family and variant needs the installed families:
the longest family name that prefixes the base wins. Nothing here imports torch or the registry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DEFAULT_VARIANT = "default"


@dataclass(frozen=True)
class DetectorId:
    family: str
    variant: str = DEFAULT_VARIANT
    tag: str | None = None

    @property
    def base(self) -> str:
        """``family`` for the default variant, else ``family_variant`` (no tag)."""
        return self.family if self.variant in (DEFAULT_VARIANT, "", None) else f"{self.family}_{self.variant}"

    def __str__(self) -> str:
        return f"{self.base}.{self.tag}" if self.tag else self.base


def format_id(family: str, variant: str | None = DEFAULT_VARIANT, tag: str | None = None) -> str:
    return str(DetectorId(family, variant or DEFAULT_VARIANT, tag or None))


def split_tag(text: str) -> tuple[str, str | None]:
    """``"laanet_efnb4.demo"`` -> ``("laanet_efnb4", "demo")``; no tag -> ``(text, None)``."""
    base, dot, tag = text.partition(".")
    return base, (tag if dot and tag else None)


def parse_id(text: str, families: Iterable[str], variants_of=None) -> DetectorId | None:
    """Parse ``text`` against the installed ``families`` (names); None when no family matches.

    ``variants_of(family) -> set of variant names`` restricts ``family_rest`` to real variants
    (when given, ``laanet_nonsense`` does not parse); the variant of a bare family is
    ``default`` here (the spec's own default variant is applied by the registry).
    """
    base, tag = split_tag(text)
    for fam in sorted(families, key=len, reverse=True):
        if base == fam:
            return DetectorId(fam, DEFAULT_VARIANT, tag)
        if base.startswith(fam + "_"):
            rest = base[len(fam) + 1:]
            if variants_of is None or rest in variants_of(fam):
                return DetectorId(fam, rest, tag)
    return None


def covers(untagged_or_tagged: str, detector_id: str) -> bool:
    """Whether a cost measured for ``untagged_or_tagged`` applies to ``detector_id``: an id without
    a tag covers all its tagged ids (weights do not change the cost); a tagged id only itself."""
    base, tag = split_tag(untagged_or_tagged)
    return detector_id == untagged_or_tagged or (tag is None and split_tag(detector_id)[0] == base)
