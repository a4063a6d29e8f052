"""kill -9 in the middle of a chunked blob upload: the upload resumes, and no torn blob ever shows."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .conftest import ecr_client
from .servers import DockyardProcess, free_port

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
BLOB_SIZE = 64 * MiB
CHUNK = 8 * MiB


def _auth(server: DockyardProcess) -> dict[str, str]:
    token = ecr_client(server).get_authorization_token()["authorizationData"][0]
    return {"Authorization": f"Basic {token['authorizationToken']}"}


def _range_end(response: httpx.Response) -> int:
    """The offset an upload has reached, from its ``Range: 0-<last>`` header."""
    start, _, last = response.headers["range"].partition("-")
    assert start == "0"
    return int(last) + 1


def test_upload_survives_kill_9(tmp_path: Path) -> None:
    server = DockyardProcess(tmp_path / "data", free_port())
    server.start()
    try:
        _crash_and_resume(server)
    finally:
        server.stop()


def _crash_and_resume(server: DockyardProcess) -> None:
    repo = "crash/blob"
    ecr_client(server).create_repository(repositoryName=repo)
    data = os.urandom(BLOB_SIZE)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blob_url = f"{server.endpoint}/v2/{repo}/blobs/{digest}"
    blob_file = server.data_dir / "blobs" / "sha256" / digest[7:9] / digest[7:]
    auth = _auth(server)

    with httpx.Client(headers=auth, timeout=60) as http:
        started = http.post(f"{server.endpoint}/v2/{repo}/blobs/uploads/")
        assert started.status_code == 202, started.text
        location = server.endpoint + started.headers["location"] \
            if started.headers["location"].startswith("/") else started.headers["location"]

        acked = 0
        for _ in range(3):
            piece = data[acked:acked + CHUNK]
            response = http.patch(location, content=piece, headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{acked}-{acked + len(piece) - 1}"})
            assert response.status_code == 202, response.text
            acked += len(piece)
            assert _range_end(response) == acked
        assert http.head(blob_url).status_code == 404

        # the fourth PATCH streams (chunked, as docker does) and the server dies under it
        sent = 0

        def body() -> Iterator[bytes]:
            nonlocal sent
            for offset in range(acked, acked + CHUNK, MiB):
                if sent >= 4 * MiB:
                    server.kill()  # SIGKILL to the whole process group
                yield data[offset:offset + MiB]
                sent += MiB

        with pytest.raises(httpx.HTTPError):
            http.patch(location, content=body(),
                       headers={"Content-Type": "application/octet-stream"})
        assert server.proc is not None and server.proc.returncode == -9
    assert not blob_file.exists()

    server.start()
    auth = _auth(server)
    with httpx.Client(headers=auth, timeout=60) as http:
        status = http.get(location)
        assert status.status_code == 204, status.text
        offset = _range_end(status)
        # everything acknowledged is kept; what the dead PATCH carried may or may not be
        assert acked <= offset <= acked + sent, (acked, offset, sent)
        assert http.head(blob_url).status_code == 404
        assert not blob_file.exists()

        # a PATCH that does not continue at the offset is refused with the offset
        wrong = http.patch(location, content=data[:MiB], headers={
            "Content-Type": "application/octet-stream", "Content-Range": f"0-{MiB - 1}"})
        assert wrong.status_code == 416, wrong.text
        assert _range_end(wrong) == offset

        # resume from the offset: one PATCH, then the last 3 MiB in the completing PUT
        tail = BLOB_SIZE - 3 * MiB
        resumed = http.patch(location, content=data[offset:tail], headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"{offset}-{tail - 1}"})
        assert resumed.status_code == 202, resumed.text
        assert _range_end(resumed) == tail
        assert http.head(blob_url).status_code == 404
        # a wrong digest does not publish anything
        bad = "sha256:" + hashlib.sha256(b"not this").hexdigest()
        refused = http.put(location, params={"digest": bad}, content=b"")
        assert refused.status_code == 400, refused.text
        assert http.head(blob_url).status_code == 404

        done = http.put(location, params={"digest": digest}, content=data[tail:],
                        headers={"Content-Type": "application/octet-stream"})
        assert done.status_code == 201, done.text
        assert done.headers["docker-content-digest"] == digest

        head = http.head(blob_url)
        assert head.status_code == 200
        assert int(head.headers["content-length"]) == BLOB_SIZE
        got = hashlib.sha256()
        size = 0
        with http.stream("GET", blob_url) as response:
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                got.update(chunk)
                size += len(chunk)
        assert size == BLOB_SIZE and "sha256:" + got.hexdigest() == digest
        assert blob_file.read_bytes() == data
        assert http.get(location).status_code == 404  # the upload is finished


def test_no_blob_before_its_put_after_a_crash(tmp_path: Path) -> None:
    """A monolithic PUT killed half way leaves no blob, and the same digest uploads cleanly after."""
    server = DockyardProcess(tmp_path / "data", free_port())
    server.start()
    try:
        repo = "crash/monolithic"
        ecr_client(server).create_repository(repositoryName=repo)
        data = os.urandom(16 * MiB)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        auth = _auth(server)
        url = f"{server.endpoint}/v2/{repo}/blobs/uploads/"

        def body() -> Iterator[bytes]:
            for n, offset in enumerate(range(0, len(data), MiB)):
                if n == 8:
                    server.kill()
                yield data[offset:offset + MiB]

        with pytest.raises(httpx.HTTPError):
            # POST ?digest= with a streamed body: one request carries the whole blob
            httpx.post(url, params={"digest": digest}, content=body(), headers={
                **auth, "Content-Type": "application/octet-stream"}, timeout=60)
        server.start()
        auth = _auth(server)
        blob_url = f"{server.endpoint}/v2/{repo}/blobs/{digest}"
        assert httpx.head(blob_url, headers=auth).status_code == 404
        done = httpx.post(url, params={"digest": digest}, content=data, headers={
            **auth, "Content-Type": "application/octet-stream"}, timeout=60)
        assert done.status_code == 201, done.text
        assert httpx.get(blob_url, headers=auth, timeout=60).content == data
    finally:
        server.stop()
