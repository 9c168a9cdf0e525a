"""``dfbench hub push|pull``: Hugging Face Hub weights (:mod:`dfbench.hub`) on the command line."""

from __future__ import annotations

import click


@click.group("hub")
def hub_cli() -> None:
    """Publish and fetch weights on the Hugging Face Hub (pinned revision + sha256)."""


@hub_cli.command("push")
@click.option("--detector", "-d", required=True, help="Detector id the weights belong to, e.g. laanet_efnb4.sbi.")
@click.option("--weights", "-w", "weights_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="Directory with model.safetensors (+ config.json).")
@click.option("--repo-id", required=True, help="ORG/NAME on the Hub.")
@click.option("--results", "results_json", multiple=True, type=click.Path(exists=True),
              help="results.json (or run directory) to put in the model card; repeatable.")
@click.option("--branch", default="main", show_default=True)
@click.option("--tag", help="Tag the new commit, e.g. v1.")
@click.option("--private", is_flag=True)
@click.option("--message", help="Commit message.")
def push(detector, weights_dir, repo_id, results_json, branch, tag, private, message):
    """Upload weights, config.json (with the preprocessing contract) and a model card."""
    from ..hub import push_weights

    res = push_weights(detector, weights_dir, repo_id, list(results_json), branch=branch, tag=tag,
                       private=private, commit_message=message)
    click.echo(f"pushed {repo_id} commit {res.commit} (model.safetensors sha256 {res.sha256})")
    click.echo(f"use: --weights {res.source}")


@hub_cli.command("pull")
@click.argument("source")
@click.option("--sha256", help="Expected sha256 of model.safetensors (default: the repository's pin).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Hub cache (default: HF_HUB_CACHE).")
def pull(source, sha256, cache_dir):
    """Fetch and verify hf://ORG/NAME@REVISION into the Hub cache; print the local directory."""
    from ..hub import download_weights

    path = download_weights(source, sha256, cache_dir=cache_dir)
    click.echo(str(path))

