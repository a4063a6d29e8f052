"""How many S3 requests a push makes, through the real app on a real Ceph RADOS Gateway.

Every S3 request is a round trip (and a write is a commit in RGW), so these counts are the push
path's cost on S3 (docs/benchmarks.md, "PostgreSQL + S3"). They are pinned so that a change which
adds a request shows here; lower them when a change removes one.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from api.conftest import Ecr, Oci, make_settings, registry_password, sha256, with_query
from dockyard.app import DockyardApp, bootstrap, create_app
from dockyard.domain.digest import Digest
from dockyard.storage.s3 import MIN_PART, S3BlobStore

from .engines import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, CephRgw


class Requests:
    """The S3 operations a store's client sends (one entry per API call, retries not counted)."""

    def __init__(self, store: S3BlobStore) -> None:
        self.calls: list[str] = []
        store.client.meta.events.register("before-call.s3", self._seen)

    def _seen(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)

    def take(self) -> Counter[str]:
        seen, self.calls = Counter(self.calls), []
        return seen


@dataclass
class S3App:
    app: DockyardApp
    oci: Oci
    store: S3BlobStore
    requests: Requests


@pytest.fixture
def s3_app(ceph: CephRgw, tmp_path: Path) -> Iterator[S3App]:
    bucket = ceph.create_bucket()
    settings = make_settings(tmp_path / "data").model_copy(update={
        "blob_driver": "s3", "s3_bucket": bucket, "s3_prefix": f"r-{uuid.uuid4().hex[:8]}/",
        "s3_endpoint_url": ceph.endpoint, "s3_region": S3_REGION,
        "s3_access_key_id": S3_ACCESS_KEY, "s3_secret_access_key": SecretStr(S3_SECRET_KEY),
        "s3_part_size": MIN_PART, "jobs_in_server": False})  # no GC run in between
    bootstrap(settings)
    app: DockyardApp = create_app(settings)
    with TestClient(app, raise_server_exceptions=True) as client:
        Ecr(client).create_repository("team/app")
        store = app.services.uploads.blobs
        assert isinstance(store, S3BlobStore)
        yield S3App(app, Oci(client, registry_password(app)), store, Requests(store))


def test_small_pushes(s3_app: S3App) -> None:
    oci, store, requests = s3_app.oci, s3_app.store, s3_app.requests
    # Monolithic: POST ?digest= with the body. The blob key is checked (HEAD) before it is
    # written, then again inside the linking transaction.
    data = os.urandom(4096)
    oci.push_blob("team/app", data)
    assert requests.take() == {"HeadObject": 2, "PutObject": 1}
    # The same bytes again (dedup): nothing written, the blob seen before linking and in the link.
    oci.push_blob("team/app", data)
    assert requests.take() == {"HeadObject": 2}

    # POST, then PUT ?digest= with the whole blob: stored as the blob directly; the upload row
    # records nothing stored, so discarding the upload sends nothing.
    data = os.urandom(4096)
    location = oci.start_upload("team/app")
    r = oci.put(with_query(location, digest=sha256(data)), content=data,
                headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    assert requests.take() == {"HeadObject": 2, "PutObject": 1}
    assert b"".join(store.read(digest_of(data))) == data


def patch(oci: Oci, location: str, content: bytes, offset: int) -> str:
    r = oci.patch(location, content=content, headers={
        "Content-Type": "application/octet-stream",
        "Content-Range": f"{offset}-{offset + len(content) - 1}"})
    assert r.status_code == 202, r.text
    return r.headers["Location"]


def test_streamed_push(s3_app: S3App) -> None:
    """POST, one streamed PATCH, PUT without a body (docker's way): parts of exactly the part
    size while the stream runs, the rest as the last part (no tail object), and discarding the
    upload deletes what its row records without listing the bucket."""
    oci, store, requests = s3_app.oci, s3_app.store, s3_app.requests
    data = os.urandom(2 * MIN_PART + 4096)
    location = oci.start_upload("team/app")
    upload_id = location.split("?")[0].rsplit("/", 1)[-1]

    # The PATCH through the upload service: the in-process client hands a body over in one
    # piece, a server in chunks as they arrive.
    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    admin = s3_app.app.services.identity.authenticate_password(oci.password)
    asyncio.run(s3_app.app.services.uploads.append(admin, "team/app", upload_id, stream()))
    r = oci.put(with_query(location, digest=sha256(data)))
    assert r.status_code == 201, r.text
    assert requests.take() == {
        "CreateMultipartUpload": 1, "UploadPart": 2,
        "HeadObject": 3,  # the blob key before completing, the assembled object, the link's check
        "CompleteMultipartUpload": 1, "CopyObject": 1,
        "AbortMultipartUpload": 1, "DeleteObject": 1}  # the row's multipart upload, assembled
    assert b"".join(store.read(digest_of(data))) == data
    assert list(store.stored_uploads()) == []


def test_chunked_push(s3_app: S3App) -> None:
    """POST, PATCH, PATCH, PUT with the last bytes: PATCHes of whole parts leave no tail to write
    and read back; the completing request's few bytes become the tail, copied in as the last
    part."""
    oci, store, requests = s3_app.oci, s3_app.store, s3_app.requests
    data = os.urandom(2 * MIN_PART + 4096)
    location = oci.start_upload("team/app")
    location = patch(oci, location, data[:MIN_PART], 0)
    location = patch(oci, location, data[MIN_PART:2 * MIN_PART], MIN_PART)
    assert requests.take() == {"CreateMultipartUpload": 1, "UploadPart": 2}
    r = oci.put(with_query(location, digest=sha256(data)), content=data[2 * MIN_PART:], headers={
        "Content-Type": "application/octet-stream",
        "Content-Range": f"{2 * MIN_PART}-{len(data) - 1}"})
    assert r.status_code == 201, r.text
    assert requests.take() == {
        "PutObject": 1, "HeadObject": 3, "UploadPartCopy": 1, "CompleteMultipartUpload": 1,
        "CopyObject": 1, "AbortMultipartUpload": 1, "DeleteObjects": 1}
    assert b"".join(store.read(digest_of(data))) == data
    assert list(store.stored_uploads()) == []


def digest_of(data: bytes) -> Digest:
    return Digest.parse(sha256(data))
