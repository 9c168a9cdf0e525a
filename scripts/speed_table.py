"""Regenerate README.md's speed table from ONE ``make bench`` JSON (pytest-benchmark format).

Usage: ``python scripts/speed_table.py .benchmarks/latest.json [--readme README.md]
[--anchors anchors.json]`` (or ``make speed-table``). Without ``--readme`` the table is printed.

Every figure comes from the same sitting: for a throughput, min / median / max over the
benchmark's rounds (units per round divided by the round's max / median / min time); for a figure
a benchmark stores in ``extra_info`` (a ratio, a slowdown), the stored value. Rows whose benchmark
is missing from the JSON are listed as "not measured" so a partial run cannot pass for a full one.
Official-code anchors are never taken from this project's own models: they come only from
``--anchors`` (``{"row label": "0.54 img/s (official float64 + flip, same sitting)"}``), each
naming its sitting; rows that run this project's model in float64 say so. Rows of
``bench_zoo.py`` also state what ``auto`` resolved to (from its ``extra_info``).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path

START, END = "<!-- speed-table:start -->", "<!-- speed-table:end -->"

# (row label, benchmark fullname glob, figure): figure = ("rate", units per round, unit label,
# per-minute?) or ("extra", extra_info key, unit label).
ROWS: list[tuple[str, str, tuple]] = [
    ("LAA-Net 384, batch 8, flip on, default flags (auto)", "*bench_fastpath.py::*[[]auto-flip_on]",
     ("rate", 8, "img/s", False)),
    ("LAA-Net 384, batch 8, flip off, default flags (auto)", "*bench_fastpath.py::*[[]auto-flip_off]",
     ("rate", 8, "img/s", False)),
    ("LAA-Net 384, batch 8, flip on, --backend torch (auto: bf16 + channels_last)",
     "*bench_fastpath.py::*[[]torch_auto-flip_on]", ("rate", 8, "img/s", False)),
    ("LAA-Net 384, batch 8, flip off, --backend torch (auto: bf16 + channels_last)",
     "*bench_fastpath.py::*[[]torch_auto-flip_off]", ("rate", 8, "img/s", False)),
    ("LAA-Net 384, batch 8, flip on, --backend openvino --precision fp32",
     "*bench_fastpath.py::*[[]openvino_fp32-flip_on]", ("rate", 8, "img/s", False)),
    ("LAA-Net 384, batch 8, flip on, --precision fp32", "*bench_fastpath.py::*[[]fp32-flip_on]",
     ("rate", 8, "img/s", False)),
    ("LAA-Net 384, batch 8, flip on, auto + torch.compile", "*bench_fastpath.py::*[[]auto_compile-flip_on]",
     ("rate", 8, "img/s", False)),
    ("LAA-Net 384, batch 8, flip on, --backend onnxruntime", "*bench_fastpath.py::*[[]onnxruntime-flip_on]",
     ("rate", 8, "img/s", False)),
    ("LAA-Net 384, batch 8, flip on, this project's model in float64, all heads (NOT the official code)",
     "*bench_laanet.py::*[[]fp64_all_heads-flip_on]", ("rate", 8, "img/s", False)),
    ("LAA-Net training step, 384, SAM, 4 pairs, bf16", "*bench_laanet_train.py::*[[]bf16]",
     ("rate", 8, "img/s", False)),
    ("LAA-Net training step, 384, SAM, 4 pairs, fp32", "*bench_laanet_train.py::*[[]fp32]",
     ("rate", 8, "img/s", False)),
    ("LAA-Net training step, 384, SAM, this project's model in float64 (NOT the official code)",
     "*bench_laanet_train.py::*[[]fp64]", ("rate", 8, "img/s", False)),
    *[(f"{name}, batch 8, {flags}", f"*bench_zoo.py::*[[]{family}-{case}]", ("rate", 8, "img/s", False))
      for family, name in (("sbi", "SBI EfficientNet-B4 380"), ("xception", "Xception (DeepfakeBench) 256"),
                           ("efficientnet_b4", "EfficientNet-B4 (DeepfakeBench) 256"), ("spsl", "SPSL 256"),
                           ("univfd", "UnivFD CLIP ViT-L/14 224"))
      for case, flags in (("auto", "default flags (auto)"), ("fp32", "--precision fp32"))],
    ("RECCE inference 299, batch 8, bf16 + channels_last", "*bench_recce.py::*[[]bf16_channels_last-default]",
     ("rate", 8, "img/s", False)),
    ("RECCE inference 299, batch 8, fp32", "*bench_recce.py::*[[]fp32-default]", ("rate", 8, "img/s", False)),
    ("RECCE training step 299, batch 16, bf16 + channels_last", "*bench_recce_train.py::*[[]bf16_channels_last]",
     ("rate", 16, "img/s", False)),
    ("RECCE training step 299, batch 16, fp32", "*bench_recce_train.py::*[[]fp32]", ("rate", 16, "img/s", False)),
    ("face pipeline, 10-s 640x360 video, 32 frames, 1 process", "*bench_media.py::*face_pipeline_per_video[[]dlib_align]",
     ("rate", 1, "videos/min", True)),
    ("prepare 8 videos, 1 worker (cold start)", "*bench_prepare.py::*prepare_workers[[]1]", ("rate", 8, "videos/min", True)),
    ("prepare 8 videos, 2 workers (cold start)", "*bench_prepare.py::*prepare_workers[[]2]", ("rate", 8, "videos/min", True)),
    ("SBI pseudo-fake pairs at 384 px, 1 core", "*bench_synthesis.py::*sbi_pair[[]384]", ("rate", 1, "pairs/s", False)),
    ("demo evaluation beside a spinning core: slowdown", "*bench_contention.py::*[[]spin-passive]",
     ("extra", "slowdown_wall", "x")),
    ("demo evaluation beside another torch job: slowdown", "*bench_contention.py::*[[]torch-passive]",
     ("extra", "slowdown_wall", "x")),
    ("re-run on a warm crop cache: speed-up", "*bench_runner.py::*warm_cache_rerun", ("extra", "speedup", "x")),
    ("peak memory, 1,000 vs 100 videos: ratio", "*bench_runner.py::*peak_memory*", ("extra", "ratio", "")),
]


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def figure(bench: dict, fig: tuple) -> tuple[str, str, str, str]:
    """(min, median, max, unit) of one row from its benchmark record."""
    if fig[0] == "extra":
        v = bench.get("extra_info", {}).get(fig[1])
        return ("", _fmt(float(v)) if v is not None else "n/a", "", fig[2])
    _, units, unit, per_min = fig
    s = bench["stats"]
    scale = 60.0 if per_min else 1.0
    rate = [scale * units / t for t in (s["max"], s["median"], s["min"])]
    return (_fmt(rate[0]), _fmt(rate[1]), _fmt(rate[2]), unit)


def table(doc: dict, anchors: dict[str, str] | None = None) -> str:
    benches = doc.get("benchmarks", [])
    anchors = anchors or {}
    when = doc.get("datetime", "?")
    cpu = (doc.get("machine_info", {}).get("cpu") or {}).get("brand_raw") or doc.get("machine_info", {}).get("processor", "")
    lines = [f"Measured in one `make bench` sitting ({when}, {cpu}); min / median / max over the rounds.", "",
             "| what | min | median | max | unit | official-code anchor (its source and sitting) |",
             "|---|---|---|---|---|---|"]
    for label, pattern, fig in ROWS:
        hits = [b for b in benches if fnmatch.fnmatchcase(b.get("fullname", ""), pattern)]
        anchor = anchors.get(label, "—")
        if not hits:
            lines.append(f"| {label} | | not measured | | | {anchor} |")
            continue
        lo, med, hi, unit = figure(hits[0], fig)
        extra = hits[0].get("extra_info", {})
        if "bench_zoo.py" in pattern and "backend" in extra:
            label = f"{label} [{extra['backend']} {extra.get('precision', '')}]"
        lines.append(f"| {label} | {lo} | {med} | {hi} | {unit} | {anchor} |")
    return "\n".join(lines)


def replace_block(text: str, block: str) -> str:
    if START not in text or END not in text:
        raise SystemExit(f"README has no {START} ... {END} block; add the two markers where the table goes")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench_json", type=Path)
    ap.add_argument("--readme", type=Path, help="Rewrite the marked block of this file (else print the table).")
    ap.add_argument("--anchors", type=Path, help="JSON {row label: official-code figure with its source}.")
    args = ap.parse_args(argv)
    try:
        doc = json.loads(args.bench_json.read_text())
    except (OSError, ValueError) as e:
        raise SystemExit(f"{args.bench_json}: not a pytest-benchmark JSON ({e}); run `make bench` first") from e
    anchors = json.loads(args.anchors.read_text()) if args.anchors else None
    block = table(doc, anchors)
    if args.readme:
        args.readme.write_text(replace_block(args.readme.read_text(), block))
    else:
        sys.stdout.write(block + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
