"""A tiny in-memory Hugging Face Hub for tests: the part of the Hub HTTP API dfbench uses.

Nothing reaches huggingface.co from CI, and no self-hostable Hub accepts uploads offline, so the
tests run the *real* ``huggingface_hub`` client against this stdlib server (``HF_ENDPOINT``).
It speaks: repo creation, model-card YAML validation, preupload, the LFS batch API with basic single-part upload, NDJSON
commits, branches and tags, model info, and ``resolve`` downloads with the headers the client
reads (``X-Repo-Commit``, ``ETag``/``X-Linked-Etag``, ``X-Linked-Size``). State lives in memory;
``HubState.tamper`` lets a test replace a stored file's bytes behind the client's back, as a
compromised mirror would.

This is test code: the product (``dfbench.hub``) has no branch that knows about it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

# Files the real Hub stores through LFS by default (.gitattributes of a new model repo).
LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".onnx", ".msgpack")


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class _File:
    data: bytes
    lfs: bool

    @property
    def etag(self) -> str:
        return hashlib.sha256(self.data).hexdigest() if self.lfs else _git_blob_sha1(self.data)


@dataclass
class _Repo:
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag -> commit sha
    commits: dict[str, dict[str, _File]] = field(default_factory=dict)

    def resolve(self, rev: str) -> str | None:
        if rev in self.commits:
            return rev
        return self.refs.get(rev)


class HubState:
    """Repositories, LFS objects and a log of requests (for assertions and debugging)."""

    def __init__(self) -> None:
        self.repos: dict[str, _Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.log: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._n = 0

    def new_commit(self, repo: _Repo, files: dict[str, _File]) -> str:
        self._n += 1
        sha = hashlib.sha1(f"commit-{self._n}-{sorted(files)}".encode()).hexdigest()
        repo.commits[sha] = files
        return sha

    def tamper(self, repo_id: str, revision: str, path: str, data: bytes) -> None:
        """Replace a stored file's bytes in place (the commit and its metadata stay the same)."""
        repo = self.repos[repo_id]
        f = repo.commits[repo.resolve(revision)][path]
        f.data = data


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: HubState
    base_url: str

    def log_message(self, fmt, *args):  # keep pytest output clean
        pass

    # -- helpers -----------------------------------------------------------------------------
    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, code: int, payload=None, headers: dict | None = None, raw: bytes | None = None,
              head: bool = False) -> None:
        data = raw if raw is not None else (json.dumps(payload).encode() if payload is not None else b"")
        self.send_response(code)
        if raw is None:
            self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _error(self, code: int, msg: str, head: bool = False) -> None:
        self._send(code, {"error": msg}, headers={"X-Error-Message": msg}, head=head)

    # -- routing -----------------------------------------------------------------------------
    def do_HEAD(self):
        self._route("HEAD")

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_PUT(self):
        self._route("PUT")

    def _route(self, method: str) -> None:
        path = urlsplit(self.path).path
        with self.state.lock:
            self.state.log.append((method, path))
        parts = [unquote(p) for p in path.strip("/").split("/")]
        try:
            if method == "POST" and parts[:3] == ["api", "repos", "create"]:
                return self._create_repo()
            if method == "POST" and parts[:2] == ["api", "validate-yaml"]:
                return self._validate_yaml()
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                repo_id, rest = "/".join(parts[2:4]), parts[4:]
                if method == "POST" and rest[:1] == ["preupload"]:
                    return self._preupload(repo_id)
                if method == "POST" and rest[:1] == ["commit"]:
                    return self._commit(repo_id, "/".join(rest[1:]))
                if method == "POST" and rest[:1] == ["branch"]:
                    return self._create_ref(repo_id, "/".join(rest[1:]), branch=True)
                if method == "POST" and rest[:1] == ["tag"]:
                    return self._create_ref(repo_id, "/".join(rest[1:]), branch=False)
                if method == "GET" and (not rest or rest[:1] == ["revision"]):
                    return self._model_info(repo_id, "/".join(rest[1:]) or "main")
            if method == "POST" and len(parts) >= 5 and parts[1].endswith(".git") and parts[2:] == ["info", "lfs", "objects", "batch"]:
                return self._lfs_batch()
            if method == "PUT" and parts[:1] == ["lfs-upload"]:
                return self._lfs_upload(parts[1])
            if method in ("GET", "HEAD") and len(parts) >= 5 and parts[2] == "resolve":
                return self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]), head=method == "HEAD")
        except KeyError as e:
            return self._error(404, f"not found: {e}", head=method == "HEAD")
        self._error(404, f"unsupported route {method} {path}", head=method == "HEAD")

    # -- endpoints ---------------------------------------------------------------------------
    def _create_repo(self):
        body = json.loads(self._body() or b"{}")
        repo_id = f"{body.get('organization') or 'user'}/{body['name']}"
        with self.state.lock:
            if repo_id in self.state.repos:
                return self._error(409, "You already created this model repo")
            repo = _Repo()
            attrs = _File(b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n", lfs=False)
            repo.refs["main"] = self.state.new_commit(repo, {".gitattributes": attrs})
            self.state.repos[repo_id] = repo
        self._send(200, {"url": f"{self.base_url}/{repo_id}", "name": repo_id, "id": repo_id})

    def _validate_yaml(self):
        # The real Hub checks the card's YAML header; here: it must exist and be closed.
        content = json.loads(self._body() or b"{}").get("content", "")
        if content.startswith("---") and "\n---" in content[3:]:
            return self._send(200, {"errors": [], "warnings": []})
        self._send(400, {"errors": [{"message": "README.md has no closed YAML metadata header"}], "warnings": []})

    def _preupload(self, repo_id: str):
        self.state.repos[repo_id]  # 404 for unknown repos
        body = json.loads(self._body())
        files = [{"path": f["path"], "shouldIgnore": False,
                  "uploadMode": "lfs" if f["path"].endswith(LFS_SUFFIXES) or f["size"] > 10_000_000 else "regular"}
                 for f in body["files"]]
        self._send(200, {"files": files, "commitOid": None})

    def _lfs_batch(self):
        body = json.loads(self._body())
        objects = []
        for o in body["objects"]:
            entry = {"oid": o["oid"], "size": o["size"], "authenticated": True}
            if o["oid"] not in self.state.lfs:
                entry["actions"] = {"upload": {"href": f"{self.base_url}/lfs-upload/{o['oid']}"}}
            objects.append(entry)
        self._send(200, {"transfer": "basic", "objects": objects})

    def _lfs_upload(self, oid: str):
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            return self._error(400, "LFS object does not match its oid")
        with self.state.lock:
            self.state.lfs[oid] = data
        self._send(200, {})

    def _commit(self, repo_id: str, revision: str):
        repo = self.state.repos[repo_id]
        lines = [json.loads(x) for x in self._body().splitlines() if x.strip()]
        with self.state.lock:
            branch = revision or "main"
            parent = repo.resolve(branch)
            if parent is None:
                return self._error(404, f"Invalid rev id: {branch}")
            files = dict(repo.commits[parent])
            for line in lines:
                key, value = line["key"], line["value"]
                if key == "file":
                    files[value["path"]] = _File(base64.b64decode(value["content"]), lfs=False)
                elif key == "lfsFile":
                    if value["oid"] not in self.state.lfs:
                        return self._error(422, f"LFS object {value['oid']} was never uploaded")
                    files[value["path"]] = _File(self.state.lfs[value["oid"]], lfs=True)
                elif key in ("deletedFile", "deletedFolder"):
                    files = {p: f for p, f in files.items() if p != value["path"] and not p.startswith(value["path"].rstrip("/") + "/")}
            sha = self.state.new_commit(repo, files)
            repo.refs[branch] = sha
        self._send(200, {"commitUrl": f"{self.base_url}/{repo_id}/commit/{sha}", "commitOid": sha,
                         "pullRequestUrl": None, "success": True})

    def _create_ref(self, repo_id: str, name: str, branch: bool):
        repo = self.state.repos[repo_id]
        body = json.loads(self._body() or b"{}")
        with self.state.lock:
            if branch:
                start = repo.resolve(body.get("startingPoint") or "main")
                if name in repo.refs:
                    return self._error(409, f"branch {name} already exists")
                repo.refs[name] = start
            else:
                tag = body["tag"]
                if tag in repo.refs:
                    return self._error(409, f"tag {tag} already exists")
                repo.refs[tag] = repo.resolve(name or "main")
        self._send(200, {})

    def _model_info(self, repo_id: str, revision: str):
        repo = self.state.repos[repo_id]
        sha = repo.resolve(revision)
        if sha is None:
            return self._error(404, f"Invalid rev id: {revision}")
        files = repo.commits[sha]
        self._send(200, {"id": repo_id, "modelId": repo_id, "sha": sha, "private": False, "tags": [],
                         "siblings": [{"rfilename": p, "size": len(f.data)} for p, f in sorted(files.items())]})

    def _resolve(self, repo_id: str, revision: str, path: str, head: bool):
        repo = self.state.repos.get(repo_id)
        if repo is None:
            return self._send(404, {"error": "Repository not found"}, head=head,
                              headers={"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
        sha = repo.resolve(revision)
        if sha is None:
            return self._send(404, {"error": "Invalid rev id"}, head=head,
                              headers={"X-Error-Code": "RevisionNotFound", "X-Error-Message": f"Invalid rev id: {revision}"})
        f = repo.commits[sha].get(path)
        if f is None:
            return self._send(404, {"error": "Entry not found"}, head=head,
                              headers={"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found"})
        headers = {"X-Repo-Commit": sha, "ETag": f'"{f.etag}"', "Content-Type": "application/octet-stream"}
        if f.lfs:
            headers.update({"X-Linked-Etag": f'"{f.etag}"', "X-Linked-Size": str(len(f.data))})
        self._send(200, headers=headers, raw=f.data, head=head)


class LocalHub:
    """A running server: ``with LocalHub() as hub: os.environ["HF_ENDPOINT"] = hub.url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = HubState()
        handler = type("Handler", (_Handler,), {"state": self.state, "base_url": ""})
        self.server = ThreadingHTTPServer((host, port), handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        handler.base_url = self.url
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LocalHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":  # manual use: python tests/hub_server.py [PORT]
    import sys

    hub = LocalHub(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print(f"HF_ENDPOINT={hub.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        hub.stop()
