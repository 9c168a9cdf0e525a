"""The fixed list of demo videos: which identity, which forgery, which split, which seed.

Train and test use *disjoint identity variants* (different mirror / face-shape / colour-grade
combinations of the two photographed people) and disjoint per-video seeds, so camera paths,
lighting, speech tracks and forgery jitter never repeat across splits. Both people appear in
both splits: with only two real people offline, disjoint *people* would leave one split with
a single face.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .faces import IdentitySpec

SEED = 20240607
METHODS: tuple[str, ...] = ("selfblend", "faceswap", "lowres", "lipsync")
REAL_METHOD = "original"
NEEDS_DONOR = {"faceswap", "lowres"}

IDENTITIES: dict[str, IdentitySpec] = {
    s.name: s
    for s in (
        # train
        IdentitySpec("astronaut-a", "astronaut", 112),
        IdentitySpec(
            "astronaut-b",
            "astronaut",
            118,
            mirror=True,
            widen=0.07,
            gamma=0.95,
            wb=(1.05, 1.0, 0.93),
            saturation=1.1,
        ),
        IdentitySpec("hopper-a", "hopper", 150),
        IdentitySpec(
            "hopper-b",
            "hopper",
            156,
            mirror=True,
            widen=-0.05,
            lengthen=0.04,
            wb=(0.96, 1.0, 1.06),
            saturation=0.9,
        ),
        # test
        IdentitySpec(
            "astronaut-c",
            "astronaut",
            108,
            mirror=True,
            widen=-0.06,
            lengthen=0.05,
            gamma=1.08,
            wb=(0.95, 1.0, 1.07),
            saturation=0.85,
        ),
        IdentitySpec(
            "astronaut-d",
            "astronaut",
            122,
            widen=0.05,
            lengthen=-0.04,
            gamma=0.9,
            wb=(1.07, 1.02, 0.95),
            saturation=1.05,
        ),
        IdentitySpec(
            "hopper-c", "hopper", 148, mirror=True, widen=0.06, gamma=1.05, wb=(1.05, 1.0, 0.95)
        ),
        IdentitySpec(
            "hopper-d",
            "hopper",
            160,
            widen=-0.04,
            lengthen=-0.03,
            gamma=0.92,
            wb=(0.97, 1.02, 1.03),
            saturation=1.15,
        ),
    )
}

SPLIT_IDENTITIES: dict[str, tuple[str, ...]] = {
    "train": ("astronaut-a", "hopper-a", "astronaut-b", "hopper-b"),
    "test": ("astronaut-c", "hopper-c", "astronaut-d", "hopper-d"),
}
REALS_PER_IDENTITY = {"train": 4, "test": 3}
FAKES_PER_METHOD = {"train": 4, "test": 3}


@dataclass(frozen=True)
class VideoRecipe:
    """Everything that determines one demo video."""

    name: str
    split: str
    method: str
    target: str
    donor: str | None = None

    @property
    def label(self) -> int:
        return 0 if self.method == REAL_METHOD else 1

    @property
    def key(self) -> str:
        return f"demo/{'fake' if self.label else 'real'}/{self.method}/{self.name}"

    @property
    def seed(self) -> int:
        # Derived from the name, not from the position in the list: adding a video later
        # never changes the others.
        digest = hashlib.sha256(f"{SEED}:{self.name}".encode()).digest()
        return int.from_bytes(digest[:8], "little")


def _other_person(split: str, target: str, k: int) -> str:
    photo = IDENTITIES[target].photo
    others = [i for i in SPLIT_IDENTITIES[split] if IDENTITIES[i].photo != photo]
    return others[k % len(others)]


def recipes() -> list[VideoRecipe]:
    """All demo videos in a fixed order (train then test, reals then fakes)."""
    out: list[VideoRecipe] = []
    for split, idents in SPLIT_IDENTITIES.items():
        n = 0
        for _rep in range(REALS_PER_IDENTITY[split]):
            for ident in idents:
                out.append(VideoRecipe(f"{split}_r{n:02d}_{ident}", split, REAL_METHOD, ident))
                n += 1
        n = 0
        for mi, method in enumerate(METHODS):
            for j in range(FAKES_PER_METHOD[split]):
                target = idents[(j + mi) % len(idents)]
                donor = _other_person(split, target, j + mi) if method in NEEDS_DONOR else None
                name = f"{split}_f{n:02d}_{target}" + (f"_from_{donor}" if donor else "")
                out.append(VideoRecipe(name, split, method, target, donor))
                n += 1
    return out
