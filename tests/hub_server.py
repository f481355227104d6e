"""A loopback stand-in for the three upstream protocols the full profile meets, started by a test on
127.0.0.1: the part of the Hugging Face Hub HTTP API that ``huggingface_hub`` (``dataset_info``,
``snapshot_download``) uses, plain file URLs, and GitHub's commits API.

Repositories are commits of {path: bytes} with branches pointing at them, as on the Hub: a test can
move a branch to a new commit, or change a file's bytes under an existing commit (what no Hub does,
and what a lock must catch).
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
# What the loopback serves in the tests that use it: Cosmos QA (a textual task whose Hub repository has
# no pinned commit), and full commits for the two GitHub short SHAs the FLORES and Tatoeba pins name.
REPO_ID = "allenai/cosmos_qa"
GITHUB = {"Helsinki-NLP/OPUS-MT-testsets@ac0f19c0": "ac0f19c0" + "1" * 32,
          "facebookresearch/LASER@74bc6ae7": "74bc6ae7" + "2" * 32}




class Hub:
    def __init__(self) -> None:
        self.commits: dict[str, dict[str, dict[str, bytes]]] = {}  # repo -> commit -> files
        self.refs: dict[str, dict[str, str]] = {}  # repo -> branch -> commit
        self.urls: dict[str, bytes] = {}  # /files/<host>/<path> (a URL mirrored: resolve.mirrored) -> bytes
        self.github: dict[str, str] = {}  # "<owner>/<name>@<short>" -> full sha
        self.requests: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` pointed at this server, online: ``huggingface_hub`` is offline when either
        HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is set (the test command exports both)."""
        env = {**base, "HF_ENDPOINT": self.url, "BENCHMARK_GITHUB_API": f"{self.url}/gh",
               "BENCHMARK_URL_MIRROR": f"{self.url}/files"}
        for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
            env.pop(name, None)
        return env

    def __enter__(self) -> Hub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def push(self, repo: str, files: dict[str, bytes], branch: str = "main", sha: str | None = None) -> str:
        """A new commit of ``files`` on ``branch`` (with id ``sha``: a commit a spec pins); returns its id."""
        sha = sha or hashlib.sha1(repr((repo, len(self.commits.get(repo, {})), sorted(files.items()))).encode()).hexdigest()
        self.commits.setdefault(repo, {})[sha] = dict(files)
        self.refs.setdefault(repo, {})[branch] = sha
        return sha

    def serve(self, url: str, data: bytes) -> None:
        """``url``'s bytes, on this server's mirror of it (``BENCHMARK_URL_MIRROR``)."""
        self.urls[url.partition("://")[2]] = data

    def tamper(self, repo: str, commit: str, path: str, data: bytes) -> None:
        self.commits[repo][commit][path] = data

    def _files(self, repo: str, rev: str) -> tuple[str, dict[str, bytes]] | None:
        sha = self.refs.get(repo, {}).get(rev, rev)
        files = self.commits.get(repo, {}).get(sha)
        return None if files is None else (sha, files)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None,
                      head: bool = False) -> None:
                self.send_response(code)
                for k, v in {"Content-Length": str(len(body)), **(headers or {})}.items():
                    self.send_header(k, v)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

            def _json(self, value: object) -> None:
                self._send(200, json.dumps(value).encode(), {"Content-Type": "application/json"})

            def _route(self, head: bool) -> None:
                path = unquote(urlparse(self.path).path)
                hub.requests.append(f"{self.command} {path}")
                parts = path.strip("/").split("/")
                if parts[:2] == ["api", "datasets"] and len(parts) >= 6 and parts[4] in ("revision", "tree"):
                    repo, rev = "/".join(parts[2:4]), parts[5]
                    found = hub._files(repo, rev)
                    if found is None:
                        return self._send(404, b"{}", {"X-Error-Code": "RevisionNotFound"})
                    sha, files = found
                    if parts[4] == "revision":
                        return self._json({"id": repo, "sha": sha, "private": False, "disabled": False,
                                           "gated": False, "siblings": [{"rfilename": p} for p in sorted(files)]})
                    prefix = "/".join(parts[6:])
                    return self._json([{"type": "file", "path": p, "size": len(b),
                                        "oid": hashlib.sha1(b).hexdigest()}
                                       for p, b in sorted(files.items()) if p.startswith(prefix)])
                if parts[:1] == ["datasets"] and len(parts) >= 6 and parts[3] == "resolve":
                    repo, rev, file = "/".join(parts[1:3]), parts[4], "/".join(parts[5:])
                    found = hub._files(repo, rev)
                    if found is None or file not in found[1]:
                        return self._send(404, b"", {"X-Error-Code": "EntryNotFound"}, head)
                    sha, data = found[0], found[1][file]
                    return self._send(200, data, {"X-Repo-Commit": sha, "ETag": f'"{hashlib.sha1(data).hexdigest()}"'},
                                      head)
                if parts[:1] == ["files"] and "/".join(parts[1:]) in hub.urls:
                    return self._send(200, hub.urls["/".join(parts[1:])], head=head)
                if parts[:2] == ["gh", "repos"] and len(parts) == 6 and parts[4] == "commits":
                    sha = hub.github.get(f"{parts[2]}/{parts[3]}@{parts[5]}")
                    return self._json({"sha": sha}) if sha else self._send(404)
                return self._send(404, head=head)

            def do_GET(self) -> None:  # noqa: N802
                self._route(head=False)

            def do_HEAD(self) -> None:  # noqa: N802
                self._route(head=True)

        return Handler


def _parquet(rows: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    rows.to_parquet(buf, index=False)
    return buf.getvalue()


def cosmos(start: int, stop: int) -> dict[str, bytes]:
    """Cosmos QA's parquet layout (data/<split>-00000-of-00001.parquet), real rows of its validation CSV."""
    rows = pd.read_csv(SHARED / "cosmosqa" / "valid.csv").iloc[start:stop].reset_index(drop=True)
    return {"README.md": b"---\nlicense: cc-by-4.0\n---\n",
            "data/train-00000-of-00001.parquet": _parquet(rows.iloc[:60]),
            "data/validation-00000-of-00001.parquet": _parquet(rows.iloc[60:])}
