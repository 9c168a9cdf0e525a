"""Explanation files for ``dfbench predict --explain``.

Whatever a detector's ``explain()`` returns is written in a form a person can look at:
``heatmap`` -> overlays on each crop (PNG per unit and a short MP4), ``reconstruction`` -> the
reconstruction and the |x − x̂| map next to each face, ``frame_weights`` -> a plot of the
temporal-attention weights; and always a plot of the per-unit scores over time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:120]


def _rgb(unit: np.ndarray) -> np.ndarray:
    """A displayable HxWx3 uint8 image from a [C,H,W] unit (or the middle frame of a clip)."""
    if unit.ndim == 4:
        unit = unit[len(unit) // 2]
    img = unit.transpose(1, 2, 0)
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img


def _overlay(img: np.ndarray, heat: np.ndarray) -> np.ndarray:
    import cv2

    h = cv2.resize(heat.astype(np.float32), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap((np.clip(h, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    return (0.55 * img + 0.45 * colour).astype(np.uint8)


def _write_png(path: Path, img: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.ascontiguousarray(img[..., ::-1]))


def _write_mp4(path: Path, frames: list[np.ndarray], fps: int = 4) -> None:
    import av

    h, w = frames[0].shape[:2]
    h2, w2 = h - h % 2, w - w % 2
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:h2, :w2]), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_explanations(det, model_stage, pv, logits: np.ndarray, out_root: Path) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = out_root / _safe(Path(pv.item.path).name)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {"dir": str(out)}
    x = torch.from_numpy(pv.units).to(model_stage.device)
    with torch.inference_mode():
        exp = det.explain(x)
    if "heatmap" in exp:
        heat = exp["heatmap"].float().cpu().numpy()
        frames = []
        for j, unit in enumerate(pv.units):
            ov = _overlay(_rgb(unit), heat[j])
            _write_png(out / f"heatmap_{pv.unit_index[j]:05d}.png", ov)
            frames.append(ov)
        _write_mp4(out / "heatmap.mp4", frames)
        written["heatmaps"] = len(frames)
    if "reconstruction" in exp:
        rec = exp["reconstruction"].cpu().numpy()
        for j, unit in enumerate(pv.units):
            img, r = _rgb(unit), _rgb(rec[j])
            diff = np.abs(img.astype(np.int16) - r.astype(np.int16)).mean(axis=2)
            diff_img = _overlay(np.zeros_like(img), diff / max(1.0, diff.max()))
            _write_png(out / f"face_{pv.unit_index[j]:05d}.png", np.concatenate([img, r, diff_img], axis=1))
        written["reconstructions"] = len(pv.units)
    fig, axes = plt.subplots(2 if "frame_weights" in exp else 1, 1, figsize=(8, 5 if "frame_weights" in exp else 3), squeeze=False)
    prob = 1 / (1 + np.exp(-logits))
    axes[0, 0].plot(pv.unit_index, prob, marker="o")
    axes[0, 0].set_ylim(0, 1)
    axes[0, 0].set_ylabel("p(fake)")
    axes[0, 0].set_xlabel("frame index (start of unit)")
    from .build import detector_id_of

    axes[0, 0].set_title(f"{detector_id_of(det)} on {Path(pv.item.path).name}")
    if "frame_weights" in exp:
        w = exp["frame_weights"].float().cpu().numpy()
        L = w.shape[1]
        for j, start in enumerate(pv.unit_index):
            axes[1, 0].plot(range(start, start + L), w[j])
        axes[1, 0].set_ylabel("temporal attention weight")
        axes[1, 0].set_xlabel("frame index")
        written["frame_weights"] = w.tolist()
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=100)
    plt.close(fig)
    written["plot"] = str(out / "scores.png")
    return written
