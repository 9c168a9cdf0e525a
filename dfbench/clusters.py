"""Identity clusters for the bootstrap: which videos share a person.

Videos of the same identity are not independent: FF++ builds the fake ``000_003`` from the real
videos ``000`` and ``003``; Celeb-DF's ``id0_id16_0003`` swaps celebrity 16 into a video of
celebrity 0; DFD's ``01_02__scene__X`` puts actor 02's face on actor 01. Resampling *videos*
then understates the uncertainty, so where a dataset defines identities the bootstrap resamples
identity clusters: the connected components of the "shares an identity with" relation (an FF++
test pair ``[000, 003]`` with its two reals and its fakes in every method is one cluster).

Identities come, in order of preference, from the video record (``VideoItem.meta["identities"]``,
a list of ids a dataset plugin may supply; backward compatible, absent for most plugins), else
from a small per-dataset rule over the video name (the last part of the globally unique key), so
that ``dfbench compare`` can rebuild the same clusters from the keys in ``predictions.parquet``.
A video with no identity is a cluster of its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

_FFPP = re.compile(r"^(\d{3})(?:_(\d{3}))?$")
_CELEBDF = re.compile(r"^(id\d+)_(?:(id\d+)_)?\d{4}$")
_DFD = re.compile(r"^(\d{2})(?:_(\d{2}))?__")


def ffpp_identities(video: str) -> tuple[str, ...]:
    """FF++ ``000`` (real) or ``000_003`` (target_source): the YouTube ids involved."""
    m = _FFPP.match(video)
    return tuple(g for g in m.groups() if g) if m else ()


def celebdf_identities(video: str) -> tuple[str, ...]:
    """Celeb-DF ``id0_0000`` (real) or ``id0_id16_0000`` (fake): celebrity ids. YouTube-real videos
    (``00000``) name nobody and stay clusters of their own."""
    m = _CELEBDF.match(video)
    return tuple(g for g in m.groups() if g) if m else ()


def dfd_identities(video: str) -> tuple[str, ...]:
    """DFD ``01__scene`` (real) or ``01_02__scene__CODE`` (fake): the paid actors' ids."""
    m = _DFD.match(video)
    return tuple(g for g in m.groups() if g) if m else ()


# Dataset name prefix -> (rule, description recorded in results.json).
RULES: dict[str, tuple[Callable[[str], tuple[str, ...]], str]] = {
    "ffpp": (ffpp_identities, "FF++ source/target video ids"),
    "faceshifter": (ffpp_identities, "FF++ source/target video ids"),
    "celebdf": (celebdf_identities, "Celeb-DF celebrity ids"),
    "dfd": (dfd_identities, "DFD actor ids"),
}


def rule_for(dataset: str) -> tuple[Callable[[str], tuple[str, ...]], str] | None:
    for prefix, rule in RULES.items():
        if dataset == prefix or dataset.startswith(prefix + "_"):
            return rule
    return None


def video_name(key: str) -> str:
    """The video part of a ``dataset/label/method/video`` key."""
    return key.split("/", 3)[-1]


def _components(ids_per_video: Sequence[tuple[str, ...]]) -> list[int]:
    """Union-find over identities: videos sharing any identity (transitively) share a component."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ids in ids_per_video:
        for other in ids[1:]:
            ra, rb = find(ids[0]), find(other)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    labels: dict[str, int] = {}
    out = []
    for i, ids in enumerate(ids_per_video):
        root = find(ids[0]) if ids else f"\0video{i}"
        out.append(labels.setdefault(root, len(labels)))
    return out


def identity_clusters(dataset: str, keys: Iterable[str],
                      identities: Mapping[str, Sequence[str]] | None = None) -> tuple[dict[str, int], dict[str, Any]] | None:
    """``(key -> cluster index, description)`` or None when the dataset defines no identities.

    ``identities`` (key -> ids) overrides the name rule per video (from ``VideoItem.meta``). The
    description says which rule was used and how many clusters it found.
    """
    keys = list(keys)
    identities = identities or {}
    rule = rule_for(dataset)
    if rule is None and not identities:
        return None
    fn, text = rule if rule else (lambda _v: (), "identities supplied by the dataset plugin")
    ids = [tuple(identities[k]) if k in identities else fn(video_name(k)) for k in keys]
    if not any(ids):
        return None
    comp = _components(ids)
    n = len(set(comp))
    return dict(zip(keys, comp, strict=True)), {"unit": "identity cluster", "rule": text, "n_clusters": n,
                                                "videos_without_identity": sum(1 for i in ids if not i)}


def item_identities(items: Iterable[Any]) -> dict[str, Sequence[str]]:
    """Identities a dataset plugin put on its video records (``meta["identities"]``)."""
    out = {}
    for it in items:
        ids = (getattr(it, "meta", None) or {}).get("identities")
        if ids:
            out[it.key] = tuple(str(i) for i in ids)
    return out
