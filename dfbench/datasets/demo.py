"""The embedded ``demo`` dataset: small talking-face videos synthesised offline from real photos.

``build_demo()`` renders 56 two-second 320x240 H.264 videos (25 fps, 50 frames, so a 25-frame
clip model gets two clips per video) from two public-domain portraits that ship with installed
packages (scikit-image's astronaut, matplotlib's Grace Hopper); see
:mod:`dfbench.datasets.demo_synth.faces` for how identity variety is made honestly. Real videos
have camera pan/zoom/roll, lighting and colour-temperature drift, sensor noise, a JPEG quality
change mid-stream, a per-video H.264 CRF and speech-like jaw motion. Fakes come from four
methods (:mod:`dfbench.datasets.demo_synth.fakes`): ``selfblend`` (SBI-like self-blending),
``faceswap`` and ``lowres`` (another person's face), ``lipsync`` (a temporally inconsistent
re-rendered mouth).

==========  ====  ==========================================================
split       real  fake
==========  ====  ==========================================================
``train``   16    16 (4 per method)
``test``    12    12 (3 per method)
==========  ====  ==========================================================

The build is deterministic (a fixed seed; single-threaded x264; same bytes on the same machine),
takes ~15 s of CPU on one core, ~4 MB on disk, and is cached in ``$DFBENCH_CACHE/demo-v1`` (default
``~/.cache/dfbench/demo-v1``). It is atomic: videos are written into a temporary sibling directory
that is renamed into place only when complete, so an interrupted build never leaves a half cache.
Any change to what the generator produces must bump :data:`DEMO_VERSION`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..fileio import cache_root, sha256_file
from ..specs import VideoItem
from .common import UnknownSplitError

log = logging.getLogger(__name__)

DEMO_VERSION = "1"
DEMO_DIRNAME = f"demo-v{DEMO_VERSION}"
SPLITS: tuple[str, ...] = ("train", "test")
FPS = 25
N_FRAMES = 50
FRAME_SIZE = (320, 240)
"""(width, height) of every demo video."""
MANIFEST = "manifest.json"
EXPECTED_COUNTS: dict[str, dict[str, int]] = {
    "train": {"real": 16, "fake": 16},
    "test": {"real": 12, "fake": 12},
}
LICENSE = (
    "Derived from public-domain photographs: NASA portrait of Eileen Collins "
    "(skimage.data.astronaut) and US Navy portrait of Grace Hopper (matplotlib sample data)."
)


def default_cache_root() -> Path:
    """``$DFBENCH_CACHE`` or ``~/.cache/dfbench`` (:func:`dfbench.fileio.cache_root`)."""
    return cache_root()


def _sha256(path: Path) -> str:
    return sha256_file(path)


@contextlib.contextmanager
def _build_lock(root: Path, name: str = DEMO_DIRNAME) -> Iterator[bool]:
    """Exclusive lock so concurrent processes build once; yields whether locking is available."""
    try:
        import fcntl
    except ImportError:  # Windows: unique temp dirs + atomic rename are still safe, only wasteful
        yield False
        return
    with open(root / f".{name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _render_into(out_dir: Path, only: Collection[str] | None = None) -> dict[str, Any]:
    """Render the videos of the plan (or those named in ``only``) into ``out_dir``.

    Returns the manifest. Each video depends only on its own recipe (its seed comes from its
    name), so rendering a subset gives byte-identical files; the tests rely on that.
    """
    import numpy as np

    from .demo_synth import animate, faces, fakes, plan
    from .demo_synth.encode import write_mp4

    sources: dict[str, faces.FaceSource] = {}

    def source(name: str) -> faces.FaceSource:
        if name not in sources:
            sources[name] = faces.make_identity(plan.IDENTITIES[name])
        return sources[name]

    videos = []
    for rec in plan.recipes():
        if only is not None and rec.name not in only:
            continue
        target = source(rec.target)
        ss_speech, ss_nuis, ss_fake, ss_noise = np.random.SeedSequence(rec.seed).spawn(4)
        n = N_FRAMES
        speech = animate.speech_signal(np.random.default_rng(ss_speech), n, FPS)
        nuis = animate.sample_nuisance(np.random.default_rng(ss_nuis), n, FPS)
        rng_fake = np.random.default_rng(ss_fake)
        static, overlay, landmarks = target.image, None, None
        if rec.method == "selfblend":
            static, landmarks = fakes.selfblend(target, rng_fake)
        elif rec.method == "faceswap":
            static = fakes.faceswap(target, source(rec.donor), rng_fake)
        elif rec.method == "lowres":
            static = fakes.lowres(target, source(rec.donor), rng_fake)
        rig = animate.MouthRig(target, static, landmarks)
        if rec.method == "lipsync":
            overlay = fakes.LipsyncOverlay(rig, static, rng_fake, n)
        frames = animate.render_frames(
            target,
            static,
            speech,
            nuis,
            np.random.default_rng(ss_noise),
            FRAME_SIZE,
            plan.IDENTITIES[rec.target].face_px,
            rig=rig,
            overlay=overlay,
        )
        rel = Path("videos") / rec.split / f"{rec.method}__{rec.name}.mp4"
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        write_mp4(out_dir / rel, frames, FPS, nuis.crf)
        videos.append(
            {
                "key": rec.key,
                "label": rec.label,
                "method": rec.method,
                "split": rec.split,
                "path": rel.as_posix(),
                "sha256": _sha256(out_dir / rel),
                "identity": rec.target,
                "donor": rec.donor,
                "seed": rec.seed,
                "frames": n,
                "crf": nuis.crf,
            }
        )
    return {
        "name": "demo",
        "version": DEMO_VERSION,
        "seed": plan.SEED,
        "fps": FPS,
        "frames": N_FRAMES,
        "width": FRAME_SIZE[0],
        "height": FRAME_SIZE[1],
        "methods": [plan.REAL_METHOD, *plan.METHODS],
        "counts": EXPECTED_COUNTS,
        "photos": faces.photo_fingerprints(),
        "license": LICENSE,
        "videos": videos,
    }


def _remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def build_once(root: Path, dirname: str, render: Callable[[Path], dict[str, Any]], what: str,
               force: bool = False) -> Path:
    """Render a generated dataset into ``root/dirname`` once, atomically, under a build lock.

    ``render(tmp)`` writes the videos into a temporary sibling directory and returns the manifest,
    written last: a directory with a manifest is complete. A complete build is reused unless
    ``force``; a process that waited for another's build reuses it; leftover temporary directories
    of killed builds are removed while holding the lock. Shared by ``demo`` and ``demo_real``.
    """
    final = root / dirname
    if not force and (final / MANIFEST).is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    with _build_lock(root, dirname) as locked:
        if not force and (final / MANIFEST).is_file():  # another process finished meanwhile
            return final
        if locked:  # nobody else is building: any temp dir is a killed build's leftover
            for stale in root.glob(f".{dirname}.tmp-*"):
                log.info("removing leftover of an interrupted %s build: %s", what, stale)
                _remove(stale)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dirname}.tmp-", dir=root))
        try:
            start = time.perf_counter()
            log.info("building %s in %s (once)", what, final)
            manifest = render(tmp)
            with open(tmp / MANIFEST, "w") as f:
                json.dump(manifest, f, indent=1, sort_keys=True)
            if final.exists():  # force, or a broken directory without manifest
                old = Path(tempfile.mkdtemp(prefix=f".{dirname}.old-", dir=root))
                os.replace(final, old / "x")
                os.replace(tmp, final)
                _remove(old)
            else:
                os.replace(tmp, final)
            log.info("%s built in %.1f s: %d videos", what, time.perf_counter() - start, len(manifest["videos"]))
        except BaseException:
            _remove(tmp)
            raise
    return final


def build_demo(cache_dir: str | Path | None = None, force: bool = False) -> Path:
    """Build the demo dataset once and return its directory (``<cache_dir>/demo-v1``).

    ``cache_dir`` is the dfbench cache root (default :func:`default_cache_root`). An existing
    complete build is reused unless ``force`` (:func:`build_once`; ~15 s the first time).
    """
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root()
    return build_once(root, DEMO_DIRNAME, _render_into, "the demo dataset", force)


def load_manifest(demo_dir: str | Path) -> dict[str, Any]:
    with open(Path(demo_dir) / MANIFEST) as f:
        return json.load(f)


def index(
    root: str | Path | None, split: str, options: Mapping[str, Any] | None = None
) -> list[VideoItem]:
    """List the videos of ``split`` (``train`` or ``test``), building the cache on first use.

    ``root`` may be ``None`` (use ``options["cache_dir"]`` or the default cache), a built demo
    directory (containing ``manifest.json``) or a cache root to build into. ``options["methods"]``
    optionally restricts the fakes to some methods (reals are always kept).
    """
    options = options or {}
    if split not in SPLITS:
        raise UnknownSplitError(f"the demo dataset has splits {list(SPLITS)}, not {split!r}")
    if root is not None and (Path(root) / MANIFEST).is_file():
        demo_dir = Path(root)
    else:
        demo_dir = build_demo(root if root is not None else options.get("cache_dir"))
    methods = options.get("methods")
    items = []
    for v in load_manifest(demo_dir)["videos"]:
        if v["split"] != split or (methods and v["label"] == 1 and v["method"] not in methods):
            continue
        meta = {k: v[k] for k in ("identity", "donor", "seed", "frames", "crf", "sha256")}
        items.append(
            VideoItem(
                key=v["key"],
                label=int(v["label"]),
                method=v["method"],
                path=str(demo_dir / v["path"]),
                kind="video",
                meta=meta,
            )
        )
    return items
