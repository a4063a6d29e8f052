"""SIGTERM to `dockyard serve` (what Kubernetes, docker stop and systemd send) while clients are busy.

- a chunked layer upload that keeps streaming after the signal, and a blob download, finish; the
  node then exits 0, within the grace period, and after a restart on the same data the upload is
  completed and its blob reads back byte for byte;
- while the node drains, new connections are refused (or readiness answers 503), and a kept-alive
  connection that was idle at the signal serves nothing more;
- a request that would outlast ``DOCKYARD_SHUTDOWN_GRACE_SECONDS`` is cut when it expires, the node
  still exits 0, and the upload resumes from what its row recorded;
- a second SIGTERM stops the node at once.

Every node runs two worker processes, as deployments do; the signal goes to the main process only.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from .conftest import ecr_client
from .servers import DockyardProcess, free_port

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
PIECE = 256 * 1024


def _node(tmp_path: Path, grace: float) -> DockyardProcess:
    return DockyardProcess(tmp_path / "data", free_port(), extra_env={
        "DOCKYARD_WORKERS": "2", "DOCKYARD_SHUTDOWN_GRACE_SECONDS": str(grace)}).start()


def _auth(server: DockyardProcess) -> dict[str, str]:
    token = ecr_client(server).get_authorization_token()["authorizationData"][0]
    return {"Authorization": f"Basic {token['authorizationToken']}"}


def _range_end(response: httpx.Response | http.client.HTTPResponse) -> int:
    """The offset an upload has reached, from its ``Range: 0-<last>`` header."""
    value = response.headers["range"] if isinstance(response, httpx.Response) \
        else response.getheader("range")
    start, _, last = value.partition("-")
    assert start == "0"
    return int(last) + 1


def _begin_upload(server: DockyardProcess, repo: str, data: bytes, acked: int) -> str:
    """A new upload with its first ``acked`` bytes sent by a completed PATCH; its location."""
    ecr_client(server).create_repository(repositoryName=repo)
    auth = _auth(server)
    started = httpx.post(f"{server.endpoint}/v2/{repo}/blobs/uploads/", headers=auth)
    assert started.status_code == 202, started.text
    first = httpx.patch(server.endpoint + started.headers["location"], content=data[:acked],
                        headers={**auth, "Content-Type": "application/octet-stream",
                                 "Content-Range": f"0-{acked - 1}"}, timeout=60)
    assert first.status_code == 202, first.text
    assert _range_end(first) == acked
    return first.headers["location"]


class SlowPatch(threading.Thread):
    """A chunked PATCH (as docker sends layers) streaming ``body`` at ``rate`` bytes a second."""

    def __init__(self, server: DockyardProcess, location: str, auth: dict[str, str],
                 body: bytes, rate: float) -> None:
        super().__init__(daemon=True)
        self.server, self.location, self.auth, self.body, self.rate = server, location, auth, body, rate
        self.streaming = threading.Event()  # the first bytes of the body are out
        self.sent = 0
        self.status: int | None = None
        self.end: int | None = None  # where the 202's Range says the upload stands
        self.error: BaseException | None = None

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        try:
            conn.putrequest("PATCH", self.location)
            conn.putheader("Authorization", self.auth["Authorization"])
            conn.putheader("Content-Type", "application/octet-stream")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            begun = time.monotonic()
            for offset in range(0, len(self.body), PIECE):
                piece = self.body[offset:offset + PIECE]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.sent += len(piece)
                self.streaming.set()
                pause = begun + self.sent / self.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            conn.send(b"0\r\n\r\n")
            response = conn.getresponse()
            response.read()
            self.status = response.status
            if response.status == 202:
                self.end = _range_end(response)
        except (OSError, http.client.HTTPException) as exc:
            self.error = exc
        finally:
            self.streaming.set()
            conn.close()


class SlowDownload(threading.Thread):
    """A blob GET read at ``rate`` bytes a second."""

    def __init__(self, url: str, auth: dict[str, str], rate: float) -> None:
        super().__init__(daemon=True)
        self.url, self.auth, self.rate = url, auth, rate
        self.receiving = threading.Event()
        self.received = 0
        self.status: int | None = None
        self.digest: str | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        sha = hashlib.sha256()
        try:
            with httpx.stream("GET", self.url, headers=self.auth, timeout=60) as response:
                self.status = response.status_code
                begun = time.monotonic()
                for chunk in response.iter_raw(PIECE):
                    sha.update(chunk)
                    self.received += len(chunk)
                    self.receiving.set()
                    pause = begun + self.received / self.rate - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
            self.digest = "sha256:" + sha.hexdigest()
        except httpx.HTTPError as exc:
            self.error = exc
        finally:
            self.receiving.set()


def _probe_new_connection(server: DockyardProcess) -> str:
    """What a new client (a balancer's health check) gets from /readyz now."""
    try:
        r = httpx.get(f"{server.endpoint}/readyz", timeout=2)
    except httpx.TransportError as exc:
        return type(exc).__name__
    return str(r.status_code)


def _recorded(server: DockyardProcess, auth: dict[str, str], location: str) -> int:
    """How many bytes of the upload the registry recorded (its status)."""
    status = httpx.get(server.endpoint + location, headers=auth)
    assert status.status_code == 204, status.text
    return _range_end(status)


def _finish_and_read_back(server: DockyardProcess, auth: dict[str, str], repo: str,
                          location: str, data: bytes, offset: int) -> None:
    """Complete the upload with the bytes after ``offset``; the blob then reads back whole."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    headers = {**auth, "Content-Type": "application/octet-stream"} if offset < len(data) else auth
    done = httpx.put(server.endpoint + location, params={"digest": digest},
                     content=data[offset:] or None, timeout=60, headers=headers)
    assert done.status_code == 201, done.text
    got = httpx.get(f"{server.endpoint}/v2/{repo}/blobs/{digest}", headers=auth, timeout=60)
    assert got.status_code == 200 and got.content == data


def test_sigterm_lets_an_upload_and_a_download_in_progress_finish(tmp_path: Path) -> None:
    grace = 20.0
    server = _node(tmp_path, grace)
    try:
        repo = "drain/upload"
        data = os.urandom(16 * MiB + 123)
        acked = 4 * MiB
        location = _begin_upload(server, repo, data, acked)
        auth = _auth(server)
        # a blob to download while the node drains
        pulled = os.urandom(24 * MiB)
        pulled_digest = "sha256:" + hashlib.sha256(pulled).hexdigest()
        put = httpx.post(f"{server.endpoint}/v2/{repo}/blobs/uploads/",
                         params={"digest": pulled_digest}, content=pulled, timeout=60,
                         headers={**auth, "Content-Type": "application/octet-stream"})
        assert put.status_code == 201, put.text

        upload = SlowPatch(server, location, auth, data[acked:], rate=3 * MiB)  # about 4 s
        download = SlowDownload(f"{server.endpoint}/v2/{repo}/blobs/{pulled_digest}", auth,
                                rate=6 * MiB)  # about 4 s
        upload.start()
        download.start()
        assert upload.streaming.wait(10) and download.receiving.wait(10)
        time.sleep(0.5)
        server.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        sent_at_signal, received_at_signal = upload.sent, download.received

        upload.join(60)
        download.join(60)
        code = server.wait_exit(timeout=grace + 10)
        took = time.monotonic() - signalled

        assert sent_at_signal < len(data) - acked, "the upload was over before the signal"
        assert received_at_signal < len(pulled), "the download was over before the signal"
        assert upload.error is None and upload.status == 202, (upload.error, upload.status)
        assert upload.end == len(data)
        assert download.error is None and download.status == 200, download.error
        assert download.received == len(pulled) and download.digest == pulled_digest
        assert code == 0, server.stdout()
        assert took < grace, f"the node took {took:.1f}s to stop"

        # the upload is in the database and on disk: a node on the same data finishes it
        server.start()
        auth = _auth(server)
        assert _recorded(server, auth, location) == len(data)
        _finish_and_read_back(server, auth, repo, location, data, len(data))
    finally:
        server.stop()


def test_a_draining_node_takes_no_new_requests(tmp_path: Path) -> None:
    server = _node(tmp_path, grace=20)
    try:
        data = os.urandom(12 * MiB)
        location = _begin_upload(server, "drain/probe", data, MiB)
        # a client's kept-alive connection, idle when the signal comes
        idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
        idle.request("GET", "/readyz")
        first = idle.getresponse()
        first.read()
        assert first.status == 200 and first.getheader("connection") != "close"

        upload = SlowPatch(server, location, _auth(server), data[MiB:], rate=3 * MiB)
        upload.start()  # keeps the node draining for about 3 s
        assert upload.streaming.wait(10)
        server.send_signal(signal.SIGTERM)
        time.sleep(0.5)

        try:
            idle.request("GET", "/readyz")
            again = idle.getresponse()
            again.read()
            reused = str(again.status)
        except (OSError, http.client.HTTPException) as exc:
            reused = type(exc).__name__
        finally:
            idle.close()
        probes = []
        while upload.is_alive() and len(probes) < 8:
            probes.append(_probe_new_connection(server))
            time.sleep(0.25)
        upload.join(60)
        assert server.wait_exit(timeout=30) == 0

        assert upload.status == 202 and upload.end == len(data), (upload.error, upload.status)
        assert reused != "200", "an idle kept-alive connection was served after SIGTERM"
        assert len(probes) >= 2 and all(p in ("ConnectError", "503") for p in probes), probes
    finally:
        server.stop()


def test_a_request_outlasting_the_grace_period_is_cut(tmp_path: Path) -> None:
    grace = 2.0
    server = _node(tmp_path, grace)
    try:
        repo = "drain/slow"
        data = os.urandom(40 * MiB)
        acked = 4 * MiB
        location = _begin_upload(server, repo, data, acked)
        upload = SlowPatch(server, location, _auth(server), data[acked:], rate=2 * MiB)  # 18 s
        upload.start()
        assert upload.streaming.wait(10)
        time.sleep(0.5)
        server.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = server.wait_exit(timeout=grace + 10)
        took = time.monotonic() - signalled
        upload.join(30)

        assert code == 0, server.stdout()
        assert grace - 0.5 <= took < grace + 5, f"the node stopped {took:.1f}s after SIGTERM"
        assert not upload.is_alive() and upload.status is None, (upload.status, upload.error)
        sent = upload.sent
        assert sent < len(data) - acked

        # the cut request is a crash for the upload: it resumes from what its row recorded
        server.start()
        auth = _auth(server)
        offset = _recorded(server, auth, location)
        assert acked <= offset <= acked + sent, (acked, offset, sent)
        _finish_and_read_back(server, auth, repo, location, data, offset)
    finally:
        server.stop()


def test_a_second_sigterm_stops_at_once(tmp_path: Path) -> None:
    server = _node(tmp_path, grace=60)
    try:
        data = os.urandom(40 * MiB)
        location = _begin_upload(server, "drain/twice", data, MiB)
        upload = SlowPatch(server, location, _auth(server), data[MiB:], rate=2 * MiB)  # 20 s
        upload.start()
        assert upload.streaming.wait(10)
        server.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert server.proc is not None and server.proc.poll() is None  # still draining
        server.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = server.wait_exit(timeout=10)
        took = time.monotonic() - signalled
        upload.join(30)
        assert code == 0, server.stdout()
        assert took < 3, f"the node stopped {took:.1f}s after the second SIGTERM"
        assert upload.status is None and upload.error is not None
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", server.port)) != 0
    finally:
        server.stop()
