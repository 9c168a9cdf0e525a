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
from .media.policy import MISSING_FACE_POLICIES, NEUTRAL_LOGIT
from .specs import CorruptionSpec, InputSpec, VideoItem, load_object

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "bf16", "fp16", "fp64")
VIDEO_SEGMENT_FRAMES = 250
"""Longest run of consecutive frames a video-scope corruption encodes at once (x264's keyint)."""
VIDEO_SEGMENT_BYTES = 1 << 30
"""Most decoded-frame bytes held for one video-scope segment (a 1080p segment gets ~170 frames)."""


class VideoFailure(DfbenchError):
    """A per-video failure (unreadable, no face, too short): recorded and counted, never fatal.

    ``kind`` is the bucket ``results.json["failure_reasons"]`` counts it under."""

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind or message.split(":")[0]


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
    extra_units: np.ndarray | None = None
    """Further faces of a frame (``FaceStage.all_faces``), shaped like ``units``; the frame's logit
    is the maximum over its primary face and these."""
    extra_owner: list[int] = field(default_factory=list)
    """For each of ``extra_units``, the position in ``units`` of the frame it belongs to."""
    n_frames: int = 0
    n_missing_faces: int = 0
    n_units: int = 0
    n_missing_units: int = 0
    faceless: bool = False
    """No unit has a face and the policy scored the whole video 0.5 (``score_half``)."""
    failure: str | None = None
    failure_kind: str | None = None
    """Bucket of the failure (``no face``, ``decode error``, an exception's type name, ...)."""
    exception: bool = False
    """The failure was an unexpected exception (a bug or a broken file), not a data condition."""
    stop: str | None = None
    """Set when this video must stop the whole run (``--missing-face fail``)."""
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
    all_faces: bool = False
    """Score every face of a frame and keep the maximum (SBI's FFIW rule: ``multi_face: all`` in
    the dataset's options); the cropper must be built with ``multi_face="all"`` (or crop every
    face anyway) so ``FaceCrops.others`` holds the non-primary faces. Frame units only."""

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
            raise VideoFailure(f"too short: {item.path} has {info.n_frames} frames, a unit needs {need}",
                               kind="too short")
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
                raise VideoFailure(f"missing file: {item.path} is listed by the dataset but not on disk",
                                   kind="missing file")
            indices, faces = self.crops_for(item, pv.timing)
            self._to_units(pv, indices, faces)
        except VideoFailure as e:
            pv.failure, pv.failure_kind = str(e), e.kind
        except MediaError as e:
            pv.failure, pv.failure_kind = str(e), "decode error"
        except Exception as e:  # a broken file must never end a run; record what happened
            log.debug("unexpected failure on %s", item.key, exc_info=True)
            pv.failure, pv.failure_kind, pv.exception = f"{type(e).__name__}: {e}", type(e).__name__, True
        return pv

    def _to_units(self, pv: PreparedVideo, indices: list[int], faces: Any) -> None:
        """Group crops into units and apply the missing-face policy (the one rule, in policy.py)."""
        from .media.policy import apply_missing_policy

        s = self.input_spec
        crops = list(faces.crops)
        L = s.clip_length if s.unit == "clip" else 1
        pv.n_frames = len(crops)
        pv.n_missing_faces = sum(c is None for c in crops)
        decision = apply_missing_policy([c is not None for c in crops], self.missing_face, clip_length=L,
                                        source=pv.item.path)
        pv.n_units, pv.n_missing_units = decision.n_units, decision.n_missing
        if decision.failed is not None:
            if decision.kind == "missing face (policy fail)":
                # --missing-face fail: the protocol says a faceless frame is an error, so the run
                # stops (after keeping what was scored) instead of quietly dropping the video.
                pv.stop = decision.failed
            raise VideoFailure(decision.failed, kind=decision.kind)
        pv.faceless = decision.faceless
        if self.corruption is not None and self.corrupt_crops:
            present = [i for i, c in enumerate(crops) if c is not None]
            if present:
                stack = np.stack([_hwc(crops[i]) for i in present])
                if stack.shape[-1] == 1:
                    stack = np.repeat(stack, 3, axis=-1)
                    out = self._corrupt(stack, pv.item.key)[..., :1]
                else:
                    out = self._corrupt(stack, pv.item.key)
                for j, i in enumerate(present):
                    crops[i] = out[j]
        others = self._other_faces(pv, faces, decision.score)
        # Neutral units are never shown to the model (their logit is NEUTRAL_LOGIT); a blank of
        # the declared shape keeps the unit array rectangular for explanations.
        blank = np.zeros((s.size, s.size, s.channels), np.uint8)
        lms = list(faces.landmarks) if len(faces.landmarks) == len(crops) else [None] * len(crops)
        neutral = set(decision.neutral)
        units, starts = [], []
        for u in sorted(decision.score + decision.neutral):
            if s.unit == "frame":
                c = blank if u in neutral else crops[u]
                units.append(_chw(_hwc(c)))
                pv.unit_landmarks.append(None if u in neutral else lms[u])
            else:
                clip = [blank] * L if u in neutral else crops[u * L:(u + 1) * L]
                units.append(np.stack([_chw(_hwc(c)) for c in clip]))
            starts.append(indices[u * L])
        pv.units = np.stack(units)
        pv.unit_index = starts
        order = sorted(decision.score + decision.neutral)
        pv.missing_units = [j for j, u in enumerate(order) if u in neutral]
        if others:
            pos = {u: j for j, u in enumerate(order)}
            pv.extra_units = np.stack([_chw(_hwc(c)) for _, c in others])
            pv.extra_owner = [pos[u] for u, _ in others]

    def _other_faces(self, pv: PreparedVideo, faces: Any, scored: list[int]) -> list[tuple[int, np.ndarray]]:
        """(frame, crop) of every non-primary face of the scored frames when every face counts;
        corrupted like the primary crops under ``corrupt_crops`` (own seed: the primaries' noise
        stays what it is without the rule)."""
        if not self.all_faces or self.input_spec.unit != "frame":
            return []
        extra = [(u, c) for u in scored if u < len(faces.others) for c in faces.others[u] if c is not None]
        if extra and self.corruption is not None and self.corrupt_crops:
            stack = np.stack([_hwc(c) for _, c in extra])
            gray = stack.shape[-1] == 1
            out = self._corrupt(np.repeat(stack, 3, axis=-1) if gray else stack, f"{pv.item.key}#others")
            extra = [(u, o[..., :1] if gray else o) for (u, _), o in zip(extra, out, strict=True)]
        return extra


