"""What ``dfbench bench`` prints: one line per measured configuration, and the detector lists
(``all``, ``all:test``) the command expands. Formatting only; :mod:`dfbench.bench` measures."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def backend_prefix(r: dict[str, Any]) -> str:
    return "" if r.get("backend", "torch") == "torch" else f"{r['backend']} "


def config_tag(r: dict[str, Any]) -> str:
    return f"{backend_prefix(r)}{r['precision']}{' cl' if r['channels_last'] else ''}{' compile' if r['compile'] else ''}"


def summary_lines(res: dict[str, Any]) -> list[str]:
    s, d = res["summary"], res["detector"]
    unit = res["input"]["unit"]
    lines = [
        f"{d['id']}: {s['params_m']:.2f} M params, {res['gmacs']:.3f} GMACs/{unit}"
        + (f", {res['gmacs_per_video']:.1f} GMACs/video" if res.get("gmacs_per_video") else ""),
        f"  latency batch 1 fp32: p50 {s['latency_ms_p50']:.1f} ms, p95 {s['latency_ms_p95']:.1f} ms",
    ]
    for r in res["throughput"]:
        note = f"  ({r['note']})" if r.get("note") else ""
        speed = r.get("speedup_vs_fp32_nchw")
        spread = ""
        if "units_per_s_min" in r:
            spread = (f" [min {r['units_per_s_min']:.2f}, median {r['units_per_s_median']:.2f}, max "
                      f"{r['units_per_s_max']:.2f} over {r['rounds']} rounds]")
        lines.append(
            f"  {config_tag(r):<16} {r['units_per_s']:9.2f} {unit}s/s @ batch {r['batch_size']}{spread}"
            + (f", {speed:.2f}x fp32 NCHW" if speed else "")
            + f", peak RSS +{r['peak_rss_delta_mb']:.0f} MB{note}"
            + (f"  NOISY: rounds differ by {100 * r['spread']:.0f} % (> 25 %); re-run on a quiet machine"
               if r.get("noisy") else "")
        )
    e = res.get("end_to_end")
    if e:
        sec = e["seconds"]
        lines.append(
            f"  end to end: {e['videos_per_s']:.3f} videos/s ({e['videos_per_min']:.1f}/min; decode "
            f"{sec['decode']:.2f} s, faces {sec['faces']:.2f} s, model {sec['model']:.2f} s; "
            f"{e['units']} {unit}s, {e['precision']})"
        )
    return lines


# -- detector lists ('all', 'all:test') ------------------------------------------------------------


def expand_detectors(names: Sequence[str]) -> list[str]:
    from .registry import get_registry

    out: list[str] = []
    for n in names:
        if n == "all":
            out += sorted(get_registry().detectors)  # each family's default variant
        elif n.startswith("all:"):
            variant = n.split(":", 1)[1]
            out += [
                f"{f}_{variant}"
                for f, s in sorted(get_registry().detectors.items())
                if variant in {v.name for v in s.variants}
            ]
        else:
            out.append(n)
    return list(dict.fromkeys(out))
