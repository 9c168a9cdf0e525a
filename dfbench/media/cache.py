"""Crop cache: per-video shards written atomically, finalized into a Hugging Face ``datasets`` table.

A cache directory holds one (dataset + version, cropper recipe, sampling plan, crop size)
combination — :func:`cache_dir_for` derives its path from a hash of all four, so a changed
setting can never serve stale crops. Layout::

    <root>/
      cache.json                 what this cache holds (dataset, version, recipe, plan, size, hash)
      images/ab/<sha>/000123.png  one lossless PNG per crop (``000123_f1.png``: 2nd face, policy "all")
      videos/ab/<sha>.json        per-video shard: frames, crop paths, landmarks, boxes, or a failure
      dataset/                    after finalize(): ``datasets.Dataset.save_to_disk`` (Arrow, mmap)
      failures.json               after finalize(): {key: reason}, sorted

Crash safety: images are written first, then the shard JSON by write-to-temp + ``os.replace``;
a video counts as done only when its shard exists, so a kill leaves no half entry and a re-run
redoes exactly the unfinished videos (overwriting any orphan PNGs with identical bytes).
``finalize`` sorts by key, so interrupted+resumed, parallel and Ray runs give the same table.
Landmarks are stored rounded to 1/1000 pixel.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..fileio import atomic_write_bytes
from .types import FaceCrops

log = logging.getLogger(__name__)

CACHE_FORMAT = 1
_LMS_DECIMALS = 3


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def cache_key(dataset: str, version: str, recipe: Mapping[str, Any], plan: Mapping[str, Any], size: int
              ) -> dict[str, Any]:
    """Everything that identifies a cache, plus its hash (``key["hash"]``)."""
    key = {"format": CACHE_FORMAT, "dataset": dataset, "version": str(version), "recipe": dict(recipe),
           "plan": dict(plan), "size": int(size)}
    key["hash"] = _sha(json.dumps(key, sort_keys=True, default=str))[:16]
    return key


def cache_dir_for(cache_root: str | Path, key: Mapping[str, Any]) -> Path:
    """``<cache_root>/<dataset>@<version>/<cropper>-<hash>``."""
    cropper = key["recipe"].get("cropper", "crop")
    return Path(cache_root) / f"{key['dataset']}@{key['version']}" / f"{cropper}-{key['hash']}"


def _atomic_write(path: Path, data: bytes) -> None:
    # A cache can be rebuilt: atomic (never half a file) but without the cost of an fsync.
    atomic_write_bytes(path, data, fsync=False)


def _lms_to_list(lms: np.ndarray | None) -> list | None:
    if lms is None:
        return None
    return np.round(np.asarray(lms, np.float64), _LMS_DECIMALS).tolist()


class CropCache:
    """Read/write access to one cache directory (see module docstring for the layout)."""

    def __init__(self, root: str | Path, key: Mapping[str, Any] | None = None):
        self.root = Path(root)
        self.key = dict(key) if key is not None else None
        meta = self.root / "cache.json"
        if key is not None:
            if meta.exists():
                old = json.loads(meta.read_text())
                if old.get("hash") != key.get("hash"):
                    raise ValueError(f"{self.root} holds a different cache (hash {old.get('hash')} != {key.get('hash')})")
            else:
                _atomic_write(meta, json.dumps(self.key, indent=2, sort_keys=True, default=str).encode())
        elif meta.exists():
            self.key = json.loads(meta.read_text())

    @classmethod
    def for_run(cls, cache_root: str | Path, *, dataset: str, version: str, recipe: Mapping[str, Any],
                plan: Mapping[str, Any], size: int, create: bool = True) -> CropCache | None:
        """The cache for one protocol; None when it does not exist and ``create`` is False."""
        key = cache_key(dataset, version, recipe, plan, size)
        root = cache_dir_for(cache_root, key)
        if not create and not (root / "cache.json").exists():
            return None
        return cls(root, key)

    # -- paths -----------------------------------------------------------------------------------
    def _hash(self, video_key: str) -> str:
        return _sha(video_key)[:24]

    def shard_path(self, video_key: str) -> Path:
        h = self._hash(video_key)
        return self.root / "videos" / h[:2] / f"{h}.json"

    def _image_rel(self, video_key: str, frame_index: int, face: int) -> str:
        h = self._hash(video_key)
        suffix = f"_f{face}" if face else ""
        return f"images/{h[:2]}/{h}/{frame_index:06d}{suffix}.png"

    # -- state -----------------------------------------------------------------------------------
    def has(self, video_key: str) -> bool:
        """True when the video is done (cropped or recorded as failed)."""
        return self.shard_path(video_key).exists()

    def _shard(self, video_key: str) -> dict | None:
        path = self.shard_path(video_key)
        if not path.exists():
            return None
        return json.loads(path.read_text())

    def failure(self, video_key: str) -> str | None:
        shard = self._shard(video_key)
        return shard.get("reason") if shard and shard.get("status") == "error" else None

    def iter_shards(self) -> Iterator[dict]:
        """All finished shards, sorted by video key."""
        shards = [json.loads(p.read_text()) for p in (self.root / "videos").glob("*/*.json")]
        yield from sorted(shards, key=lambda s: s["key"])

    def __len__(self) -> int:
        return sum(1 for _ in (self.root / "videos").glob("*/*.json"))

    # -- write -----------------------------------------------------------------------------------
    def _write_png(self, rel: str, crop: np.ndarray) -> None:
        import cv2

        img = crop[..., 0] if crop.shape[-1] == 1 else cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
        # Level 0 (stored, no deflate): crops are re-read on every warm run, and inflate was half of
        # the read time; files stay ordinary PNGs at about the raw pixel size.
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 0])
        if not ok:
            raise RuntimeError(f"PNG encoding failed for {rel}")
        _atomic_write(self.root / rel, buf.tobytes())

    def put(self, video_key: str, crops: FaceCrops, *, label: int = -1, method: str = "",
            frame_indices: list[int] | None = None, source: Mapping[str, Any] | None = None) -> None:
        """Store a video's crops (images first, then the shard: atomic as a whole).

        ``source`` is the file signature of the video the crops came from
        (:func:`dfbench.run_identity.file_signature`); a later read with a different signature is
        a miss, so a replaced file is cropped again."""
        idx = list(frame_indices if frame_indices is not None else crops.frame_indices or range(len(crops)))
        if len(idx) != len(crops):
            raise ValueError(f"{len(idx)} frame indices for {len(crops)} crops")
        frames, channels = [], None
        for i, fi in enumerate(idx):
            crop = crops.crops[i]
            rel = None
            if crop is not None:
                rel = self._image_rel(video_key, int(fi), 0)
                self._write_png(rel, crop)
                channels = crop.shape[-1]
            others = []
            for k, other in enumerate(crops.others[i] if i < len(crops.others) else [], start=1):
                orel = self._image_rel(video_key, int(fi), k)
                self._write_png(orel, other)
                others.append(orel)
            box = crops.boxes[i] if i < len(crops.boxes) else None
            frames.append({
                "frame_index": int(fi),
                "crop": rel,
                "landmarks": _lms_to_list(crops.landmarks[i] if i < len(crops.landmarks) else None),
                "box": None if box is None else [round(float(v), _LMS_DECIMALS) for v in box],
                "n_faces": int(crops.n_faces[i]) if i < len(crops.n_faces) else int(crop is not None),
                "others": others,
            })
        shard = {"key": video_key, "label": int(label), "method": method, "status": "ok",
                 "channels": channels, "frames": frames}
        if source is not None:
            shard["source"] = json.loads(json.dumps(dict(source), sort_keys=True, default=str))
        _atomic_write(self.shard_path(video_key), json.dumps(shard, sort_keys=True).encode())

    def put_failure(self, video_key: str, reason: str, *, label: int = -1, method: str = "") -> None:
        """Record that a video could not be cropped (so resume does not retry it forever)."""
        shard = {"key": video_key, "label": int(label), "method": method, "status": "error",
                 "reason": reason, "frames": []}
        _atomic_write(self.shard_path(video_key), json.dumps(shard, sort_keys=True).encode())

    def discard(self, video_key: str) -> None:
        self.shard_path(video_key).unlink(missing_ok=True)

    # -- read ------------------------------------------------------------------------------------
    def _read_png(self, rel: str) -> np.ndarray:
        import cv2

        img = cv2.imread(str(self.root / rel), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise FileNotFoundError(f"crop cache {self.root} is damaged: {rel} is missing; delete the cache")
        return img[..., None] if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def get(self, video_key: str, source: Mapping[str, Any] | None = None) -> FaceCrops | None:
        """The cached crops of a video, or None when it is not cached (or failed: see failure()).

        With ``source`` (the file signature of the video now), crops of another version of the
        file are a miss: a shard signed with a different signature, or an unsigned shard (from
        ``dfbench prepare``) older than the file's mtime."""
        shard = self._shard(video_key)
        if shard is None or shard.get("status") != "ok":
            return None
        if source is not None and not self._same_source(video_key, shard, source):
            log.info("crop cache: %s changed since it was cropped; cropping again", video_key)
            return None
        out = FaceCrops(crops=[], landmarks=[], boxes=[], n_faces=[], others=[], frame_indices=[])
        for fr in shard["frames"]:
            out.crops.append(self._read_png(fr["crop"]) if fr["crop"] else None)
            lms = fr["landmarks"]
            out.landmarks.append(None if lms is None else np.asarray(lms, np.float32))
            out.boxes.append(None if fr["box"] is None else tuple(fr["box"]))
            out.n_faces.append(fr["n_faces"])
            out.others.append([self._read_png(r) for r in fr["others"]])
            out.frame_indices.append(fr["frame_index"])
        return out

    def _same_source(self, video_key: str, shard: Mapping[str, Any], source: Mapping[str, Any]) -> bool:
        stored = shard.get("source")
        now = json.loads(json.dumps(dict(source), sort_keys=True, default=str))
        if stored is not None:
            return stored == now
        mtime = now.get("mtime_ns")
        if mtime is None:  # a frame folder or a missing file: no way to date it, crop again
            return False
        return self.shard_path(video_key).stat().st_mtime_ns > mtime

    # -- finalize --------------------------------------------------------------------------------
    def finalize(self) -> Path:
        """Write the ``datasets`` table (one row per face crop, sorted by key) and failures.json.

        Columns: key, label, method, frame_index, face (0 = primary), crop (path relative to the
        cache root, null when no face), landmarks, box, n_faces. Returns the dataset directory.
        Two processes finalizing the same cache (two runs sharing crops) take turns on a lock file.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".finalize.lock", "w") as lock:
            try:
                import fcntl

                fcntl.flock(lock, fcntl.LOCK_EX)
            except ImportError:  # no advisory locks on this platform: finalize unguarded
                pass
            return self._finalize_locked()

    def _finalize_locked(self) -> Path:
        import datasets
        import pyarrow as pa

        schema = pa.schema([
            ("key", pa.string()), ("label", pa.int8()), ("method", pa.string()),
            ("frame_index", pa.int32()), ("face", pa.int8()), ("crop", pa.string()),
            ("landmarks", pa.list_(pa.list_(pa.float32()))), ("box", pa.list_(pa.float32())),
            ("n_faces", pa.int16()),
        ])
        failures: dict[str, str] = {}
        tmp_dir = self.root / ".finalize"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        arrow_path = tmp_dir / "data.arrow"
        n_rows = 0
        with pa.OSFile(str(arrow_path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            rows: list[dict] = []

            def flush() -> None:
                if rows:
                    writer.write_batch(pa.RecordBatch.from_pylist(rows, schema=schema))
                    rows.clear()

            for shard in self.iter_shards():
                if shard["status"] != "ok":
                    failures[shard["key"]] = shard.get("reason", "")
                    continue
                for fr in shard["frames"]:
                    base = {"key": shard["key"], "label": shard["label"], "method": shard["method"],
                            "frame_index": fr["frame_index"], "n_faces": fr["n_faces"]}
                    rows.append({**base, "face": 0, "crop": fr["crop"], "landmarks": fr["landmarks"],
                                 "box": fr["box"]})
                    for k, rel in enumerate(fr["others"], start=1):
                        rows.append({**base, "face": k, "crop": rel, "landmarks": None, "box": None})
                    n_rows += 1 + len(fr["others"])
                if len(rows) >= 4096:
                    flush()
            flush()
        out_dir = self.root / "dataset"
        staging = self.root / ".dataset.tmp"
        import shutil

        shutil.rmtree(staging, ignore_errors=True)
        ds = datasets.Dataset.from_file(str(arrow_path))
        # save_to_disk draws a progress bar; library code stays quiet (the CLI shows its own).
        bars_were_on = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()
        try:
            ds.save_to_disk(str(staging))
        finally:
            if bars_were_on:
                datasets.enable_progress_bars()
        del ds
        shutil.rmtree(out_dir, ignore_errors=True)
        os.replace(staging, out_dir)
        shutil.rmtree(tmp_dir, ignore_errors=True)
        _atomic_write(self.root / "failures.json", json.dumps(failures, indent=1, sort_keys=True).encode())
        log.info("crop cache %s: %d rows, %d failed videos", self.root, n_rows, len(failures))
        return out_dir

    def load_dataset(self):
        """The finalized table as a memory-mapped ``datasets.Dataset`` (run finalize() first)."""
        import datasets

        path = self.root / "dataset"
        if not path.exists():
            raise FileNotFoundError(f"{self.root} is not finalized yet: run `dfbench prepare` to the end")
        return datasets.load_from_disk(str(path))


class RunCache:
    """The cache as ``dfbench run`` uses it: ``get(key) -> (frame_indices, FaceCrops) | None``,
    ``put(key, frame_indices, crops)``, and ``flush()`` (re-finalizes when something was added).

    A run reads crops that ``dfbench prepare`` (or an earlier run) wrote with the same key, and
    writes what it had to compute, so the second run of a protocol skips decoding and detection.
    """

    def __init__(self, cache: CropCache):
        self.cache = cache
        self._dirty = False
        self.signatures: dict[str, Mapping[str, Any]] = {}
        """Video key -> file signature, set by the runner: reads of another file version miss."""

    @property
    def root(self) -> Path:
        return self.cache.root

    def get(self, video_key: str) -> tuple[list[int], FaceCrops] | None:
        crops = self.cache.get(video_key, source=self.signatures.get(video_key))
        if crops is None:
            return None
        return list(crops.frame_indices), crops

    def put(self, video_key: str, frame_indices: list[int], crops: FaceCrops, *, label: int = -1,
            method: str | None = None) -> None:
        if method is None:  # keys are dataset/label/method/video
            parts = video_key.split("/")
            method = parts[2] if len(parts) >= 4 else ""
        self.cache.put(video_key, crops, label=label, method=method, frame_indices=list(frame_indices),
                       source=self.signatures.get(video_key))
        self._dirty = True

    def flush(self) -> None:
        if self._dirty:
            self.cache.finalize()
            self._dirty = False


def open_run_cache(cache_root: str | Path, *, dataset: Any, cropper_name: str, recipe: Mapping[str, Any],
                   input_spec: Any, max_frames: int | None = None) -> RunCache:
    """Open (creating if needed) the cache a run with these settings reads and writes.

    ``dataset`` is a :class:`~dfbench.specs.DatasetSpec` (name + version) or a name (version 1).
    The key is the same one :func:`dfbench.media.prepare.prepare` uses, so prepared crops are hit.
    """
    from .sampling import sampling_plan

    name = getattr(dataset, "name", dataset)
    version = str(getattr(dataset, "version", "1"))
    recipe = dict(recipe)
    recipe.setdefault("cropper", cropper_name)
    cache = CropCache.for_run(cache_root, dataset=name, version=version, recipe=recipe,
                              plan=sampling_plan(input_spec, max_frames), size=input_spec.size)
    return RunCache(cache)
