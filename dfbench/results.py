"""The files a run leaves behind, and how to read them back.

``results.json`` — everything that defines and summarises the number (schema below);
``predictions.parquet`` — one row per scored frame or clip (video_key, frame_index, label, method,
logit), enough to re-aggregate without media; ``predictions.partial.jsonl`` — the append-only
log that makes runs resumable (kept after the run for auditing).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from .fileio import atomic_write_bytes, atomic_write_json
from .metrics import frame_metrics, roc_points, video_metrics
from .specs import VideoItem

SCHEMA_VERSION = 1
PARTIAL_FILE = "predictions.partial.jsonl"
RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.parquet"


def read_partial(path: Path) -> dict[str, dict]:
    """Records already written, by video key. A torn last line (kill -9 mid-write) is cut off."""
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        with open(path, "r+b") as f:
            f.truncate(end)
    for line in data[:end].splitlines():
        if line.strip():
            rec = json.loads(line)
            done[rec["key"]] = rec
    return done


def _clean(obj: Any) -> Any:
    """JSON has no NaN: store undefined metrics as null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def finalize_run(out: Path, items: list[VideoItem], header: dict[str, Any], rule: str, seed: int = 0) -> dict[str, Any]:
    """Build ``predictions.parquet`` and ``results.json`` from the partial log, in index order."""
    import pandas as pd

    records = read_partial(out / PARTIAL_FILE)
    rows_key, rows_idx, rows_label, rows_method, rows_logit = [], [], [], [], []
    failures, per_method_keys = [], {}
    n_ok = {0: 0, 1: 0}
    for it in items:
        rec = records.get(it.key)
        if rec is None:
            continue
        if rec["status"] != "ok":
            failures.append({"key": it.key, "reason": rec["reason"], "kind": failure_kind(rec)})
            continue
        n_ok[it.label] += 1
        per_method_keys.setdefault(it.method, []).append(it.key)
        for fi, lg in zip(rec["frames"], rec["logits"], strict=True):
            rows_key.append(it.key)
            rows_idx.append(fi)
            rows_label.append(it.label)
            rows_method.append(it.method)
            rows_logit.append(lg)
    df = pd.DataFrame({"video_key": rows_key, "frame_index": np.asarray(rows_idx, dtype=np.int64),
                       "label": np.asarray(rows_label, dtype=np.int64), "method": rows_method,
                       "logit": np.asarray(rows_logit, dtype=np.float64)})
    tmp = out / f".{PREDICTIONS_FILE}.tmp"
    df.to_parquet(tmp, index=False)
    atomic_write_bytes(out / PREDICTIONS_FILE, tmp.read_bytes())
    tmp.unlink()

    metrics: dict[str, Any] = {"frame": {}, "video": {}}
    if len(df):
        metrics["frame"] = frame_metrics(df["label"], df["logit"], bootstrap=0)
        from .clusters import identity_clusters, item_identities

        # Resample identities, not videos, where the dataset defines them (FF++, Celeb-DF, DFD).
        found = identity_clusters(header["dataset"]["id"], [it.key for it in items], item_identities(items))
        clusters, cluster_info = found if found else (None, None)
        metrics["video"] = video_metrics(df["video_key"], df["label"], df["logit"], rule=rule, seed=seed,
                                         clusters=clusters)
        if cluster_info:
            metrics["video"]["bootstrap"].update(cluster_info)
        from .metrics import aggregate_videos

        _, vlab, vs = aggregate_videos(df["video_key"], df["label"], df["logit"], rule)
        if (vlab == 0).any() and (vlab == 1).any():
            metrics["video"]["roc"] = roc_points(vlab, vs)
        from .reporting import threshold_report, write_confusion_pngs

        # Precision/recall/F1 at 0.5, at a validation threshold, and the labelled oracle ones.
        metrics["video"]["thresholds"] = threshold_report(vlab, vs, (header.get("protocol") or {}).get("threshold"))
        header = {**header, "plots": write_confusion_pngs(out, metrics["video"]["thresholds"])}
    per_method = _per_method(df, rule, seed, clusters if len(df) else None)
    counts = {
        "videos": len(items),
        "videos_real": sum(1 for it in items if it.label == 0),
        "videos_fake": sum(1 for it in items if it.label == 1),
        "videos_scored": n_ok[0] + n_ok[1],
        "videos_scored_real": n_ok[0],
        "videos_scored_fake": n_ok[1],
        "videos_failed": len(failures),
        "frames": int(len(df)),
        "missing_face_frames": int(sum(r.get("missing_faces", 0) for r in records.values() if r["status"] == "ok")),
        "missing_face": missing_face_counts(records, items, (header.get("protocol") or {}).get("missing_face")),
    }
    result = dict(header)
    result.update({"metrics": metrics, "per_method": per_method, "counts": counts, "failures": failures,
                   "failure_reasons": _reason_counts(failures)})
    result = _clean(result)
    atomic_write_json(out / RESULTS_FILE, result)
    return result


