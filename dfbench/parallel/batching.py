"""Model batches that span videos, with logits that do not depend on the batch.

A model's output for one crop depends on the *shape* of the batch it ran in (on CPU oneDNN and
MKL choose different kernels, and so different summation orders, for 5 rows than for 16; we
measured differences up to 3e-5 on the demo detectors), but not on the crop's position in the
batch or on the other rows' content. So every batch here has exactly ``batch_size`` rows: units
of consecutive videos are packed into it and the last batch is padded with zero rows whose
outputs are dropped. A video's logits are then the same whether its units shared a batch with
other videos or not, in whatever order and however many workers prepared them, and before and
after a resume.

Records come out in the order the videos went in (a video is released once all its units are
scored), so the partial log of a parallel run is written in the same order as a serial one.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..media.policy import NEUTRAL_LOGIT
from ..pipeline import ModelStage, PreparedVideo, SystemicFailure

log = logging.getLogger(__name__)


def failure_record(pv: PreparedVideo) -> dict[str, Any]:
    it = pv.item
    return {"key": it.key, "label": int(it.label), "method": it.method, "status": "failed",
            "reason": pv.failure, "kind": pv.failure_kind or "error", "exception": pv.exception}


def model_failure_record(pv: PreparedVideo, exc: BaseException) -> dict[str, Any]:
    it = pv.item
    return {"key": it.key, "label": int(it.label), "method": it.method, "status": "failed",
            "reason": f"{type(exc).__name__}: {exc} (model, on {it.path})", "kind": type(exc).__name__,
            "exception": True}


def ok_record(pv: PreparedVideo, logits: np.ndarray) -> dict[str, Any]:
    it = pv.item
    return {"key": it.key, "label": int(it.label), "method": it.method, "status": "ok",
            "frames": [int(i) for i in pv.unit_index], "logits": [float(v) for v in logits],
            "missing_faces": pv.n_missing_faces, "frames_sampled": pv.n_frames, "units_total": pv.n_units,
            "units_without_face": pv.n_missing_units, "faceless": pv.faceless}


def _unit(pv: PreparedVideo, j: int) -> np.ndarray:
    """Unit ``j`` of a video: its primary crops first, then its further faces (``extra_units``)."""
    n = len(pv.units)
    return pv.units[j] if j < n else pv.extra_units[j - n]


def _frame_logits(pv: PreparedVideo, logits: np.ndarray) -> np.ndarray:
    """One logit per unit: a frame with further faces keeps its most fake-looking face (the
    sigmoid is monotonic, so the max logit is the max probability) — the every-face rule."""
    n = len(pv.units)
    out = logits[:n].copy()
    if len(pv.extra_owner):
        np.maximum.at(out, np.asarray(pv.extra_owner), logits[n:])
    return out


@dataclass(eq=False)  # hashed by identity: one entry per video
class _Pending:
    pv: PreparedVideo
    logits: np.ndarray | None = None
    todo: int = 0
    error: BaseException | None = None
    rows: list[int] = field(default_factory=list)
    """Unit positions still to be packed into a batch."""


def fixed_shape_logits(run: Callable[[np.ndarray], np.ndarray], units: np.ndarray, batch_size: int) -> np.ndarray:
    """Logits of ``units`` run in batches of exactly ``batch_size`` rows (the last one padded)."""
    out = []
    for i in range(0, len(units), batch_size):
        chunk = units[i:i + batch_size]
        n = len(chunk)
        if n < batch_size:
            chunk = np.concatenate([chunk, np.zeros((batch_size - n,) + chunk.shape[1:], chunk.dtype)])
        out.append(np.asarray(run(chunk), dtype=np.float64)[:n])
    return np.concatenate(out) if out else np.zeros(0)


def score_stream(prepared: Iterable[PreparedVideo], model_stage: ModelStage, timing: dict[str, float],
                 run_batch: Callable[[np.ndarray], np.ndarray] | None = None
                 ) -> Iterator[tuple[PreparedVideo, dict[str, Any]]]:
    """``(prepared video, record)`` in input order; the record is what the partial log stores
    (with an ``exception`` flag the runner pops). ``run_batch`` runs one full batch (default: the
    model stage in this process; a Ray GPU actor otherwise)."""
    run = run_batch or model_stage.logits
    queue: deque[_Pending] = deque()
    rows: list[tuple[_Pending, int]] = []  # (video, unit position) in the batch being filled

    def flush() -> None:
        if not rows:
            return
        batch_size = model_stage.batch_size
        units = np.stack([_unit(p.pv, j) for p, j in rows])
        t0 = time.perf_counter()
        try:
            logits = fixed_shape_logits(run, units, batch_size)
        except SystemicFailure:
            raise
        except Exception as batch_error:
            # One video's units may have broken the batch: score each video alone (same batch
            # shape, so the others' logits are unchanged) to find whose failure it is. An error
            # that no video reproduces alone is still recorded, never swallowed: it is charged to
            # the batch's first video (the one a per-video batch would have been running).
            log.debug("batch failed, scoring its videos one by one", exc_info=True)
            logits = None
            videos = list(dict.fromkeys(p for p, _ in rows))
            for p in videos:
                mine = [j for q, j in rows if q is p]
                try:
                    vals = fixed_shape_logits(run, np.stack([_unit(p.pv, j) for j in mine]), batch_size)
                except SystemicFailure:
                    raise
                except Exception as e2:
                    p.error = e2
                    vals = np.full(len(mine), np.nan)
                for j, v in zip(mine, vals, strict=True):
                    p.logits[j] = v
                p.todo -= len(mine)
            if all(p.error is None for p in videos):
                videos[0].error = batch_error
        finally:
            timing["model"] += time.perf_counter() - t0
        if logits is not None:
            for (p, j), v in zip(rows, logits, strict=True):
                p.logits[j] = v
                p.todo -= 1
        rows.clear()

    def release(final: bool) -> Iterator[tuple[PreparedVideo, dict[str, Any]]]:
        while queue and (queue[0].todo == 0 or final):
            p = queue.popleft()
            pv = p.pv
            if pv.failure is not None:
                yield pv, failure_record(pv)
            elif p.error is not None:
                yield pv, model_failure_record(pv, p.error)
            else:
                yield pv, ok_record(pv, _frame_logits(pv, p.logits))

    for pv in prepared:
        for k in ("decode", "faces"):
            timing[k] += pv.timing.get(k, 0.0)
        p = _Pending(pv)
        queue.append(p)
        if pv.failure is None:
            neutral = set(pv.missing_units)
            n_units, n_extra = len(pv.units), len(pv.extra_owner)
            # Positions past the video's units are its further faces (every-face datasets, FFIW).
            p.logits = np.full(n_units + n_extra, NEUTRAL_LOGIT, dtype=np.float64)
            scored = [j for j in range(n_units) if j not in neutral] + list(range(n_units, n_units + n_extra))
            p.todo = len(scored)
            for j in scored:
                rows.append((p, j))
                if len(rows) >= model_stage.batch_size:
                    flush()
        if pv.stop is not None:
            # --missing-face fail: the videos before this one are scored and released first.
            flush()
            yield from release(final=True)
            return
        yield from release(final=False)
    flush()
    yield from release(final=True)
