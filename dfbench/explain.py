"""Explanation files for ``dfbench predict --explain``: pictures a person can read, and one page.

Whatever a detector's ``explain()`` returns is written in a form a person can look at, per video in
``DIR/<video name>/``:

- ``heatmap`` -> ``heatmap_<frame>.png``: the face crop beside the map blended over it, at
  ``DISPLAY_MIN`` px or more (crops are upscaled bicubically, maps bilinearly), with a colour bar in
  the detector's units (``explain_heatmap_label`` on the detector) and panel titles; the map is
  blended in proportion to its value, so cold regions show the face itself rather than a blue tint.
  Plus ``heatmap.mp4`` of the overlays.
- ``reconstruction`` -> ``face_<frame>.png``: face crop | reconstruction x̂ | |x − x̂| with titles
  and a colour bar.
- clip detectors -> ``<name>_<frame>.gif`` (the clip as the model saw it) and ``<name>_<frame>.png``
  (the clip as a strip of frames); ``name`` is the detector's ``explain_clip_name`` (LipForensics:
  ``mouth``), else ``clip``;
- ``frame_weights`` -> temporal attention weights, drawn only when the detector returns them (a
  plugin returns them only for variants that have attention: a uniform 1/T line is not data).
- always ``scores.png`` (per-unit p(fake) over time) and ``explain.html``, one page that strings
  these together with the frame scores.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

DISPLAY_MIN = 256  # px: the smallest side of any face picture written


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:120]


def _rgb(unit: np.ndarray) -> np.ndarray:
    """A displayable HxWx3 uint8 image from a [C,H,W] unit (or the middle frame of a clip)."""
    if unit.ndim == 4:
        unit = unit[len(unit) // 2]
    img = unit.transpose(1, 2, 0)
    return np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img


def _upscale(img: np.ndarray, side: int) -> np.ndarray:
    import cv2

    if img.shape[0] >= side:
        return img
    w = round(img.shape[1] * side / img.shape[0])
    return cv2.resize(img, (w, side), interpolation=cv2.INTER_CUBIC)


def _overlay(img: np.ndarray, heat: np.ndarray, cmap: str = "inferno") -> np.ndarray:
    """``heat`` in [0, 1] blended over ``img`` with opacity growing with the value (0 -> the face)."""
    import cv2
    from matplotlib import colormaps

    h = np.clip(cv2.resize(heat.astype(np.float32), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR), 0, 1)
    colour = (colormaps[cmap](h)[..., :3] * 255).astype(np.float32)
    alpha = (0.8 * h)[..., None]
    return (img.astype(np.float32) * (1 - alpha) + colour * alpha).round().astype(np.uint8)


def _colour(heat: np.ndarray, size: tuple[int, int], cmap: str = "inferno") -> np.ndarray:
    """``heat`` in [0, 1] as a colour-mapped image of ``size`` (h, w), no face under it."""
    import cv2
    from matplotlib import colormaps

    h = np.clip(cv2.resize(heat.astype(np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR), 0, 1)
    return (colormaps[cmap](h)[..., :3] * 255).astype(np.uint8)


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


def _write_gif(path: Path, frames: list[np.ndarray], fps: int = 12) -> None:
    from PIL import Image

    imgs = [Image.fromarray(f) for f in frames]
    imgs[0].save(path, save_all=True, append_images=imgs[1:], duration=round(1000 / fps), loop=0)


class _Panels:
    """One matplotlib figure reused for every unit (only the image data and titles change): images
    side by side at their pixel size, and a colour bar with its label (the map's units)."""

    def __init__(self, n_images: int, side: int, aspect: float, cbar_label: str, cmap: str = "inferno") -> None:
        import matplotlib.pyplot as plt
        from matplotlib import colormaps, colors
        from matplotlib.cm import ScalarMappable

        self.plt = plt
        dpi = 100
        img_w, img_h = side * aspect / dpi, side / dpi
        pad_w, cbar_w, title_h = 0.12, 1.0, 0.42
        width = n_images * (img_w + pad_w) + cbar_w + pad_w
        height = img_h + title_h + 0.1
        self.fig = plt.figure(figsize=(width, height), dpi=dpi)
        self.axes, self.ims = [], []
        for i in range(n_images):
            left = (pad_w + i * (img_w + pad_w)) / width
            ax = self.fig.add_axes((left, 0.05 / height, img_w / width, img_h / height))
            ax.set_axis_off()
            self.ims.append(ax.imshow(np.zeros((side, round(side * aspect), 3), np.uint8), interpolation="nearest"))
            self.axes.append(ax)
        cax = self.fig.add_axes(((pad_w + n_images * (img_w + pad_w)) / width, 0.12 / height, 0.16 / width,
                                 (img_h - 0.14) / height))
        cb = self.fig.colorbar(ScalarMappable(norm=colors.Normalize(0, 1), cmap=colormaps[cmap]), cax=cax)
        cb.set_label(cbar_label, fontsize=8)
        cb.ax.tick_params(labelsize=8)

    def save(self, path: Path, images: list[np.ndarray], titles: list[str]) -> None:
        for im, ax, img, title in zip(self.ims, self.axes, images, titles, strict=True):
            im.set_data(img)
            ax.set_title(title, fontsize=10)
        self.fig.savefig(path, dpi=100)

    def close(self) -> None:
        self.plt.close(self.fig)


def _heatmaps(out: Path, pv, heat: np.ndarray, prob: np.ndarray, label: str, title: str, side: int) -> int:
    crops = [_upscale(_rgb(u), side) for u in pv.units]
    panels = _Panels(2, side, crops[0].shape[1] / crops[0].shape[0], label)
    frames = []
    try:
        for j, crop in enumerate(crops):
            ov = _overlay(crop, heat[j])
            idx = pv.unit_index[j]
            panels.save(out / f"heatmap_{idx:05d}.png", [crop, ov],
                        [f"face crop, frame {idx}", f"{title}  ·  p(fake) {prob[j]:.2f}"])
            frames.append(ov)
    finally:
        panels.close()
    _write_mp4(out / "heatmap.mp4", frames)
    return len(frames)


def _reconstructions(out: Path, pv, rec: np.ndarray, prob: np.ndarray, side: int) -> int:
    crops = [_upscale(_rgb(u), side) for u in pv.units]
    panels = _Panels(3, side, crops[0].shape[1] / crops[0].shape[0], "|x − x̂|, channel mean / 255")
    try:
        for j, unit in enumerate(pv.units):
            img, r = _rgb(unit), _rgb(rec[j])
            diff = np.abs(img.astype(np.int16) - r.astype(np.int16)).mean(axis=2) / 255.0
            big = crops[j]
            idx = pv.unit_index[j]
            panels.save(out / f"face_{idx:05d}.png", [big, _upscale(r, side), _colour(diff, big.shape[:2])],
                        [f"face crop, frame {idx}", "reconstruction x̂", f"|x − x̂|  ·  p(fake) {prob[j]:.2f}"])
    finally:
        panels.close()
    return len(pv.units)


def _clips(out: Path, pv, prob: np.ndarray, weights: np.ndarray | None, side: int, name: str) -> int:
    """Each clip as the model saw it: a looping GIF and a strip of frames (with attention weights)."""
    import matplotlib.pyplot as plt

    for j, clip in enumerate(pv.units):
        frames = [_rgb(f) for f in clip]  # [T, C, H, W] -> T x HxWx3
        idx = pv.unit_index[j]
        _write_gif(out / f"{name}_{idx:05d}.gif", [_upscale(f, side) for f in frames])
        cols = min(len(frames), 10)
        rows = -(-len(frames) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(1.25 * cols, 1.45 * rows + 0.5), squeeze=False, dpi=100)
        for k, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if k < len(frames):
                ax.imshow(frames[k], interpolation="nearest")
                t = f"frame {idx + k}" + (f"\nw = {weights[j][k]:.3f}" if weights is not None else "")
                ax.set_title(t, fontsize=7)
        what = "temporal attention weight w per frame" if weights is not None else "no attention in this variant"
        fig.suptitle(f"{name} crops of the clip starting at frame {idx}  ·  p(fake) {prob[j]:.2f}  ·  {what}",
                     fontsize=9)
        fig.tight_layout()
        fig.savefig(out / f"{name}_{idx:05d}.png")
        plt.close(fig)
    return len(pv.units)


def _scores_plot(out: Path, pv, prob: np.ndarray, weights: np.ndarray | None, title: str) -> Path:
    import matplotlib.pyplot as plt

    n = 2 if weights is not None else 1
    fig, axes = plt.subplots(n, 1, figsize=(8, 2.6 * n + 0.6), squeeze=False, dpi=100)
    ax = axes[0, 0]
    ax.axhline(0.5, color="#999", lw=1, ls="--", label="0.5")
    ax.plot(pv.unit_index, prob, marker="o", color="#d62728", label="p(fake) per unit")
    ax.set_ylim(0, 1)
    ax.set_ylabel("p(fake)")
    ax.set_xlabel("frame index (first frame of the unit)")
    ax.set_title(title, fontsize=10)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    if weights is not None:
        L = weights.shape[1]
        for j, start in enumerate(pv.unit_index):
            axes[1, 0].plot(range(start, start + L), weights[j], marker=".", lw=1.2)
        axes[1, 0].set_ylabel("attention weight")
        axes[1, 0].set_xlabel("frame index")
        axes[1, 0].set_title("temporal attention weights (each clip's weights sum to 1)", fontsize=10)
    fig.tight_layout()
    path = out / "scores.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def _page(out: Path, det_id: str, video: str, pv, prob: np.ndarray, written: dict[str, Any]) -> Path:
    e = html.escape
    clip_names = [written["clip_name"]] if "clip_name" in written else []
    rows = "".join(f"<tr><td>{i}</td><td>{p:.3f}</td></tr>" for i, p in zip(pv.unit_index, prob, strict=True))
    figs = []
    for j, idx in enumerate(pv.unit_index):
        items = []
        for name, alt in ((f"heatmap_{idx:05d}.png", "face crop and heatmap"),
                          (f"face_{idx:05d}.png", "face, reconstruction and difference"),
                          *((f"{c}_{idx:05d}.gif", f"{c}-crop clip") for c in clip_names),
                          *((f"{c}_{idx:05d}.png", f"{c}-crop strip") for c in clip_names)):
            if (out / name).exists():
                items.append(f'<img src="{name}" alt="{alt}, frame {idx}" loading="lazy">')
        if items:
            figs.append(f'<figure><figcaption>unit {j + 1}: frame {idx}, p(fake) {prob[j]:.3f}</figcaption>'
                        + "".join(items) + "</figure>")
    weights = ""
    if "frame_weights" in written:
        weights = ("<p>Temporal attention weights per clip are plotted under the scores and written on each frame "
                   "of the mouth strips.</p>")
    text = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(det_id)} on {e(video)}</title>
