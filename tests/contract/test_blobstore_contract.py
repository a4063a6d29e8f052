"""The BlobStore contract, over every driver: the filesystem (default) and S3 against a real Ceph
RADOS Gateway (started once per session from Debian's packages, see ``engines.py``).

"Another node" is another driver object on the same storage (same directory, same bucket and
prefix) holding nothing in memory, continuing from what the upload row would record.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from dockyard.domain.digest import Digest
from dockyard.domain.models import StoredParts
from dockyard.errors import UploadInvalid
from dockyard.gc.upload_purge import UploadPurge
from dockyard.ports import BlobStore, CollectableBlobStore
from dockyard.storage.filesystem import FilesystemBlobStore
from dockyard.storage.s3 import MIN_PART, S3BlobStore

from .engines import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, CephRgw

MIB = 1024 * 1024


def sha256(data: bytes) -> Digest:
    return Digest.parse("sha256:" + hashlib.sha256(data).hexdigest())


@pytest.fixture(scope="session")
def bucket(ceph: CephRgw) -> str:
    return ceph.create_bucket()


@pytest.fixture(params=["filesystem", "s3"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., BlobStore]:
    """A factory of driver objects on one fresh storage: each call is "another node"."""
    if request.param == "filesystem":
        return lambda **_: FilesystemBlobStore(tmp_path / "store")
    ceph: CephRgw = request.getfixturevalue("ceph")
    bucket = request.getfixturevalue("bucket")
    prefix = f"t-{uuid.uuid4().hex[:10]}/"

    def s3(**options: object) -> S3BlobStore:
        return S3BlobStore(bucket, prefix=prefix, endpoint_url=ceph.endpoint, region=S3_REGION,
                           access_key_id=S3_ACCESS_KEY, secret_access_key=S3_SECRET_KEY,
                           part_size=MIN_PART, **options)  # type: ignore[arg-type]

    return s3


@pytest.fixture
def store(make_store: Callable[..., BlobStore]) -> BlobStore:
    return make_store()


def is_s3(store: BlobStore) -> bool:
    return isinstance(store, S3BlobStore)


def append(store: BlobStore, upload_id: str, offset: int, stored: StoredParts | None,
           data: bytes, chunk: int = 256 * 1024, recorded: bool = True) -> StoredParts | None:
    """One request appending ``data`` in chunks, as the upload service does (``recorded``: the
    row then records what it returned, as when the request won the row's conditional update)."""
    async def run() -> StoredParts | None:
        appender = store.append_upload(upload_id, offset, stored)
        try:
            for i in range(0, len(data), chunk):
                await appender.write(data[i:i + chunk])
            result = await appender.close()
        except BaseException:
            await appender.abort()
            raise
        if recorded:
            await appender.recorded()
        return result
    return asyncio.run(run())


def upload(store: BlobStore, upload_id: str, pieces: list[bytes]) -> StoredParts | None:
    store.create_upload(upload_id)
    stored, offset = None, 0
    for piece in pieces:
        stored = append(store, upload_id, offset, stored, piece)
        offset += len(piece)
    return stored


# --- blobs -----------------------------------------------------------------------------------------
def test_put_read_ranges_delete(store: BlobStore) -> None:
    data = os.urandom(3 * MIB + 11)
    d = sha256(data)
    assert not store.exists(d) and store.size(d) is None
    store.put(d, data)
    assert store.exists(d) and store.size(d) == len(data)
    assert b"".join(store.read(d)) == data
    assert b"".join(store.read(d, 5)) == data[5:]
    assert b"".join(store.read(d, MIB - 3, MIB + 7)) == data[MIB - 3:MIB + 7]
    assert b"".join(store.read(d, 10, 10)) == b""
    assert store.delete(d) and not store.exists(d) and not store.delete(d)


def test_empty_blob(store: BlobStore) -> None:
    d = sha256(b"")
    store.put(d, b"")
    assert store.exists(d) and store.size(d) == 0 and b"".join(store.read(d)) == b""


def test_an_existing_blob_is_never_rewritten(store: BlobStore) -> None:
    data = b"layer bytes " * 1000
    d = sha256(data)
    store.put(d, data)
    before = {digest: changed for digest, _, changed in store.stored_blobs()}  # type: ignore[attr-defined]
    time.sleep(1.1)  # S3 LastModified has a one-second resolution
    store.put(d, data)
    stored = upload(store, "a1b2c3d4-0000-4000-8000-000000000001", [data])
    store.commit_upload("a1b2c3d4-0000-4000-8000-000000000001", d, len(data), stored)
    after = {digest: changed for digest, _, changed in store.stored_blobs()}  # type: ignore[attr-defined]
    assert after[d] == before[d]
    assert b"".join(store.read(d)) == data


def test_check_and_local_path(store: BlobStore, make_store: Callable[..., BlobStore]) -> None:
    store.check()
    d = sha256(b"x")
    store.put(d, b"x")
    path = store.local_path(d)
    assert (path is None) == is_s3(store)
    if path is not None:
        assert path.read_bytes() == b"x"


# --- uploads -----------------------------------------------------------------------------------------
def test_upload_in_appends_across_part_boundaries(store: BlobStore) -> None:
    data = os.urandom(3 * MIN_PART + 3 * MIB + 5)
    pieces = [data[:3 * MIB], data[3 * MIB:3 * MIB + 1], data[3 * MIB + 1:9 * MIB], data[9 * MIB:]]
    stored = upload(store, "u-multi", pieces)
    d = sha256(data)
    if is_s3(store):
        assert stored is not None and stored.multipart_id and len(stored.parts) >= 2
        assert all(p.size >= MIN_PART for p in stored.parts)
    assert store.verify_upload("u-multi", len(data), stored, d)
    assert not store.verify_upload("u-multi", len(data), stored, sha256(b"other"))
    store.commit_upload("u-multi", d, len(data), stored)
    store.delete_upload("u-multi")
    assert b"".join(store.read(d)) == data
    assert store.size(d) == len(data)


def test_upload_smaller_than_a_part(store: BlobStore) -> None:
    data = os.urandom(100_000)
    stored = upload(store, "u-small", [data[:10], data[10:]])
    d = sha256(data)
    store.commit_upload("u-small", d, len(data), stored)
    store.delete_upload("u-small")
    assert b"".join(store.read(d)) == data


def test_empty_upload(store: BlobStore) -> None:
    store.create_upload("u-empty")
    d = sha256(b"")
    assert store.verify_upload("u-empty", 0, None, d)
    store.commit_upload("u-empty", d, 0, None)
    store.delete_upload("u-empty")
    assert store.exists(d) and store.size(d) == 0


def test_upload_continued_and_completed_by_other_nodes(
        make_store: Callable[..., BlobStore]) -> None:
    """Each append on a different node, from what the row recorded; the digest checked by
    streaming on yet another one (no node had the running hash), then committed on a fourth."""
    data = os.urandom(MIN_PART + 2 * MIB + 1)
    first, second, third, fourth = (make_store() for _ in range(4))
    first.create_upload("u-nodes")
    stored = append(first, "u-nodes", 0, None, data[:2 * MIB])
    stored = append(second, "u-nodes", 2 * MIB, stored, data[2 * MIB:6 * MIB])
    stored = append(third, "u-nodes", 6 * MIB, stored, data[6 * MIB:])
    d = sha256(data)
    assert fourth.verify_upload("u-nodes", len(data), stored, d)
    fourth.commit_upload("u-nodes", d, len(data), stored)
    first.delete_upload("u-nodes")
    assert b"".join(second.read(d)) == data
    assert "u-nodes" not in {u for u, _, _ in fourth.stored_uploads()}  # type: ignore[attr-defined]


def test_verify_then_commit_and_retried_completion(store: BlobStore) -> None:
    """A digest check streams the stored bytes; a failed one leaves the upload to complete."""
    data = os.urandom(MIN_PART + 123)
    stored = upload(store, "u-retry", [data])
    sha512 = Digest.parse("sha512:" + hashlib.sha512(data).hexdigest())
    assert not store.verify_upload("u-retry", len(data), stored, sha256(b"wrong"))
    assert store.verify_upload("u-retry", len(data), stored, sha512)
    store.commit_upload("u-retry", sha512, len(data), stored)
    store.commit_upload("u-retry", sha512, len(data), stored)  # a retried completion
    assert b"".join(store.read(sha512)) == data


def test_an_aborted_append_changes_nothing_recorded(store: BlobStore) -> None:
    data = os.urandom(MIN_PART + 1000)
    store.create_upload("u-abort")
    stored = append(store, "u-abort", 0, None, data[:1000])

    async def broken() -> None:
        appender = store.append_upload("u-abort", 1000, stored)
        await appender.write(os.urandom(MIN_PART + 5))  # a part of other bytes goes out
        await appender.abort()  # ... then the client disconnects

    asyncio.run(broken())
    stored = append(store, "u-abort", 1000, stored, data[1000:])
    d = sha256(data)
    assert store.verify_upload("u-abort", len(data), stored, d)
    store.commit_upload("u-abort", d, len(data), stored)
    assert b"".join(store.read(d)) == data


def test_racing_appends_never_assemble_the_losers_bytes(
        make_store: Callable[..., BlobStore]) -> None:
    """Two nodes append to one upload from the same offset; the row records the winner. The
    upload then holds the winner's bytes, or refuses to assemble — never the loser's."""
    a, b = make_store(), make_store()
    if not is_s3(a):
        pytest.skip("the filesystem driver serves one node; the row's conditional update and "
                    "the digest check guard a single node's uploads")
    outcomes = []
    for start in (0, MIN_PART):  # racing on the tail only, and on a part of one multipart upload
        for size in (100_000, MIN_PART + 100_000):
            upload_id = f"u-race-{start}-{size}"
            head = os.urandom(start)
            winner, loser = head + os.urandom(size), head + os.urandom(size)
            a.create_upload(upload_id)
            stored = append(a, upload_id, 0, None, head) if start else None
            won = append(a, upload_id, start, stored, winner[start:])
            append(b, upload_id, start, stored, loser[start:],
                   recorded=False)  # later: it does not count
            try:
                a.commit_upload(upload_id, sha256(winner), len(winner), won)
            except UploadInvalid:
                outcomes.append("refused")  # S3 refused a part whose ETag the row did not record
                continue
            assert b"".join(a.read(sha256(winner))) == winner
            outcomes.append("winner")
    assert outcomes.count("winner") >= 3, outcomes


def test_parts_are_cut_at_the_part_size_and_a_request_that_sent_one_leaves_no_tail(
        store: BlobStore) -> None:
    data = os.urandom(4 * MIN_PART + 17)
    store.create_upload("u-cuts")
    stored = append(store, "u-cuts", 0, None, data[:3 * MIN_PART + 7])
    if is_s3(store):  # cut while at least MIN_PART stays buffered; the rest is the last part
        assert stored is not None and stored.tail is None
        assert [p.size for p in stored.parts] == [MIN_PART, MIN_PART, MIN_PART + 7]
    offset = 3 * MIN_PART + 7
    stored = append(store, "u-cuts", offset, stored, data[offset:offset + MIN_PART])
    if is_s3(store):  # a whole part in one request: no tail either
        assert stored is not None and stored.tail is None and len(stored.parts) == 4
    stored = append(store, "u-cuts", offset + MIN_PART, stored, data[offset + MIN_PART:])
    if is_s3(store):  # too few bytes for a part: a tail
        assert stored is not None and len(stored.parts) == 4 and stored.tail is not None
    d = sha256(data)
    assert store.verify_upload("u-cuts", len(data), stored, d)
    store.commit_upload("u-cuts", d, len(data), stored)
    assert b"".join(store.read(d)) == data


def test_a_replaced_tail_is_deleted_once_recorded(store: BlobStore) -> None:
    gc: CollectableBlobStore = store  # type: ignore[assignment]
    data = os.urandom(30)
    store.create_upload("u-tails")
    stored = append(store, "u-tails", 0, None, data[:10])
    kept = append(store, "u-tails", 10, stored, data[10:20], recorded=False)  # the row did not move
    assert dict((u, size) for u, size, _ in gc.stored_uploads())["u-tails"] == (
        30 if is_s3(store) else 20)  # S3: both tails are there, the first one still recorded
    stored = append(store, "u-tails", 10, stored, data[10:])
    assert dict((u, size) for u, size, _ in gc.stored_uploads())["u-tails"] == (
        20 + 30 if is_s3(store) else 30)  # the first tail went; the unrecorded one is swept later
    assert kept != stored or not is_s3(store)
    d = sha256(data)
    assert store.verify_upload("u-tails", 30, stored, d)
    store.commit_upload("u-tails", d, 30, stored)
    assert b"".join(store.read(d)) == data


def s3_calls(store: BlobStore) -> list[str]:
    """The S3 operations the store sends from now on (empty for the filesystem)."""
    calls: list[str] = []
    if is_s3(store):
        store.client.meta.events.register(  # type: ignore[attr-defined]
            "before-call.s3", lambda model, **_: calls.append(model.name))
    return calls


def test_deleting_an_upload_by_what_its_row_records(store: BlobStore) -> None:
    """With the row's record: exactly that is deleted, nothing is listed."""
    gc: CollectableBlobStore = store  # type: ignore[assignment]
    store.create_upload("u-known")
    stored = append(store, "u-known", 0, None, os.urandom(MIN_PART))
    stored = append(store, "u-known", MIN_PART, stored, os.urandom(10))
    if is_s3(store):
        assert stored is not None and stored.multipart_id and stored.parts and stored.tail
    calls = s3_calls(store)
    store.delete_upload("u-known", stored or StoredParts())
    if is_s3(store):  # the multipart upload, then its assembled object and the tail at once
        assert calls == ["AbortMultipartUpload", "DeleteObjects"]
    assert "u-known" not in {u for u, _, _ in gc.stored_uploads()}
    calls.clear()
    store.delete_upload("u-known", stored or StoredParts())  # twice is fine
    assert not any(c.startswith("List") for c in calls)

    # Only a tail recorded: one request.
    store.create_upload("u-tail")
    stored = append(store, "u-tail", 0, None, b"a few bytes")
    calls.clear()
    store.delete_upload("u-tail", stored or StoredParts())
    assert calls == (["DeleteObject"] if is_s3(store) else [])
    assert "u-tail" not in {u for u, _, _ in gc.stored_uploads()}


def test_an_upload_whose_row_records_nothing(store: BlobStore) -> None:
    """A row that records nothing stored (a small POST-then-PUT stored the blob directly):
    nothing is sent. What a crash left unrecorded (a multipart upload created by a request that
    never got to update the row) stays for the garbage collector's sweep of uploads without a
    row, which finds it and deletes it by listing."""
    gc: CollectableBlobStore = store  # type: ignore[assignment]
    store.create_upload("u-nothing")
    calls = s3_calls(store)
    store.delete_upload("u-nothing", StoredParts())
    assert calls == []
    assert "u-nothing" not in {u for u, _, _ in gc.stored_uploads()}

    store.create_upload("u-crashed")

    async def crashed() -> None:
        appender = store.append_upload("u-crashed", 0, None)
        await appender.write(os.urandom(2 * MIN_PART + 5))  # a part goes out ...
        await appender.abort()  # ... and the row is never updated

    asyncio.run(crashed())
    calls.clear()
    store.delete_upload("u-crashed", StoredParts())  # the row recorded nothing
    assert calls == []
    leftovers = {u for u, _, _ in gc.stored_uploads()}
    if is_s3(store):
        assert "u-crashed" in leftovers
    else:
        assert "u-crashed" not in leftovers  # the file is the whole upload
    # The sweep: uploads without a row, idle for longer than the upload timeout.
    purged = UploadPurge(_NoRows(), gc, timedelta(seconds=0)).purge(  # type: ignore[arg-type]
        datetime.now(timezone.utc) + timedelta(minutes=1))
    assert purged.uploads == (1 if is_s3(store) else 0)
    assert "u-crashed" not in {u for u, _, _ in gc.stored_uploads()}
    if is_s3(store):
        assert not store.client.list_multipart_uploads(  # type: ignore[attr-defined]
            Bucket=store.bucket, Prefix=store.prefix).get("Uploads")  # type: ignore[attr-defined]


class _NoRows:
    """The upload purge's view of the database when no upload row is left."""

    def idle_uploads(self, cutoff: datetime) -> list[tuple[str, int]]:
        return []

    def upload_ids(self) -> set[str]:
        return set()


def test_deleting_an_upload(store: BlobStore) -> None:
    upload(store, "u-gone", [os.urandom(MIN_PART + 10)])
    assert "u-gone" in {u for u, _, _ in store.stored_uploads()}  # type: ignore[attr-defined]
    store.delete_upload("u-gone")
    store.delete_upload("u-gone")  # twice is fine
    assert "u-gone" not in {u for u, _, _ in store.stored_uploads()}  # type: ignore[attr-defined]


# --- what the garbage collector uses -------------------------------------------------------------
def test_trash_restore_drop(store: BlobStore) -> None:
    gc: CollectableBlobStore = store  # type: ignore[assignment]
    data = os.urandom(2000)
    d = sha256(data)
    assert gc.changed_at(d) is None
    gc.put(d, data)
    assert [x[0] for x in gc.stored_blobs()] == [d]
    assert gc.changed_at(d) == next(iter(gc.stored_blobs()))[2]  # the sweep re-checks with it
    token = gc.trash(d)
    assert token is not None and not gc.exists(d)
    assert gc.trashed() == [(token, d)]
    assert gc.restore(token) and b"".join(gc.read(d)) == data
    assert gc.trashed() == []
    token = gc.trash(d)
    assert token is not None
    gc.put(d, data)  # stored again meanwhile: the trashed copy is dropped, not restored
    assert not gc.restore(token) and gc.exists(d) and gc.trashed() == []
    token = gc.trash(d)
    assert token is not None
    gc.drop(token)
    assert not gc.exists(d) and gc.trashed() == [] and gc.trash(d) is None
    assert gc.remove_temporaries(time.time() + 60) >= 0


# --- downloads ---------------------------------------------------------------------------------
def test_download_urls(make_store: Callable[..., BlobStore]) -> None:
    store = make_store()
    data = os.urandom(50_000)
    d = sha256(data)
    store.put(d, data)
    url = store.download_url(d, 60)
    if not is_s3(store):
        assert url is None  # the registry serves the file itself
        return
    assert url is not None
    assert httpx.get(url).content == data
    ranged = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == data[10:20]
    assert httpx.get(url.replace("Signature=", "Signature=0")).status_code == 403
    assert httpx.head(url).status_code == 403  # presigned URLs are bound to GET
    assert make_store(redirect=False).download_url(d, 60) is None
    expired = store.download_url(d, 1)
    time.sleep(2.1)
    assert expired is not None and httpx.get(expired).status_code == 403


def test_s3_driver_refuses_a_missing_bucket(ceph: CephRgw) -> None:
    store = S3BlobStore("no-such-bucket-" + uuid.uuid4().hex[:8], endpoint_url=ceph.endpoint,
                        access_key_id=S3_ACCESS_KEY, secret_access_key=S3_SECRET_KEY)
    with pytest.raises(Exception):
        store.check()
