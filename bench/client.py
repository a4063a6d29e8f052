"""A lean OCI Distribution client on ``http.client``: keep-alive connections, bodies sent from
memoryviews without copies, downloads read into one reused buffer, so that the client is not what
a benchmark measures.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

MiB = 1024 * 1024
BASE_BLOCK = 16 * MiB
MANIFEST_ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


class HttpError(Exception):
    """A registry answered with an unexpected status; the message names the request precisely."""

    def __init__(self, server: str, method: str, path: str, status: int, body: bytes) -> None:
        self.status = status
        text = body[:400].decode(errors="replace")
        super().__init__(f"{server}: {method} {path.split('?')[0]} -> HTTP {status}: {text}")


_random_block: bytes | None = None


def random_block() -> memoryview:
    """16 MiB of random bytes, generated once; big blobs repeat it after a unique head."""
    global _random_block
    if _random_block is None:
        _random_block = os.urandom(BASE_BLOCK)
    return memoryview(_random_block)


@dataclass
class BlobData:
    """``size`` bytes of unique content, produced in chunks (never held whole in memory)."""

    size: int
    token: bytes
    chunk: int = BASE_BLOCK
    _digest: str | None = None

    def chunks(self) -> Iterator[memoryview]:
        block = random_block()
        remaining, first = self.size, True
        while remaining > 0:
            n = min(self.chunk, remaining, len(block))
            if first:
                head = bytearray(block[:n])
                head[: len(self.token)] = self.token[:n]
                yield memoryview(head)
                first = False
            else:
                yield block[:n]
            remaining -= n

    @property
    def digest(self) -> str:
        if self._digest is None:
            hasher = hashlib.sha256()
            for chunk in self.chunks():
                hasher.update(chunk)
            self._digest = "sha256:" + hasher.hexdigest()
        return self._digest


def unique_token(label: str) -> bytes:
    return f"{label}:{os.urandom(16).hex()}:".encode()


class Client:
    """One keep-alive connection to one server (plus one per host that blob GETs redirect to)."""

    def __init__(self, name: str, host: str, port: int, auth: str | None = None,
                 timeout: float = 600.0) -> None:
        self.name, self.host, self.port, self.timeout = name, host, port, timeout
        self.auth = auth
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.buffer = bytearray(MiB)
        self.redirected: dict[tuple[str, int], Client] = {}  # keep-alive to redirect targets
        self.redirects = 0  # GETs answered with a redirect (and followed)

    def close(self) -> None:
        self.conn.close()
        for other in self.redirected.values():
            other.close()

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": self.auth} if self.auth else {}
        if extra:
            headers.update(extra)
        return headers

    def _send(self, method: str, path: str, headers: dict[str, str],
              body: Iterable[memoryview | bytes] | bytes | None, chunked: bool) -> None:
        conn = self.conn
        if conn.sock is None:
            conn.connect()
        conn.putrequest(method, path, skip_accept_encoding=True)
        for key, value in headers.items():
            conn.putheader(key, value)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        elif body is None:
            if method in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", "0")
        elif isinstance(body, (bytes, bytearray, memoryview)):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        sock = conn.sock
        if body is None:
            return
        if isinstance(body, (bytes, bytearray, memoryview)):
            sock.sendall(body)
            return
        for piece in body:
            if chunked:
                sock.sendall(b"%X\r\n" % len(piece))
                sock.sendall(piece)
                sock.sendall(b"\r\n")
            else:
                sock.sendall(piece)
        if chunked:
            sock.sendall(b"0\r\n\r\n")

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                body: Iterable[memoryview | bytes] | bytes | None = None, chunked: bool = False,
                expect: tuple[int, ...] = (200,), sink: bool = False,
                hasher: "hashlib._Hash | None" = None) -> tuple[http.client.HTTPResponse, bytes, int]:
        """Send one request; returns (response, body, body length). ``sink`` discards the body
        into the reused buffer instead of keeping it."""
        for attempt in (0, 1):
            try:
                self._send(method, path, self._headers(headers), body, chunked)
                response = self.conn.getresponse()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A keep-alive connection the server closed while idle: retry once, fresh.
                self.conn.close()
                if attempt or not isinstance(body, (bytes, type(None))):
                    raise
        if sink and response.status in expect:
            view, total = memoryview(self.buffer), 0
            if response.status >= 300:
                hasher = None  # a redirect's body is not the content
            while True:
                n = response.readinto(view)
                if not n:
                    break
                if hasher is not None:
                    hasher.update(view[:n])
                total += n
            data = b""
        else:
            data = response.read()
            total = len(data)
        if response.will_close:
            self.conn.close()
        if response.status not in expect:
            raise HttpError(self.name, method, path, response.status, data)
        return response, data, total

    # --- the OCI distribution protocol --------------------------------------------------------
    @staticmethod
    def _location_path(location: str) -> str:
        parts = urlsplit(location)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    @staticmethod
    def _with_digest(path: str, digest: str) -> str:
        return path + ("&" if "?" in path else "?") + "digest=" + quote(digest, safe="")

    def start_upload(self, repo: str) -> str:
        response, _, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/", expect=(202,))
        return self._location_path(response.getheader("Location"))

    def push_monolithic(self, repo: str, digest: str, body: Iterable[memoryview] | bytes,
                        size: int) -> None:
        """POST, then PUT ?digest= with the whole body."""
        location = self.start_upload(repo)
        headers = {"Content-Type": "application/octet-stream"}
        if not isinstance(body, (bytes, bytearray, memoryview)):
            headers["Content-Length"] = str(size)
        self.request("PUT", self._with_digest(location, digest), headers=headers, body=body,
                     expect=(201,))

    def push_chunked(self, repo: str, data: BlobData) -> None:
        """POST, PATCH per chunk with Content-Range, then PUT ?digest= without a body."""
        location = self.start_upload(repo)
        offset = 0
        for piece in data.chunks():
            headers = {"Content-Type": "application/octet-stream",
                       "Content-Range": f"{offset}-{offset + len(piece) - 1}"}
            response, _, _ = self.request("PATCH", location, headers=headers, body=piece,
                                          expect=(202,))
            location = self._location_path(response.getheader("Location"))
            offset += len(piece)
        self.request("PUT", self._with_digest(location, data.digest), expect=(201,))

    def push_streamed(self, repo: str, data: BlobData) -> None:
        """What docker does: POST, one long PATCH (chunked transfer encoding), empty PUT."""
        location = self.start_upload(repo)
        response, _, _ = self.request("PATCH", location, body=data.chunks(), chunked=True,
                                      headers={"Content-Type": "application/octet-stream"},
                                      expect=(202,))
        location = self._location_path(response.getheader("Location"))
        self.request("PUT", self._with_digest(location, data.digest), expect=(201,))

    def get_blob(self, repo: str, digest: str, verify: bool = False) -> int:
        return self.get_path(f"/v2/{repo}/blobs/{digest}", digest if verify else None)

    def get_path(self, path: str, verify_digest: str | None = None) -> int:
        """GET into the reused buffer; with ``verify_digest``, also check the bytes' sha256.

        A redirect (a registry on S3 answers blob GETs with 307 to a presigned URL) is followed,
        as docker does: to another host on a keep-alive connection of its own, without this
        client's ``Authorization`` (S3 refuses a presigned URL that also carries one)."""
        hasher = hashlib.sha256() if verify_digest else None
        client = self
        for _ in range(5):
            response, _, total = client.request("GET", path, sink=True, hasher=hasher,
                                                expect=(200, 302, 303, 307))
            if response.status == 200:
                break
            self.redirects += 1
            client, path = self._redirect_target(client, response.getheader("Location") or "")
        else:
            raise RuntimeError(f"{self.name}: GET {path.split('?')[0]}: too many redirects")
        if hasher is not None and "sha256:" + hasher.hexdigest() != verify_digest:
            raise RuntimeError(f"{self.name}: GET {path} returned bytes that do not match {verify_digest}")
        return total

    def _redirect_target(self, current: "Client", location: str) -> tuple["Client", str]:
        parts = urlsplit(location)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if not parts.netloc:
            return current, path
        if parts.scheme != "http":
            raise RuntimeError(f"{self.name}: redirect to {parts.scheme}:// is not supported")
        key = (parts.hostname or "", parts.port or 80)
        if key == (self.host, self.port):
            return self, path
        if key not in self.redirected:
            self.redirected[key] = Client(f"{self.name} -> {parts.netloc}", key[0], key[1],
                                          auth=None, timeout=self.timeout)
        return self.redirected[key], path

    def put_manifest(self, repo: str, ref: str, body: bytes, media_type: str = OCI_MANIFEST) -> str:
        response, _, _ = self.request("PUT", f"/v2/{repo}/manifests/{ref}", body=body,
                                      headers={"Content-Type": media_type}, expect=(201,))
        return response.getheader("Docker-Content-Digest") or ""

    def get_manifest(self, repo: str, ref: str) -> bytes:
        _, body, _ = self.request("GET", f"/v2/{repo}/manifests/{ref}",
                                  headers={"Accept": MANIFEST_ACCEPT})
        return body

    def get_json(self, path: str) -> tuple[dict, str | None]:
        response, body, _ = self.request("GET", path)
        return json.loads(body), response.getheader("Link")


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_manifest(config: tuple[str, int], layers: list[tuple[str, int]],
                   annotations: dict[str, str] | None = None) -> bytes:
    doc: dict = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config[0], "size": config[1]},
        "layers": [{"mediaType": OCI_LAYER, "digest": d, "size": s} for d, s in layers],
    }
    if annotations:
        doc["annotations"] = annotations
    return json.dumps(doc, separators=(",", ":")).encode()


def image_config(layer_digests: list[str]) -> bytes:
    doc = {"architecture": "amd64", "os": "linux",
           "rootfs": {"type": "layers", "diff_ids": layer_digests},
           "config": {}, "history": [{"created_by": "dockyard bench"}] * len(layer_digests)}
    return json.dumps(doc, separators=(",", ":")).encode()
