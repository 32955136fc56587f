"""Real HTTP servers on 127.0.0.1 that serve small files the way the Hugging Face Hub and the OpenMMLab zoo do.

Hub (what ``huggingface_hub.hf_hub_download`` asks of ``HF_ENDPOINT``):
- ``HEAD|GET /{org}/{name}/resolve/{revision}/{path}``
  - small (git) files: 200, ``ETag: "<git blob sha1>"``, ``X-Repo-Commit``, ``Content-Length``; GET has the body.
  - LFS files: 302 to the CDN origin (another port, so the client does not follow it on HEAD, as with the real
    CDN), with ``X-Linked-Etag: "<sha256>"``, ``X-Linked-Size``, ``X-Repo-Commit``, ``Location``.
  - absent file: 404 with ``X-Error-Code: EntryNotFound``; unknown repo: 404 ``X-Error-Code: RepoNotFound``.
CDN: ``GET /lfs/{sha256}`` and the zoo ``HEAD|GET /zoo/{archive}`` with ``Range`` support (206 + Content-Range).

Faults, to test recovery: ``drop_once`` (first GET of a path sends half the body, or ``drop_after[path]`` bytes,
then closes the connection),
``corrupt_once`` (first GET sends the same length with one byte flipped), ``corrupt_always``.
Every request is logged in ``requests`` as (server, method, path, Range header).
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "c0ffee" + "0" * 34
LFS_THRESHOLD = 10_000  # bytes: bigger files are "LFS" files


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def make_zip(onnx: bytes, folder: str = "20230504") -> bytes:
    """A zip shaped like the zoo's onnx_sdk archives: <folder>/end2end.onnx + the deploy json files."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{folder}/end2end.onnx", onnx)
        zf.writestr(f"{folder}/deploy.json", '{"version": "1.0"}')
        zf.writestr(f"{folder}/pipeline.json", '{"pipeline": {}}')
    return buf.getvalue()


@dataclass
class FakeServers:
    repos: dict[str, dict[str, bytes]] = field(default_factory=dict)  # repo_id -> {path: content}
    zoo: dict[str, bytes] = field(default_factory=dict)  # archive name -> zip bytes
    drop_once: set[str] = field(default_factory=set)  # request paths
    drop_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent before dropping (default: half)
    corrupt_once: set[str] = field(default_factory=set)
    corrupt_always: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    hub_url: str = ""
    cdn_url: str = ""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []

    def by_sha256(self) -> dict[str, bytes]:
        if getattr(self, "_by_sha", None) is None:
            self._by_sha = {hashlib.sha256(d).hexdigest(): d for files in self.repos.values() for d in files.values()}
        return self._by_sha

    # --- helpers for tests ---------------------------------------------------------------------------------------
    def lfs_path(self, repo_id: str, path: str) -> str:
        return "/lfs/" + hashlib.sha256(self.repos[repo_id][path]).hexdigest()

    def gets(self, path_prefix: str = "") -> list[tuple[str, str, str, str | None]]:
        return [r for r in self.requests if r[1] == "GET" and r[2].startswith(path_prefix)]

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- serving -------------------------------------------------------------------------------------------------
    def start(self) -> "FakeServers":
        for role in ("hub", "cdn"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(role))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self._servers.append(server)
            url = f"http://127.0.0.1:{server.server_address[1]}"
            setattr(self, f"{role}_url", url)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def _take(self, kind: set[str], path: str) -> bool:
        with self._lock:
            if path in kind:
                kind.discard(path)
                return True
            return False

    def _handler(self, role: str):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_HEAD(self):
                self._serve(head=True)

            def do_GET(self):
                self._serve(head=False)

            def _send(self, status: int, headers: dict[str, str], body: bytes = b"", head: bool = False):
                self.send_response(status)
                headers = {"Content-Length": str(len(body)), **headers}  # HEAD: the size the GET would send
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if not head and body:
                    self.wfile.write(body)

            def _serve(self, head: bool):
                path = self.path.split("?", 1)[0]
                with fake._lock:
                    fake.requests.append((role, "HEAD" if head else "GET", path, self.headers.get("Range")))
                if role == "hub":
                    return self._hub(path, head)
                m = re.fullmatch(r"/lfs/([0-9a-f]{64})", path)
                if m and m.group(1) in fake.by_sha256():
                    return self._body(path, fake.by_sha256()[m.group(1)], {"ETag": f'"{m.group(1)}"'}, head)
                m = re.fullmatch(r"/zoo/(.+)", path)
                if m and m.group(1) in fake.zoo:
                    return self._body(path, fake.zoo[m.group(1)], {"Content-Type": "application/zip"}, head)
                self._send(404, {}, b"not found", head)

            def _hub(self, path: str, head: bool):
                m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
                if not m:
                    return self._send(404, {"X-Error-Code": "RepoNotFound"}, b"", head)
                repo_id, _revision, file = m.groups()
                files = fake.repos.get(repo_id)
                if files is None:
                    return self._send(404, {"X-Error-Code": "RepoNotFound"}, b"", head)
                if file not in files:
                    return self._send(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT}, b"", head)
                data = files[file]
                if len(data) > LFS_THRESHOLD:
                    sha = hashlib.sha256(data).hexdigest()
                    return self._send(302, {
                        "Location": f"{fake.cdn_url}/lfs/{sha}",
                        "X-Linked-Etag": f'"{sha}"',
                        "X-Linked-Size": str(len(data)),
                        "X-Repo-Commit": COMMIT,
                        "ETag": f'"{git_sha1(data)[:20]}-lfs-pointer"',
                    }, b"", head)
                return self._body(path, data, {"ETag": f'"{git_sha1(data)}"', "X-Repo-Commit": COMMIT}, head)

            def _body(self, path: str, data: bytes, headers: dict[str, str], head: bool):
                if not head and (self._is(fake.corrupt_always, path, keep=True) or fake._take(fake.corrupt_once, path)):
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                start = 0
                rng = self.headers.get("Range")
                status = 200
                if rng and not head:
                    m = re.fullmatch(r"bytes=(\d+)-", rng.strip())
                    start = int(m.group(1)) if m else 0
                    if start >= len(data):
                        return self._send(416, {"Content-Range": f"bytes */{len(data)}"}, b"", head)
                    status = 206
                    headers = {**headers, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"}
                body = data[start:]
                headers = {**headers, "Accept-Ranges": "bytes", "Content-Length": str(len(body))}
                if not head and fake._take(fake.drop_once, path):
                    # Announce the whole body, send half, and hang up: what a dropped connection looks like.
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body[: fake.drop_after.get(path, len(body) // 2)])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self._send(status, headers, body, head)

            @staticmethod
            def _is(kind: set[str], path: str, keep: bool) -> bool:
                return path in kind

        return Handler