def _per_method(df, rule: str, seed: int, clusters=None) -> dict[str, Any]:
    """Each fake method against all reals (the FF++ per-manipulation protocol), each row with its
    own CIs (same bootstrap unit as the whole run)."""
    import pandas as pd

    out: dict[str, Any] = {}
    if not len(df):
        return out
    real = df[df["label"] == 0]
    for method in sorted(df.loc[df["label"] == 1, "method"].unique()):
        sub = df[(df["label"] == 1) & (df["method"] == method)]
        both = pd.concat([real, sub])
        vm = video_metrics(both["video_key"], both["label"], both["logit"], rule=rule, seed=seed, bootstrap=200,
                           clusters=clusters)
        out[method] = {k: vm[k] for k in ("auc", "ap", "eer", "auc_ci95", "ap_ci95", "n_real", "n_fake") if k in vm}
        if "bootstrap" in vm:
            out[method]["bootstrap_unit"] = vm["bootstrap"]["unit"]
    return out


def failure_kind(rec: dict[str, Any]) -> str:
    """The bucket of a failure: its recorded kind, else the reason's prefix when that is not a path
    (decode errors start with the file's path, which would make one bucket per file)."""
    if rec.get("kind"):
        return rec["kind"]
    reason = rec.get("reason", "")
    if reason.startswith("no face"):
        return "no face"
    head = reason.split(":")[0]
    if "/" in head or "\\" in head:
        return "decode error"
    return head or "error"


def _reason_counts(failures: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for f in failures:
        reason = f.get("kind") or failure_kind(f)
        counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items()))


def missing_face_counts(records: dict[str, dict], items: list[VideoItem], policy: str | None) -> dict[str, Any]:
    """How many frames, units and videos the missing-face policy touched, and how."""
    keys = {it.key for it in items}
    ok = [r for k, r in records.items() if k in keys and r["status"] == "ok"]
    failed = [r for k, r in records.items() if k in keys and r["status"] != "ok"]
    units_missing = sum(int(r.get("units_without_face", 0)) for r in ok)
    # skip_half scores only faceless videos' units 0.5 and drops the faceless units of the others.
    units_half = {"score_half": units_missing,
                  "skip_half": sum(int(r.get("units_without_face", 0)) for r in ok if r.get("faceless"))}.get(policy, 0)
    return {
        "policy": policy,
        "frames_without_face": int(sum(r.get("missing_faces", 0) for r in ok)),
        "units_scored_half": units_half,
        "units_dropped": units_missing - units_half if policy in ("skip", "skip_half") else 0,
        "videos_with_missing_faces": sum(1 for r in ok if r.get("missing_faces", 0)),
        "videos_faceless_scored_half": sum(1 for r in ok if r.get("faceless")),
        "videos_failed_no_face": sum(1 for r in failed if failure_kind(r) == "no face"),
    }


def missing_face_line(c: dict[str, Any]) -> str | None:
    """One summary line saying what the missing-face policy did (None when it did nothing)."""
    mf = c.get("missing_face") or {}
    if not mf or not (mf.get("frames_without_face") or mf.get("videos_failed_no_face")
                      or mf.get("videos_faceless_scored_half")):
        return None
    parts = [f"{mf['frames_without_face']} frames without a face in {mf['videos_with_missing_faces']} scored videos"]
    if mf.get("units_scored_half"):
        parts.append(f"{mf['units_scored_half']} units scored 0.5")
    if mf.get("units_dropped"):
        parts.append(f"{mf['units_dropped']} units dropped")
    if mf.get("videos_faceless_scored_half"):
        parts.append(f"{mf['videos_faceless_scored_half']} videos with no face scored 0.5")
    if mf.get("videos_failed_no_face"):
        parts.append(f"{mf['videos_failed_no_face']} videos with no face failed")
    return f"faces     policy {mf.get('policy')}: " + ", ".join(parts)