def _hwc(c: np.ndarray) -> np.ndarray:
    return c[..., None] if c.ndim == 2 else c


def _chw(c: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(c.transpose(2, 0, 1))


class SystemicFailure(DfbenchError):
    """A failure that is not one video's: the run stops (what was scored is kept)."""


def _is_oom(exc: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or (isinstance(exc, RuntimeError)
                                                         and "out of memory" in str(exc).lower())


def _channels_last_in(module: torch.nn.Module) -> bool:
    """Whether the module's weights are laid out channels_last (a detector may switch its own
    fast path on in ``configure_inference``: the record must say what ran, not what was asked)."""
    for p in module.parameters():
        fmt = {4: torch.channels_last, 5: torch.channels_last_3d}.get(p.dim())
        if fmt is not None and not p.is_contiguous():  # a shape where the two layouts differ
            return p.is_contiguous(memory_format=fmt)
    return False


class ModelStage:
    """Runs a detector on prepared units: device, precision, channels_last, flip test.

    ``effective()`` says what was actually used (a clip detector never gets channels_last, an
    out-of-memory error halves the batch), which is what the run records.
    """

    def __init__(self, detector, *, device: str = "cpu", precision: str = "fp32", channels_last: bool = False,
                 flip_test: bool = False, batch_size: int = 16, compile: bool = False) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.device = torch.device(device)
        self.precision, self.flip_test, self.batch_size = precision, flip_test, max(1, int(batch_size))
        self.requested_batch_size = self.batch_size
        self.channels_last = channels_last and detector.input_spec.unit == "frame"
        self.compiled = bool(compile)
        det = detector.eval().to(self.device)
        if precision == "fp64":
            det = det.double()
        if self.channels_last:
            det = det.to(memory_format=torch.channels_last)
        det.configure_inference(heads=("cls",))
        self.detector = det
        self.model = torch.compile(det) if compile else det
        self.exported: dict[str, str] | None = None
        """Set by :func:`dfbench.backends.install` when an exported runtime replaces the network."""

    def effective(self) -> dict[str, Any]:
        """Precision, memory format, compile and batch size as actually used."""
        if self.exported:  # an exported runtime computes in its own precision, on NCHW graphs
            return {"precision": self.exported["precision"], "parameter_dtype": None, "autocast": None,
                    "channels_last": False, "compile": False, "batch_size": self.batch_size,
                    "batch_size_requested": self.requested_batch_size, "backend": self.exported["backend"]}
        dtype = str(self.detector.param_dtype).replace("torch.", "") if hasattr(self.detector, "param_dtype") else None
        opts = self.detector.inference_options() if hasattr(self.detector, "inference_options") else {}
        return {"precision": self.precision, "parameter_dtype": dtype,
                "autocast": self.precision if self.precision in ("bf16", "fp16") else None,
                "channels_last": bool(self.channels_last or opts.get("channels_last") or _channels_last_in(self.detector)),
                "compile": bool(self.compiled or opts.get("compile")),
                "batch_size": self.batch_size, "batch_size_requested": self.requested_batch_size}

    def _autocast(self):
        if self.precision in ("bf16", "fp16"):
            dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
            return torch.autocast(self.device.type, dtype=dtype)
        return contextlib.nullcontext()

    def logits(self, units: np.ndarray) -> np.ndarray:
        """Logits of ``units``; out of memory halves the batch (down to 1) and tries again."""
        while True:
            try:
                return self._logits(units)
            except Exception as e:
                if not _is_oom(e):
                    raise
                if self.batch_size == 1:
                    raise SystemicFailure(f"out of memory on {self.device} even with batch size 1 ({e}); "
                                          f"use a smaller --precision, another --device or a smaller model") from e
                self.batch_size = max(1, self.batch_size // 2)
                log.warning("out of memory on %s: batch size halved to %d", self.device, self.batch_size)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()

    def video_logits(self, pv: PreparedVideo) -> np.ndarray:
        """One logit per unit of a prepared video; neutral (faceless) units get NEUTRAL_LOGIT
        without a model call, as the missing-face policy says."""
        neutral = set(pv.missing_units)
        scored = [j for j in range(len(pv.units)) if j not in neutral]
        out = np.full(len(pv.units), NEUTRAL_LOGIT, dtype=np.float64)
        if scored:
            units = pv.units if len(scored) == len(pv.units) else pv.units[scored]
            n_extra = len(pv.extra_owner)
            if n_extra:
                units = np.concatenate([units, pv.extra_units])
            logits = self.logits(units)
            out[scored] = logits[:len(scored)]
            if n_extra:
                # Every face counts: a frame scores its most fake-looking face (the sigmoid is
                # monotonic, so the max logit is the max probability).
                np.maximum.at(out, np.asarray(pv.extra_owner), logits[len(scored):])
        return out

    @torch.inference_mode()
    def _logits(self, units: np.ndarray) -> np.ndarray:
        out = []
        for i in range(0, len(units), self.batch_size):
            x = torch.from_numpy(units[i:i + self.batch_size]).to(self.device)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self._autocast():
                if self.flip_test:
                    # The official LAA-Net protocol averages the raw logits of x and its mirror.
                    # Two passes of the same shape, not one forward over [x, mirror(x)]: in one
                    # batch the mirrors' logits moved with their position (2.4e-7 on the demo
                    # LAA-Net, CPU oneDNN), which broke "a video's logits do not depend on its
                    # batch mates" (dfbench.parallel.batching); two passes keep it.
                    xf = torch.flip(x, dims=(-1,))
                    if self.channels_last:
                        xf = xf.contiguous(memory_format=torch.channels_last)
                    y = 0.5 * (self.model(x).float() + self.model(xf).float())
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


def face_detection_device(reg: Any, cropper_name: str, device: str, workers: int = 0,
                          executor: str = "local") -> str | None:
    """Where the face detector runs: on the model's GPU when the cropper's detector is a batched
    network (the RetinaFace/MTCNN recipes take a ``device``) and the faces are prepared in this
    process, so one GPU process needs no CPU face stage. dlib croppers, CPU runs and runs whose
    faces are prepared by worker processes or Ray tasks keep the CPU (None). Recorded in the
    protocol as ``cropper.face_device`` (GPU and CPU detections may differ in the last bits)."""
    if str(device) == "cpu" or workers or executor != "local":
        return None
    factory = load_object(reg.cropper(cropper_name).factory)
    return str(device) if getattr(factory, "detects_on_device", False) else None