<style>body{{font:14px/1.45 system-ui,sans-serif;max-width:1200px;margin:0 auto;padding:0 16px 40px;color:#222}}
img{{max-width:100%;margin:4px 8px 4px 0;vertical-align:top;image-rendering:auto}}
figure{{margin:18px 0;border-top:1px solid #ddd;padding-top:6px}}figcaption{{font-weight:600}}
table{{border-collapse:collapse}}td,th{{border-bottom:1px solid #eee;padding:2px 10px;text-align:right}}
.cols{{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}}</style></head><body>
<h1>{e(det_id)} on {e(video)}</h1>
<p>Explanations written by <code>dfbench predict --explain</code>. Scores are per unit (a face crop or a clip);
the video score is the detector's aggregation of these.</p>
<div class="cols"><img src="scores.png" alt="p(fake) per unit over time">
<table><thead><tr><th>frame</th><th>p(fake)</th></tr></thead><tbody>{rows}</tbody></table></div>
{weights}
{''.join(figs)}
</body></html>
"""
    path = out / "explain.html"
    path.write_text(text, encoding="utf-8")
    return path


def write_explanations(det, model_stage, pv, logits: np.ndarray, out_root: Path) -> dict[str, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from .build import detector_id_of

    out = out_root / _safe(Path(pv.item.path).name)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {"dir": str(out)}
    x = torch.from_numpy(pv.units).to(model_stage.device)
    with torch.inference_mode():
        exp = det.explain(x)
    prob = 1 / (1 + np.exp(-np.asarray(logits, dtype=np.float64)))
    side = max(DISPLAY_MIN, int(pv.units.shape[-1]))
    det_id = detector_id_of(det)
    weights = exp["frame_weights"].float().cpu().numpy() if "frame_weights" in exp else None
    if "heatmap" in exp:
        label = getattr(det, "explain_heatmap_label", "explanation map value (0–1)")
        title = getattr(det, "explain_heatmap_title", "explanation map")
        written["heatmaps"] = _heatmaps(out, pv, exp["heatmap"].float().cpu().numpy(), prob, label, title, side)
        written["heatmap_size"] = side
        written["colorbar"] = label
    if "reconstruction" in exp:
        written["reconstructions"] = _reconstructions(out, pv, exp["reconstruction"].cpu().numpy(), prob, side)
    if pv.units.ndim == 5:  # clips: show what the model saw (LipForensics: mouth crops)
        name = getattr(det, "explain_clip_name", "clip")
        written["clip_name"] = name
        written[f"{name}_clips"] = _clips(out, pv, prob, weights, max(176, int(pv.units.shape[-1])), name)
    if weights is not None:
        written["frame_weights"] = weights.tolist()
    written["plot"] = str(_scores_plot(out, pv, prob, weights, f"{det_id} on {Path(pv.item.path).name}"))
    written["html"] = str(_page(out, det_id, Path(pv.item.path).name, pv, prob, written))
    return written
