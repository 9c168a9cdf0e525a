"""Weights on the Hugging Face Hub: push with a model card, pull with a pinned revision and sha256.

Dead download links and unverifiable checkpoints are the field's most common reproducibility
complaint, so a dfbench weights repository is self-describing and verifiable:

- ``model.safetensors`` (never a pickle),
- ``config.json``: architecture and variant *and* the preprocessing contract (cropper and its
  settings, input size, colour, normalisation, frames per video, aggregation rule, flip test) and
  the sha256 of ``model.safetensors``,
- ``README.md``: a model card (training data and protocol, checkpoint-selection rule, licences of
  code and of training data, intended use and limits) whose YAML header carries the evaluation
  results of dfbench ``results.json`` files as ``model-index`` metadata.

``hf://ORG/NAME@REVISION`` sources are fetched through ``huggingface_hub`` (its cache,
``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` apply as usual); the revision must be given, and the file's
sha256 is checked against the detector spec's pin, else the repository's ``config.json`` or model
card. A mismatch refuses to load.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .errors import WeightsError

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"
_HF_RE = re.compile(r"^hf://(?P<repo>[A-Za-z0-9][\w.\-]*/[\w.\-]+)(?:@(?P<rev>[^\s@]+))?$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class HubRef:
    """A parsed ``hf://ORG/NAME@REVISION``."""

    repo_id: str
    revision: str

    @property
    def source(self) -> str:
        return f"hf://{self.repo_id}@{self.revision}"

    @property
    def is_commit(self) -> bool:
        return bool(_COMMIT_RE.match(self.revision))


def parse_hf_source(source: str) -> HubRef:
    """``hf://org/name@revision`` -> :class:`HubRef`; a missing revision is an error.

    An unpinned reference would silently change when the repository's ``main`` moves, which is
    exactly how published numbers stop being reproducible.
    """
    m = _HF_RE.match(source.strip())
    if not m:
        raise WeightsError(f"not a Hub weights reference: {source!r}; expected hf://ORG/NAME@REVISION")
    if not m.group("rev"):
        raise WeightsError(
            f"{source!r} has no revision: pin one, e.g. {source}@<commit sha> (or a tag). "
            f"`dfbench hub push` prints the commit to pin."
        )
    return HubRef(m.group("repo"), m.group("rev"))


# -- download ---------------------------------------------------------------------------------

def download_weights(source: str, expected_sha256: str | None = None, *, cache_dir: str | Path | None = None,
                     token: str | None = None) -> Path:
    """Fetch ``model.safetensors`` (+ ``config.json`` and the card) of ``hf://ORG/NAME@REV``.

    Returns the snapshot directory in the Hub cache (``read_weights_dir`` reads it directly).
    The sha256 of ``model.safetensors`` must equal ``expected_sha256`` (the spec's pin) when
    given, and the pin in the repository's ``config.json``/card otherwise; a file with no pin at
    all is refused too, since nothing could then detect a swapped file.
    """
    ref = parse_hf_source(source)
    if not ref.is_commit:
        log.info("%s: revision %r is a branch or tag, not a commit; pin the commit for reproducibility",
                 source, ref.revision)
    wfile = _hub_file(ref, WEIGHTS_FILE, cache_dir, token, required=True)
    cfg_file = _hub_file(ref, CONFIG_FILE, cache_dir, token, required=False)
    card_file = _hub_file(ref, CARD_FILE, cache_dir, token, required=False)
    pins = _pins(expected_sha256, cfg_file, card_file)
    if not pins:
        raise WeightsError(
            f"{source}: no sha256 pin for {WEIGHTS_FILE} (not in the detector spec, config.json or the model "
            f"card); refusing to load unverifiable weights. Add 'sha256' to the repository's config.json "
            f"(`dfbench hub push` does) or to the detector's WeightsSpec."
        )
    got = _sha256(wfile)
    for origin, want in pins:
        if got != want:
            raise WeightsError(
                f"sha256 mismatch for {source} ({WEIGHTS_FILE}): {origin} pins {want}, the file is {got}. "
                f"The file was changed or corrupted; refusing to load it. If the cached copy is damaged, "
                f"delete {Path(wfile).resolve()} and pull again; if the repository changed, pin the new "
                f"revision and checksum deliberately."
            )
    log.info("%s verified (sha256 %s, pinned by %s)", source, got[:12], ", ".join(o for o, _ in pins))
    return Path(wfile).parent


