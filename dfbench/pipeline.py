"""From one video to model-ready crops, and from crops to logits.

The evaluation protocol lives here, in one place, so that ``run``, ``predict`` and
``robustness`` all score a video the same way: sample frames from the true frame count, corrupt
full frames (or cached crops), crop faces with the detector's cropper, apply the missing-face
policy, group clips, run the model with the flip test and the chosen precision.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .errors import DfbenchError, MediaError
from .specs import CorruptionSpec, InputSpec, VideoItem, load_object

log = logging.getLogger(__name__)

MISSING_FACE_POLICIES = ("skip", "score_half", "fail")
PRECISIONS = ("fp32", "bf16", "fp16", "fp64")
VIDEO_SEGMENT_FRAMES = 250
"""Longest run of consecutive frames a video-scope corruption encodes at once (x264's keyint)."""
VIDEO_SEGMENT_BYTES = 1 << 30
"""Most decoded-frame bytes held for one video-scope segment (a 1080p segment gets ~170 frames)."""


class VideoFailure(DfbenchError):
    """A per-video failure (unreadable, no face, too short): recorded and counted, never fatal."""


@dataclass
class PreparedVideo:
    """Crops ready for the model: ``units`` is uint8 ``[N, C, S, S]`` (frames) or
    ``[N, T, C, S, S]`` (clips); ``unit_index`` is the first frame index of each unit;
    ``missing_units`` are positions scored 0.5 under the ``score_half`` policy."""

    item: VideoItem
    units: np.ndarray | None = None
    unit_index: list[int] = field(default_factory=list)
    missing_units: list[int] = field(default_factory=list)
    unit_landmarks: list[np.ndarray | None] = field(default_factory=list)
    n_frames: int = 0
    n_missing_faces: int = 0
    failure: str | None = None
    timing: dict[str, float] = field(default_factory=lambda: {"decode": 0.0, "faces": 0.0, "cache_hits": 0})


@dataclass
class FaceStage:
    """Everything between a video file and crops; built once per run (it holds the cropper)."""

    input_spec: InputSpec
    cropper: Any
    missing_face: str = "skip"
    corruption: CorruptionSpec | None = None
    level: int | None = None
    corrupt_crops: bool = False
    run_seed: int = 0
    max_frames: int | None = None
    cache: Any = None

    def __post_init__(self) -> None:
        if self.missing_face not in MISSING_FACE_POLICIES:
            raise ValueError(f"--missing-face must be one of {', '.join(MISSING_FACE_POLICIES)}, got {self.missing_face!r}")
        self._apply = load_object(self.corruption.apply) if self.corruption else None

    def _corrupt(self, frames: np.ndarray, key: str) -> np.ndarray:
        from .corruptions import derive_seed

        seed = derive_seed(self.run_seed, key, self.corruption.name, self.level)
        return self._checked(frames, self._apply(frames, self.level, seed))

    def _checked(self, frames: np.ndarray, out: Any) -> np.ndarray:
        # A third-party corruption returning the wrong shape would otherwise surface much later
        # as a confusing cropper or model error.
        if getattr(out, "shape", None) != frames.shape or getattr(out, "dtype", None) != frames.dtype:
            raise DfbenchError(
                f"corruption {self.corruption.name!r} returned {getattr(out, 'dtype', type(out).__name__)} "
                f"{getattr(out, 'shape', '')} for uint8 {frames.shape}; its apply function "
                f"({self.corruption.apply!r}) must return frames of the input's shape and dtype."
            )
        return out

    @property
    def _video_scope(self) -> bool:
        return self.corruption is not None and self.corruption.scope == "video" and not self.corrupt_crops

    def _read_video_corrupted(self, item: VideoItem, indices: list[int], frame_bytes: int) -> np.ndarray:
        """Video-scope corruptions (``compression``, ``h265``) on consecutive frames.

        A codec's output for a frame depends on its neighbours (motion compensation, rate control),
        so encoding only the sampled, evenly spaced frames would be a different (much harsher)
        corruption than the published one, which encodes the whole video. We decode the span from
        the first to the last sampled frame consecutively, corrupt it, and keep the sampled frames.
        Long spans are processed in consecutive segments of at most :data:`VIDEO_SEGMENT_FRAMES`
        frames (x264's default keyframe interval, so a segment boundary falls where the encoder
        would usually start a new closed GOP anyway) and under :data:`VIDEO_SEGMENT_BYTES` of
        decoded frames, which bounds memory for long or high-resolution videos.
        """
        from .corruptions import derive_seed
        from .media.decode import read_frames

        first, last = indices[0], indices[-1]
        seg = max(1, min(VIDEO_SEGMENT_FRAMES, VIDEO_SEGMENT_BYTES // max(frame_bytes, 1)))
        wanted = np.asarray(indices)
        picked: list[np.ndarray] = []
        for start in range(first, last + 1, seg):
            stop = min(start + seg, last + 1)
            sel = wanted[(wanted >= start) & (wanted < stop)]
            if not len(sel):
                continue
            span = read_frames(item.path, range(start, stop))
            # The first segment uses the video's seed, so a short video gets exactly the seed of
            # dfbench.corruptions.derive_seed(run seed, key, type, level); later segments get
            # their own independent streams.
            key = item.key if start == first else f"{item.key}@{start}"
            seed = derive_seed(self.run_seed, key, self.corruption.name, self.level)
            out = self._checked(span, self._apply(span, self.level, seed))
            picked.append(out[sel - start])
            del span, out
        return np.concatenate(picked)

    def sample(self, n_frames: int) -> list[int]:
        from .media.sampling import sample_indices

        return sample_indices(n_frames, self.input_spec, max_frames=self.max_frames)

    def crops_for(self, item: VideoItem, timing: dict[str, float]) -> tuple[list[int], Any]:
        """Decode the sampled frames and crop faces (or read them from the cache)."""
        from .media.decode import probe, read_frames

        use_cache = self.cache is not None and (self.corruption is None or self.corrupt_crops)
        if use_cache:
            hit = self.cache.get(item.key)
            if hit is not None:
                timing["cache_hits"] += 1
                indices, faces = hit
                return indices, faces
        t0 = time.perf_counter()
        info = probe(item.path)
        indices = self.sample(info.n_frames)
        if not indices:
            need = self.input_spec.clip_length if self.input_spec.unit == "clip" else 1
            raise VideoFailure(f"too short: {info.n_frames} frames, a clip needs {need}")
        if self._video_scope:
            frames = self._read_video_corrupted(item, indices, info.width * info.height * 3)
        else:
            frames = read_frames(item.path, indices)
            if self.corruption is not None and not self.corrupt_crops:
                frames = self._corrupt(frames, item.key)
        t1 = time.perf_counter()
        faces = self.cropper(frames, self.input_spec.size)
        t2 = time.perf_counter()
        timing["decode"] += t1 - t0
        timing["faces"] += t2 - t1
        if use_cache:
            self.cache.put(item.key, indices, faces)
        return indices, faces

    def prepare(self, item: VideoItem) -> PreparedVideo:
        pv = PreparedVideo(item=item)
        try:
            if item.meta.get("missing"):
                raise VideoFailure("missing file: listed by the dataset but not on disk")
            indices, faces = self.crops_for(item, pv.timing)
            self._to_units(pv, indices, faces)
        except (VideoFailure, MediaError) as e:
            pv.failure = str(e)
        except Exception as e:  # a broken file must never end a run; record what happened
            log.exception("unexpected failure on %s", item.key)
            pv.failure = f"{type(e).__name__}: {e}"
        return pv

    def _to_units(self, pv: PreparedVideo, indices: list[int], faces: Any) -> None:
        s = self.input_spec
        crops = list(faces.crops)
        pv.n_frames = len(crops)
        pv.n_missing_faces = sum(c is None for c in crops)
        if pv.n_missing_faces == len(crops):
            raise VideoFailure(f"no face found in any of {len(crops)} sampled frames")
        if pv.n_missing_faces and self.missing_face == "fail":
            raise VideoFailure(f"no face in {pv.n_missing_faces} of {len(crops)} frames (policy: fail)")
        template = next(c for c in crops if c is not None)
        if self.corruption is not None and self.corrupt_crops:
            present = [i for i, c in enumerate(crops) if c is not None]
            stack = np.stack([_hwc(crops[i]) for i in present])
            if stack.shape[-1] == 1:
                stack = np.repeat(stack, 3, axis=-1)
                out = self._corrupt(stack, pv.item.key)[..., :1]
            else:
                out = self._corrupt(stack, pv.item.key)
            for j, i in enumerate(present):
                crops[i] = out[j]
        blank = np.zeros_like(_hwc(template))
        lms = list(faces.landmarks) if len(faces.landmarks) == len(crops) else [None] * len(crops)
        if s.unit == "frame":
            units, starts, missing = [], [], []
            for i, c, lm in zip(indices, crops, lms, strict=True):
                if c is None:
                    if self.missing_face == "skip":
                        continue
                    missing.append(len(units))
                    c = blank
                units.append(_chw(_hwc(c)))
                starts.append(i)
                pv.unit_landmarks.append(lm)
            pv.units = np.stack(units)
        else:
            L = s.clip_length
            units, starts, missing = [], [], []
            for k in range(0, len(crops) - L + 1, L):
                clip = crops[k:k + L]
                if any(c is None for c in clip):
                    if self.missing_face == "skip":
                        continue
                    missing.append(len(units))
                    clip = [blank] * L
                units.append(np.stack([_chw(_hwc(c)) for c in clip]))
                starts.append(indices[k])
            if not units:
                raise VideoFailure("no complete clip with a face in every frame")
            pv.units = np.stack(units)
        pv.unit_index, pv.missing_units = starts, missing


def _hwc(c: np.ndarray) -> np.ndarray:
    return c[..., None] if c.ndim == 2 else c


def _chw(c: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(c.transpose(2, 0, 1))


class ModelStage:
    """Runs a detector on prepared units: device, precision, channels_last, flip test."""

    def __init__(self, detector, *, device: str = "cpu", precision: str = "fp32", channels_last: bool = False,
                 flip_test: bool = False, batch_size: int = 16, compile: bool = False) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.device = torch.device(device)
        self.precision, self.flip_test, self.batch_size = precision, flip_test, max(1, int(batch_size))
        self.channels_last = channels_last and detector.input_spec.unit == "frame"
        det = detector.eval().to(self.device)
        if precision == "fp64":
            det = det.double()
        if self.channels_last:
            det = det.to(memory_format=torch.channels_last)
        det.configure_inference(heads=("cls",))
        self.detector = det
        self.model = torch.compile(det) if compile else det

    def _autocast(self):
        if self.precision in ("bf16", "fp16"):
            dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
            return torch.autocast(self.device.type, dtype=dtype)
        return contextlib.nullcontext()

    @torch.inference_mode()
    def logits(self, units: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(units), self.batch_size):
            x = torch.from_numpy(units[i:i + self.batch_size]).to(self.device)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self._autocast():
                if self.flip_test:
                    # The official LAA-Net protocol averages the raw logits of x and its mirror.
                    # One forward over both halves: a larger batch uses the cores better than two
                    # passes, and eval-mode models treat every sample independently.
                    n = len(x)
                    xx = torch.cat([x, torch.flip(x, dims=(-1,))])
                    if self.channels_last:
                        xx = xx.contiguous(memory_format=torch.channels_last)
                    yy = self.model(xx).float()
                    y = 0.5 * (yy[:n] + yy[n:])
                else:
                    y = self.model(x).float()
            out.append(y.cpu().numpy().astype(np.float64))
        return np.concatenate(out) if out else np.zeros(0)


def prefetch(stage: FaceStage, items: list[VideoItem], depth: int = 2) -> Iterator[PreparedVideo]:
    """Prepare videos in a background thread so decoding and face cropping overlap the model."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        from .threads import limit_this_thread

        # The model already uses every available CPU: torch work here (MTCNN/RetinaFace
        # croppers) gets one thread instead of competing with it.
        limit_this_thread(1)
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(stage.prepare(item))
        finally:
            q.put(done)

    t = threading.Thread(target=work, name="dfbench-prefetch", daemon=True)
    t.start()
    try:
        while (pv := q.get()) is not done:
            yield pv
    finally:
        stop.set()
        # Drain so the worker can finish its put and exit.
        while t.is_alive():
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
