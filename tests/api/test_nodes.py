"""Several nodes on one registry (here: two apps on one data directory and database), and the
health endpoints. The scale-out set-up itself (PostgreSQL + S3) is in tests/e2e/test_scale_out.py;
these run on the default drivers."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from dockyard.app import DockyardApp, create_app
from dockyard.settings import Settings

from .conftest import Oci, assert_oci_error, sha256, sha512, with_query


@pytest.fixture
def other_node(app: DockyardApp, settings: Settings, password: str) -> Iterator[Oci]:
    """A second app on the same data directory: it holds no running hash of any upload."""
    with TestClient(create_app(settings), raise_server_exceptions=True) as client:
        yield Oci(client, password)


def test_upload_continued_and_completed_on_another_node(oci: Oci, other_node: Oci,
                                                        repo: str) -> None:
    data = os.urandom(300_000)
    location = oci.start_upload(repo)
    r = oci.patch(location, content=data[:100_000], headers={"Content-Range": "0-99999"})
    assert r.status_code == 202, r.text
    # the next bytes arrive at a node without the running hash ...
    r = other_node.patch(r.headers["Location"], content=data[100_000:200_000],
                         headers={"Content-Range": "100000-199999"})
    assert r.status_code == 202, r.text
    # ... and the last ones back at the first node, which no longer holds it either
    r = oci.patch(r.headers["Location"], content=data[200_000:],
                  headers={"Content-Range": "200000-299999"})
    assert r.status_code == 202 and r.headers["Range"] == "0-299999"
    location = r.headers["Location"]
    # the digest is then checked by streaming the stored bytes: a wrong one is refused ...
    assert_oci_error(other_node.put(with_query(location, digest=sha256(b"other"))), 400,
                     "DIGEST_INVALID")
    # ... and the right one accepted, on either node
    r = other_node.put(with_query(location, digest=sha256(data)))
    assert r.status_code == 201, r.text
    for node in (oci, other_node):
        got = node.get(f"/v2/{repo}/blobs/{sha256(data)}")
        assert got.status_code == 200 and got.content == data


def test_upload_status_is_the_same_on_every_node(oci: Oci, other_node: Oci, repo: str) -> None:
    location = oci.start_upload(repo)
    r = oci.patch(location, content=b"x" * 5000, headers={"Content-Range": "0-4999"})
    status = other_node.get(r.headers["Location"])
    assert status.status_code == 204 and status.headers["Range"] == "0-4999"
    r = other_node.put(with_query(r.headers["Location"], digest=sha512(b"x" * 5000)))
    assert r.status_code == 201, r.text


def test_health_and_readiness(client: TestClient, settings: Settings) -> None:
    live = client.get("/healthz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "blob_store": "ok"}}
    shutil.rmtree(settings.data_dir.resolve() / "blobs")  # the blob store can no longer store
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "blob_store": "unavailable"}
    assert client.get("/healthz").status_code == 200  # liveness does not depend on it