def _hub_file(ref: HubRef, filename: str, cache_dir, token, required: bool) -> str | None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return hf_hub_download(ref.repo_id, filename, revision=ref.revision,
                               cache_dir=str(cache_dir) if cache_dir else None, token=token)
    except RepositoryNotFoundError:
        raise WeightsError(f"{ref.source}: repository {ref.repo_id!r} not found on the Hub (or it is private: "
                           f"log in with `hf auth login` or set HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise WeightsError(f"{ref.source}: revision {ref.revision!r} does not exist in {ref.repo_id}") from None
    except LocalEntryNotFoundError:
        if not required:
            return None
        raise WeightsError(
            f"{ref.source}: {filename} is not in the Hub cache and the Hub is unreachable or offline mode is on "
            f"(HF_HUB_OFFLINE=1). Fetch it once online with `dfbench hub pull {ref.source}`, or pass a local "
            f"--weights DIR."
        ) from None
    except EntryNotFoundError:
        if not required:
            return None
        raise WeightsError(f"{ref.source}: the repository has no {filename}; it is not a dfbench weights "
                           f"repository (push one with `dfbench hub push`)") from None
    except HfHubHTTPError as e:
        raise WeightsError(f"{ref.source}: the Hub refused the download ({e}); check HF_ENDPOINT/HF_TOKEN") from None


def _pins(expected: str | None, cfg_file: str | None, card_file: str | None) -> list[tuple[str, str]]:
    pins: list[tuple[str, str]] = []
    if expected:
        pins.append(("the detector spec", expected.lower()))
    if cfg_file:
        try:
            sha = json.loads(Path(cfg_file).read_text()).get("sha256")
        except (OSError, json.JSONDecodeError) as e:
            raise WeightsError(f"unreadable {CONFIG_FILE} at {cfg_file}: {e}") from None
        if sha:
            pins.append((CONFIG_FILE, str(sha).lower()))
    if card_file and len(pins) < 2:
        sha = (card_metadata(Path(card_file).read_text()).get("dfbench") or {}).get("sha256")
        if sha:
            pins.append(("the model card", str(sha).lower()))
    return pins


def _sha256(path: str | Path) -> str:
    from .fileio import sha256_file

    return sha256_file(path)


# -- push -------------------------------------------------------------------------------------

def hub_config(detector_id: str, weights_dir: str | Path, registry=None) -> dict[str, Any]:
    """The ``config.json`` pushed with the weights: architecture, weights provenance, preprocessing."""
    from .registry import get_registry

    reg = registry or get_registry()
    resolved = reg.resolve_detector(detector_id)
    wdir = Path(weights_dir)
    wfile = wdir / WEIGHTS_FILE
    if not wfile.exists():
        raise WeightsError(f"no {WEIGHTS_FILE} in {wdir}; write one with save_weights, a training command "
                           f"or `dfbench convert`")
    from .weights import check_architecture, read_config

    local = read_config(wdir / CONFIG_FILE) if (wdir / CONFIG_FILE).exists() else {}
    sha = _sha256(wfile)
    if local.get("sha256") and local["sha256"] != sha:
        raise WeightsError(f"{wfile} does not match the sha256 in {wdir / CONFIG_FILE} "
                           f"({local['sha256']} vs {sha}); refusing to publish a changed or corrupted file")
    # Family first, then variant, with only suggestions that exist (as when loading).
    check_architecture(local, resolved.spec.name, resolved.variant.name, str(wdir), reg.detector_ids())
    inp = resolved.variant.input
    cropper_defaults: dict[str, Any] = {}
    try:
        cropper_defaults = dict(reg.cropper(inp.cropper).defaults)
    except Exception:  # a cropper from an uninstalled plugin: record the detector's own settings
        log.warning("cropper %r is not installed; recording only the detector's crop settings", inp.cropper)
    w = resolved.weights
    config = {
        **{k: v for k, v in local.items() if k not in ("input",)},
        "dfbench_format": local.get("dfbench_format", 1),
        "detector_id": resolved.id,
        "detector": resolved.spec.name,
        "variant": resolved.variant.name,
        "model_config": dict(local.get("model_config") or resolved.variant.config),
        "input": inp.to_dict(),
        "preprocessing": {
            "cropper": inp.cropper,
            "crop_settings": {**cropper_defaults, **dict(inp.crop_settings)},
            "input_size": inp.size,
            "colour": inp.colour,
            "unit": inp.unit,
            "clip_length": inp.clip_length,
            "normalisation": {"mean": list(inp.mean), "std": list(inp.std), "applied": "inside the model"},
            "frames_per_video": inp.frames_per_video,
            "aggregation": inp.aggregation,
            "flip_test": inp.flip_test,
        },
        "weights": {"tag": w.tag if w else local.get("tag"),
                    "trained_on": (w.trained_on if w else "") or local.get("trained_on", ""),
                    "selection": (w.selection if w else "") or local.get("selection", ""),
                    "license": (w.license if w else "") or local.get("license", "")},
        "sha256": sha,
        "dfbench_version": __version__,
    }
    return config


def model_card(config: dict[str, Any], results: list[dict[str, Any]] = (), registry=None) -> str:
    """A model card (``README.md``) with ``model-index`` metadata from dfbench results."""
    import yaml

    from .registry import get_registry

    reg = registry or get_registry()
    spec = reg.detectors.get(config["detector"])
    w = config.get("weights") or {}
    det_id = config.get("detector_id") or config["detector"]
    meta: dict[str, Any] = {
        "library_name": "dfbench",
        "tags": ["deepfake-detection", "dfbench", config["detector"]],
        "license": _hf_license(w.get("license") or (spec.license if spec else "")),
        "dfbench": {"detector_id": det_id, "variant": config["variant"], "sha256": config["sha256"],
                    "format": config.get("dfbench_format", 1)},
    }
    if results:
        meta["model-index"] = [{"name": det_id, "results": [_model_index_entry(r) for r in results]}]
    pre = config["preprocessing"]
    lines = [
        "---", yaml.safe_dump(meta, sort_keys=False, allow_unicode=True).rstrip(), "---", "",
        f"# {det_id}", "",
        (spec.description if spec and spec.description else f"{config['detector']} deepfake detector") + ".",
        "",
    ]
    if spec and spec.paper:
        lines += [f"Paper: {spec.paper}" + (f" — {spec.url}" if spec.url else ""), ""]
    lines += [
        "## Use with dfbench", "",
        "```bash",
        f"dfbench run --detector {_base_id(det_id)} --weights hf://ORG/NAME@<commit> --dataset cdf",
        "```", "",
        "The revision must be pinned; dfbench checks the sha256 of `model.safetensors` against "
        f"`{config['sha256']}` and refuses a mismatch.", "",
        "## Training data and protocol", "",
        f"- Trained on: {w.get('trained_on') or 'not stated'}",
        f"- Checkpoint selection: {w.get('selection') or 'not stated'}",
        f"- Variant: `{config['variant']}`, model config `{json.dumps(config.get('model_config', {}), sort_keys=True)}`",
        "",
        "## Preprocessing contract", "",
        f"- Face cropper `{pre['cropper']}` with settings `{json.dumps(pre['crop_settings'], sort_keys=True)}`",
        f"- Input: {pre['unit']} of {pre['input_size']}×{pre['input_size']} {pre['colour']}"
        + (f", clips of {pre['clip_length']} frames" if pre["unit"] == "clip" else ""),
        f"- Normalisation (inside the model): mean {pre['normalisation']['mean']}, std {pre['normalisation']['std']}",
        f"- Frames per video: {pre['frames_per_video']}; video score: {pre['aggregation']}; flip test: {pre['flip_test']}",
        "",
        "## Licences", "",
        f"- Code: {spec.license if spec and spec.license else 'see the plugin'}",
        f"- Weights and training data: {w.get('license') or 'not stated; check the training data terms before use'}",
        "",
        "## Intended use and limits", "",
        "Research on deepfake detection and benchmarking. Scores are not evidence about a real person: "
        "detectors fail on unseen manipulation methods, heavy compression and unusual faces, and the "
        "numbers below hold only under the stated protocol.",
        "",
    ]
    if results:
        lines += ["## Evaluation results (dfbench)", "",
                  "| dataset | split | corruption | video AUC [95% CI] | video AP | EER | videos (real/fake) | protocol |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in results:
            v, c = r["metrics"].get("video", {}), r.get("counts", {})
            corr = r.get("corruption")
            lines.append(
                f"| {r['dataset']['id']} | {r['dataset']['split']} | "
                f"{corr['name'] + ':' + str(corr['level']) if corr else '—'} | {_fmt_ci(v.get('auc'), v.get('auc_ci95'))} | "
                f"{_fmt(v.get('ap'))} | {_fmt(v.get('eer'))} | {c.get('videos_scored_real', '?')}/{c.get('videos_scored_fake', '?')} | "
                f"`{r.get('protocol_hash', '')[:12]}` |")
        lines.append("")
    return "\n".join(lines)


def _model_index_entry(r: dict[str, Any]) -> dict[str, Any]:
    v, f = r["metrics"].get("video", {}), r["metrics"].get("frame", {})
    metrics = []
    for level, block in (("video", v), ("frame", f)):
        for key, typ in (("auc", "roc_auc"), ("ap", "average_precision"), ("eer", "eer"), ("acc", "accuracy")):
            if block.get(key) is not None:
                metrics.append({"type": typ, "name": f"{level} {key.upper()}", "value": round(float(block[key]), 6),
                                "verified": False})
    ds = r["dataset"]
    corr = r.get("corruption")
    entry = {"task": {"type": "video-classification", "name": "Deepfake detection"},
             "dataset": {"type": ds["id"], "name": ds["id"], "split": ds["split"]},
             "metrics": metrics,
             "source": {"name": "dfbench", "url": "https://github.com/dfbench/dfbench"}}
    if corr:
        entry["dataset"]["config"] = f"{corr['name']}:{corr['level']}"
    entry["dataset"]["args"] = {"protocol_hash": r.get("protocol_hash")}
    return entry


def card_metadata(text: str) -> dict[str, Any]:
    """The YAML header of a model card (empty when there is none)."""
    import yaml

    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    if end < 0:
        return {}
    try:
        meta = yaml.safe_load(text[3:end])
    except yaml.YAMLError:
        return {}
    return meta if isinstance(meta, dict) else {}


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    revision: str
    commit: str
    sha256: str

    @property
    def source(self) -> str:
        """The pinned reference to use with ``--weights``."""
        return f"hf://{self.repo_id}@{self.commit}"


def push_weights(detector_id: str, weights_dir: str | Path, repo_id: str,
                 results_json: str | Path | list[str | Path] | None = None, *, branch: str = "main",
                 tag: str | None = None, private: bool = False, commit_message: str | None = None,
                 token: str | None = None, registry=None) -> PushResult:
    """Upload ``model.safetensors``, ``config.json`` and a model card to ``repo_id``.

    Creates the repository (and ``branch``) when missing; ``tag`` tags the new commit. Returns the
    commit, which is what users should pin (``hf://repo_id@commit``).
    """
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from .results import load_results

    config = hub_config(detector_id, weights_dir, registry)
    paths = [results_json] if isinstance(results_json, (str, Path)) else list(results_json or [])
    results = [load_results(p) for p in paths]
    for r in results:
        sha = r.get("detector", {}).get("weights_sha256")
        if sha and sha != config["sha256"]:
            raise WeightsError(f"results for {r['dataset']['id']} were measured with weights {sha[:12]}…, not the "
                               f"pushed file {config['sha256'][:12]}…; the model card would misreport them")
    card = model_card(config, results, registry)
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        if branch != "main":
            api.create_branch(repo_id, branch=branch, exist_ok=True)
        ops = [CommitOperationAdd(WEIGHTS_FILE, str(Path(weights_dir) / WEIGHTS_FILE)),
               CommitOperationAdd(CONFIG_FILE, (json.dumps(config, indent=2, sort_keys=True) + "\n").encode()),
               CommitOperationAdd(CARD_FILE, card.encode())]
        info = api.create_commit(repo_id, ops, revision=branch,
                                 commit_message=commit_message or f"dfbench: {config['detector_id']} weights")
        if tag:
            api.create_tag(repo_id, tag=tag, revision=info.oid)
    except HfHubHTTPError as e:
        raise WeightsError(f"pushing to {repo_id} failed: {e}. Check `hf auth login`/HF_TOKEN and HF_ENDPOINT.") from None
    log.info("pushed %s to %s@%s", config["detector_id"], repo_id, info.oid)
    return PushResult(repo_id, branch, info.oid, config["sha256"])


# -- helpers ----------------------------------------------------------------------------------

def _base_id(det_id: str) -> str:
    from .ids import split_tag

    return split_tag(det_id)[0]


_HF_LICENSES = {"mit": "mit", "apache-2.0": "apache-2.0", "cc-by-nc-4.0": "cc-by-nc-4.0", "cc-by-4.0": "cc-by-4.0",
                "bsd-3-clause": "bsd-3-clause", "gpl-3.0": "gpl-3.0"}


def _hf_license(text: str) -> str:
    """The Hub's licence identifier; anything unrecognised (e.g. academic-only) is ``other``."""
    return _HF_LICENSES.get((text or "").strip().lower(), "other")


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def _fmt_ci(x: float | None, ci) -> str:
    if x is None:
        return "n/a"
    if ci and ci[0] is not None:
        return f"{x:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{x:.3f}"