def load_results(run_dir: str | Path) -> dict[str, Any]:
    p = Path(run_dir)
    p = p / RESULTS_FILE if p.is_dir() else p
    if not p.exists():
        from .errors import DfbenchError

        partial = p.parent / PARTIAL_FILE
        if partial.exists():
            n_done = len(read_partial(partial))
            try:
                total = json.loads((p.parent / "protocol.json").read_text()).get("videos")
            except (OSError, ValueError):
                total = None
            of = f" of {total}" if total is not None else ""
            raise DfbenchError(f"{run_dir} is an unfinished run: {n_done}{of} videos done, no {RESULTS_FILE} yet. "
                               f"Re-running the same `dfbench run` command with --output {run_dir} resumes it.")
        raise DfbenchError(f"no {RESULTS_FILE} in {run_dir}: pass the --output directory of a finished `dfbench run`.")
    return json.loads(p.read_text())


def load_predictions(run_dir: str | Path):
    import pandas as pd

    return pd.read_parquet(Path(run_dir) / PREDICTIONS_FILE)


def fmt_ci(value: float | None, ci: list | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if not ci or ci[0] is None:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def summary_lines(result: dict[str, Any]) -> list[str]:
    """Human summary of a results.json, used by ``dfbench run`` and ``dfbench results show``."""
    v, f = result["metrics"].get("video", {}), result["metrics"].get("frame", {})
    c, t = result["counts"], result.get("throughput", {})
    det = result["detector"]
    trained = "" if det.get("trained", True) else "  (UNTRAINED weights, --allow-untrained: numbers are meaningless)"
    lines = [
        f"detector  {det['id']}  weights {det.get('weights_tag') or det.get('weights_source') or 'none'}{trained}",
        f"dataset   {result['dataset']['id']}/{result['dataset']['split']}"
        + (f"  corruption {result['corruption']['name']}:{result['corruption']['level']}" if result.get("corruption") else ""),
        f"protocol  {result['protocol_hash']}  ({result['protocol']['aggregation']}, flip_test={result['protocol']['flip_test']}, "
        f"missing_face={result['protocol']['missing_face']}, {result['protocol']['precision']})",
        f"videos    {c['videos_scored']} scored ({c['videos_scored_real']} real, {c['videos_scored_fake']} fake), "
        f"{c['videos_failed']} failed, {c['frames']} {result['protocol']['frames']['unit']}s",
        f"video     AUC {fmt_ci(v.get('auc'), v.get('auc_ci95'))}  AP {fmt_ci(v.get('ap'), v.get('ap_ci95'))}  "
        f"EER {fmt_ci(v.get('eer'), None)}  ACC {fmt_ci(v.get('acc'), None)}",
        f"frame     AUC {fmt_ci(f.get('auc'), None)}  AP {fmt_ci(f.get('ap'), None)}  EER {fmt_ci(f.get('eer'), None)}",
    ]
    mf_line = missing_face_line(c)
    if mf_line:
        lines.append(mf_line)
    from .media.recipes import crop_summary

    crops = crop_summary((result["protocol"].get("cropper") or {}).get("recipe"))
    if crops:
        lines.append(f"crops     {crops}")
    if t.get("videos_per_s"):
        mfs = t.get("model_frames_per_s")
        lines.append(f"speed     {t['videos_per_s']:.2f} videos/s, model {mfs:.1f} {t.get('unit', 'frame')}s/s, "
                     f"peak RSS {t.get('peak_rss_mb')} MB" if mfs else f"speed     {t['videos_per_s']:.2f} videos/s")
    from .reporting import threshold_lines

    lines += threshold_lines(v.get("thresholds"))
    pc = (result.get("env") or {}).get("precision_choice") or {}
    if pc.get("mode") == "auto":
        cfg = pc["precision"] + (" + channels_last" if pc.get("channels_last") else "")
        if pc.get("backend", "torch") != "torch":
            cfg = f"{pc['backend']} {cfg}"
        lines.append(f"precision {cfg} (auto on {pc.get('device')}: max |logit - fp32| "
                     f"{pc.get('max_abs_logit_dev') or 0.0:.4f} <= {pc.get('tolerance')} on a calibration batch)")
    for m, pm in result.get("per_method", {}).items():
        if len(result["per_method"]) > 1:
            lines.append(f"  {m:<16} AUC {fmt_ci(pm.get('auc'), pm.get('auc_ci95'))}  ({pm['n_fake']} fake)")
    if result.get("failures"):
        reasons = result.get("failure_reasons") or {}
        lines.append("failures: " + ", ".join(f"{n} {k}" for k, n in reasons.items()) if reasons else "failures:")
        lines += [f"  {x['key']}: {x['reason']}" for x in result["failures"][:20]]
        if len(result["failures"]) > 20:
            lines.append(f"  … and {len(result['failures']) - 20} more (see results.json)")
    return lines
