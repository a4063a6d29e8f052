"""S3 BlobStore: blobs and uploads in one bucket of an S3-compatible service (AWS S3, Ceph RADOS
Gateway, MinIO, ...), shared by every Dockyard node.

Keys, under the configured prefix:

``blobs/<algorithm>/<hex>``
    content-addressed blobs: written once (only after their digest was verified), never rewritten.
``uploads/<upload id>/data``
    the S3 multipart upload of an upload in progress, completed here when the upload ends.
``uploads/<upload id>/tail-<size>-<nonce>``
    the bytes after the last part, fewer than a part (S3 parts but the last are >= 5 MiB).
``trash/<token>``
    blobs the garbage collector is taking away (see ``gc/``).

An upload's parts and tail are recorded on its row (``StoredParts``: the UploadId, each part's
number, ETag and size, the tail object), so any node continues it: a request reads the tail back,
sends parts as they fill (one in flight while the next fills) and writes the new tail at its end
(none when it sent a part: its rest goes as its last part); once the row records the new state the
tail it replaced is deleted. Tails get a fresh name each time and parts are completed by the ETags
the row holds, so a request that lost a race with another one on the same upload can never change
what the row describes. Discarding an upload deletes what its row records, without listing.

Completing: the blob key is written only when no blob has it (dedup), by a server-side copy of the
assembled upload (the multipart upload completed with the tail as its last part, or the tail alone
when the upload never filled a part); small monolithic uploads are verified in memory and written
straight to the blob key. Blob GETs can be redirected to short-lived presigned URLs.

S3 (AWS since December 2020, Ceph RGW) is strongly consistent for reads after writes and deletes:
a blob the collector trashed (copied to ``trash/``, then deleted inside its deciding transaction) is
absent for every node's ``exists`` at once, which is what the collector's protocol needs.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from dockyard.domain.digest import Digest
from dockyard.domain.models import StoredParts, UploadPart
from dockyard.errors import DockyardError, UploadInvalid
from dockyard.storage.filesystem import trash_digest

MIB = 1024 * 1024
MIN_PART = 5 * MIB  # S3's minimum size of every part but the last
CHUNK = MIB
COPY_LIMIT = 5 * 1024 * MIB  # CopyObject's limit; larger objects are copied in parts
log = logging.getLogger(__name__)
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) in _MISSING


@contextmanager
def _gone_is_invalid() -> Iterator[None]:
    """An upload object that vanished (replaced by a racing request, purged): the upload cannot
    go on, which is the client's error to handle, not a server failure."""
    try:
        yield
    except ClientError as error:
        if _missing(error):
            raise UploadInvalid("the upload's stored bytes are gone; start it again") from None
        raise


class S3BlobStore:
    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, access_key_id: str | None = None,
                 secret_access_key: str | None = None, public_endpoint_url: str | None = None,
                 redirect: bool = True, part_size: int = 8 * MIB) -> None:
        if part_size < MIN_PART:
            raise ValueError(f"S3 parts must be at least {MIN_PART} bytes")
        self.bucket = bucket
        self.prefix = prefix.lstrip("/")
        if self.prefix and not self.prefix.endswith("/"):
            self.prefix += "/"
        self.redirect = redirect
        self.part_size = part_size
        session = boto3.session.Session(aws_access_key_id=access_key_id,
                                        aws_secret_access_key=secret_access_key,
                                        region_name=region or "us-east-1")
        # A custom endpoint (RGW, MinIO) rarely has wildcard DNS for virtual-hosted buckets.
        style = "path" if endpoint_url else "auto"
        config = Config(signature_version="s3v4", s3={"addressing_style": style},
                        retries={"mode": "standard", "max_attempts": 5},
                        max_pool_connections=64, connect_timeout=10, read_timeout=120)
        self.client = session.client("s3", endpoint_url=endpoint_url or None, config=config)
        # Presigned URLs are signed for the host clients will use (the host is signed too).
        self._presigner = (session.client("s3", endpoint_url=public_endpoint_url, config=config)
                           if public_endpoint_url else self.client)

    # --- keys ---------------------------------------------------------------------------------
    def _key(self, digest: Digest) -> str:
        return f"{self.prefix}blobs/{digest.algorithm}/{digest.hex}"

    def _upload_prefix(self, upload_id: str) -> str:
        return f"{self.prefix}uploads/{upload_id}/"

    def _data_key(self, upload_id: str) -> str:
        return self._upload_prefix(upload_id) + "data"

    def _trash_key(self, token: str) -> str:
        return f"{self.prefix}trash/{token}"

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return None
            raise

    # --- blobs ------------------------------------------------------------------------------------
    def local_path(self, digest: Digest) -> None:
        return None

    def exists(self, digest: Digest) -> bool:
        return self._head(self._key(digest)) is not None

    def size(self, digest: Digest) -> int | None:
        head = self._head(self._key(digest))
        return None if head is None else int(head["ContentLength"])

    def read(self, digest: Digest, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) of a blob, in chunks."""
        yield from self._read_key(self._key(digest), start, end)

    def _read_key(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if end is not None and end <= start:
            return
        extra = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        body = self.client.get_object(Bucket=self.bucket, Key=key, **extra)["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def download_url(self, digest: Digest, expires_in: int) -> str | None:
        """A presigned GET of the blob, valid ``expires_in`` seconds (None in proxy mode)."""
        if not self.redirect:
            return None
        return self._presigner.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self._key(digest)},
            ExpiresIn=expires_in)

    def put(self, digest: Digest, data: bytes) -> None:
        """Store bytes already verified to have ``digest`` (never over an existing blob)."""
        if self.exists(digest):
            return
        self.client.put_object(Bucket=self.bucket, Key=self._key(digest), Body=data,
                               ContentType="application/octet-stream")

    def delete(self, digest: Digest) -> bool:
        if not self.exists(digest):
            return False
        self.client.delete_object(Bucket=self.bucket, Key=self._key(digest))
        return True

    def check(self) -> None:
        """Readiness: the bucket answers with these credentials."""
        self.client.head_bucket(Bucket=self.bucket)

    def _copy(self, source: str, target: str, size: int) -> None:
        """Server-side copy (no bytes through this node)."""
        copy_source = {"Bucket": self.bucket, "Key": source}
        if size <= COPY_LIMIT:
            self.client.copy_object(Bucket=self.bucket, Key=target, CopySource=copy_source,
                                    ContentType="application/octet-stream",
                                    MetadataDirective="REPLACE")
        else:
            self.client.copy(copy_source, self.bucket, target, Config=TransferConfig(
                multipart_threshold=COPY_LIMIT, multipart_chunksize=512 * MIB))

    # --- uploads ----------------------------------------------------------------------------------
    def create_upload(self, upload_id: str) -> None:
        """Nothing to create yet: the multipart upload starts when the first part is full."""

    def append_upload(self, upload_id: str, offset: int,
                      stored: StoredParts | None) -> "_S3Appender":
        return _S3Appender(self, upload_id, offset, stored)

    def _read_tail(self, upload_id: str, tail: str | None, size: int) -> bytes:
        if tail is None:
            raise UploadInvalid("the upload's stored bytes are missing; start it again")
        with _gone_is_invalid():
            data = b"".join(self._read_key(self._upload_prefix(upload_id) + tail, 0, size))
        if len(data) != size:
            raise UploadInvalid("the upload's stored bytes are incomplete; start it again")
        return data

    def _put_tail(self, upload_id: str, size: int, data: bytes) -> str:
        name = f"tail-{size}-{uuid.uuid4().hex[:12]}"  # fresh each time: racing requests differ
        self.client.put_object(Bucket=self.bucket, Key=self._upload_prefix(upload_id) + name,
                               Body=data)
        return name

    def _create_multipart(self, upload_id: str) -> str:
        return self.client.create_multipart_upload(
            Bucket=self.bucket, Key=self._data_key(upload_id),
            ContentType="application/octet-stream")["UploadId"]

    def _upload_part(self, upload_id: str, multipart_id: str, number: int,
                     data: bytes) -> UploadPart:
        try:
            response = self.client.upload_part(Bucket=self.bucket, Key=self._data_key(upload_id),
                                               UploadId=multipart_id, PartNumber=number, Body=data)
        except ClientError as error:
            if _missing(error):
                raise UploadInvalid("the upload's multipart upload is gone (completed by a digest "
                                    "check, or purged); start the upload again") from None
            raise
        return UploadPart(number, response["ETag"], len(data))

    def _assemble(self, upload_id: str, size: int, stored: StoredParts | None) -> str | None:
        """The key of an object holding exactly bytes [0, size) of the upload (None if empty)."""
        if size == 0:
            return None
        parts = stored.parts if stored is not None else ()
        tail = stored.tail if stored is not None else None
        if not parts:
            if tail is None:
                raise UploadInvalid("the upload's stored bytes are missing; start it again")
            return self._upload_prefix(upload_id) + tail
        assert stored is not None and stored.multipart_id is not None
        key = self._data_key(upload_id)
        head = self._head(key)
        if head is not None and int(head["ContentLength"]) == size:
            return key  # assembled by an earlier request (a digest check, a retried completion)
        listing = [{"PartNumber": p.number, "ETag": p.etag} for p in parts]
        if size > stored.size:  # the tail becomes the last part (which may be small)
            if tail is None:
                raise UploadInvalid("the upload's stored bytes are missing; start it again")
            number = len(parts) + 1
            try:
                copied = self.client.upload_part_copy(
                    Bucket=self.bucket, Key=key, UploadId=stored.multipart_id, PartNumber=number,
                    CopySource={"Bucket": self.bucket, "Key": self._upload_prefix(upload_id) + tail})
            except ClientError as error:
                if _missing(error):
                    raise UploadInvalid("the upload's parts are gone; start it again") from None
                raise
            listing.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
        try:
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=stored.multipart_id,
                MultipartUpload={"Parts": listing})
        except ClientError as error:
            # InvalidPart: a part's ETag is not the one the row recorded (a request that lost a
            # race overwrote it): refuse rather than assemble other bytes.
            raise UploadInvalid(f"the upload's parts could not be assembled "
                                f"({error.response.get('Error', {}).get('Code')}); start it "
                                "again") from None
        return key

    def verify_upload(self, upload_id: str, size: int, stored: StoredParts | None,
                      digest: Digest) -> bool:
        """Whether bytes [0, size) of an upload have ``digest``, by streaming them once (the
        multipart upload is completed to be read; a retried completion reuses it)."""
        hasher = digest.hasher()
        key = self._assemble(upload_id, size, stored)
        seen = 0
        if key is not None:
            with _gone_is_invalid():
                for chunk in self._read_key(key, 0, size):
                    hasher.update(chunk)
                    seen += len(chunk)
        return seen == size and hasher.hexdigest() == digest.hex

    def commit_upload(self, upload_id: str, digest: Digest, size: int,
                      stored: StoredParts | None = None) -> None:
        """Make bytes [0, size) of an upload the blob ``digest`` (already verified)."""
        if self.exists(digest):
            return  # dedup: a blob is never rewritten
        key = self._assemble(upload_id, size, stored)
        if key is None:
            self.client.put_object(Bucket=self.bucket, Key=self._key(digest), Body=b"",
                                   ContentType="application/octet-stream")
            return
        with _gone_is_invalid():
            self._copy(key, self._key(digest), size)

    def delete_upload(self, upload_id: str, stored: StoredParts | None = None) -> None:
        """Delete what the store keeps for an upload (idempotent).

        With ``stored``, what the upload's row records, exactly that and nothing listed: its
        multipart upload aborted (and the object it was assembled into deleted), its tail deleted;
        nothing at all when the row records nothing. Whatever a crash or a racing request left
        beside it is the garbage collector's sweep of uploads without a row (``stored_uploads``).
        Without ``stored`` (the caller does not know), everything under the upload's prefix, found
        by listing."""
        if stored is not None:
            keys = []
            if stored.multipart_id is not None:
                self._abort_multipart(self._data_key(upload_id), stored.multipart_id)
                keys.append(self._data_key(upload_id))  # assembled by a digest check or completion
            if stored.tail is not None:
                keys.append(self._upload_prefix(upload_id) + stored.tail)
            self._delete_keys(keys)
            return
        prefix = self._upload_prefix(upload_id)
        for page in self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                self._abort_multipart(upload["Key"], upload["UploadId"])
        self._delete_keys([o["Key"] for o in self._objects(prefix)])

    def _abort_multipart(self, key: str, multipart_id: str) -> None:
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=multipart_id)
        except ClientError as error:
            if not _missing(error):  # NoSuchUpload: completed or aborted already
                raise

    def _delete_keys(self, keys: list[str]) -> None:
        if len(keys) == 1:
            self.client.delete_object(Bucket=self.bucket, Key=keys[0])
            return
        for i in range(0, len(keys), 1000):
            self.client.delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": k} for k in keys[i:i + 1000]], "Quiet": True})

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    # --- garbage collection (gc/collector.py decides; these only move objects) ------------------
    def stored_blobs(self) -> Iterator[tuple[Digest, int, float]]:
        """Every blob object: (digest, size, time of its last change)."""
        start = len(self.prefix) + len("blobs/")
        for item in self._objects(self.prefix + "blobs/"):
            algorithm, _, hex_digest = item["Key"][start:].partition("/")
            try:
                digest = Digest.parse(f"{algorithm}:{hex_digest}")
            except DockyardError:
                continue
            yield digest, int(item["Size"]), item["LastModified"].timestamp()

    def changed_at(self, digest: Digest) -> float | None:
        """When the blob object was last written, as ``stored_blobs`` reports it (from a listing:
        a HEAD's Last-Modified has only a one-second resolution); None if absent."""
        key = self._key(digest)
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=key, MaxKeys=1)
        for item in listed.get("Contents", []):
            if item["Key"] == key:
                return item["LastModified"].timestamp()
        return None

    def trash(self, digest: Digest) -> str | None:
        """Take a blob out of sight (copy to the trash, then delete); the token restores or drops
        it. None if absent."""
        head = self._head(self._key(digest))
        if head is None:
            return None
        token = f"{digest.algorithm}-{digest.hex}-{uuid.uuid4().hex[:12]}"
        self._copy(self._key(digest), self._trash_key(token), int(head["ContentLength"]))
        self.client.delete_object(Bucket=self.bucket, Key=self._key(digest))
        return token

    def restore(self, token: str) -> bool:
        """Put a trashed blob back (unless the blob was stored again meanwhile); True if it was."""
        digest = trash_digest(token)
        head = self._head(self._trash_key(token))
        if head is None or self.exists(digest):
            self.drop(token)
            return False
        self._copy(self._trash_key(token), self._key(digest), int(head["ContentLength"]))
        self.drop(token)
        return True

    def drop(self, token: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._trash_key(token))

    def trashed(self) -> list[tuple[str, Digest]]:
        start = len(self.prefix) + len("trash/")
        names = sorted(o["Key"][start:] for o in self._objects(self.prefix + "trash/"))
        return [(name, trash_digest(name)) for name in names]

    def stored_uploads(self) -> Iterator[tuple[str, int, float]]:
        """Every upload's objects and multipart uploads: (upload id, size, time of last write)."""
        start = len(self.prefix) + len("uploads/")
        found: dict[str, list[float]] = {}
        for item in self._objects(self.prefix + "uploads/"):
            entry = found.setdefault(item["Key"][start:].split("/", 1)[0], [0, 0.0])
            entry[0] += int(item["Size"])
            entry[1] = max(entry[1], item["LastModified"].timestamp())
        for page in self.client.get_paginator("list_multipart_uploads").paginate(
                Bucket=self.bucket, Prefix=self.prefix + "uploads/"):
            for upload in page.get("Uploads", []):
                entry = found.setdefault(upload["Key"][start:].split("/", 1)[0], [0, 0.0])
                entry[1] = max(entry[1], upload["Initiated"].timestamp())
        for upload_id, (size, changed) in sorted(found.items()):
            yield upload_id, int(size), changed

    def remove_temporaries(self, older_than: float) -> int:
        """Nothing: every object this driver writes belongs to an upload or a blob."""
        return 0


class _S3Appender:
    """One request's appends: previous tail + new bytes, sent as parts of exactly the part size
    (one in flight while the next fills), the rest by ``close``: as the request's last part when
    it sent a part already or the rest fills one, else as the new tail. A part is cut only while at
    least ``MIN_PART`` bytes stay buffered, so a request that sent a part ends without a tail (no
    tail to write, read back by the next request or copied in at completion), and every part but a
    request's last has exactly the part size."""

    def __init__(self, store: S3BlobStore, upload_id: str, offset: int,
                 stored: StoredParts | None) -> None:
        self._store = store
        self._upload_id = upload_id
        self._offset = offset
        self._before = stored
        self._multipart_id = stored.multipart_id if stored else None
        self._parts = list(stored.parts) if stored else []
        self._tail = stored.tail if stored else None
        self._tail_size = offset - sum(p.size for p in self._parts)
        self._buffer = bytearray()
        self._pending: asyncio.Future[UploadPart] | None = None
        self._written = 0
        self._sent = False
        self._superseded: str | None = None

    async def write(self, data: bytes) -> None:
        if not data:
            return
        if self._tail_size:  # the bytes after the last part come first
            size, self._tail_size = self._tail_size, 0
            self._buffer += await asyncio.to_thread(self._store._read_tail, self._upload_id,
                                                    self._tail, size)
        self._buffer += data
        self._written += len(data)
        part_size = self._store.part_size
        while len(self._buffer) >= part_size + MIN_PART:
            part = bytes(self._buffer[:part_size])
            del self._buffer[:part_size]
            await self._send_part(part)

    async def _send_part(self, data: bytes) -> None:
        await self._settle()
        if self._multipart_id is None:
            self._multipart_id = await asyncio.to_thread(self._store._create_multipart,
                                                         self._upload_id)
        self._sent = True
        self._pending = asyncio.ensure_future(asyncio.to_thread(
            self._store._upload_part, self._upload_id, self._multipart_id,
            len(self._parts) + 1, data))

    async def _settle(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._parts.append(await pending)

    async def close(self) -> StoredParts | None:
        if not self._written:
            return self._before
        tail = None
        if self._buffer and (self._sent or len(self._buffer) >= self._store.part_size):
            data, self._buffer = bytes(self._buffer), bytearray()
            await self._send_part(data)  # >= MIN_PART bytes: valid whether more parts follow or not
        await self._settle()
        if self._buffer:
            tail = await asyncio.to_thread(self._store._put_tail, self._upload_id,
                                           self._offset + self._written, bytes(self._buffer))
        self._superseded = self._tail  # read back: its bytes are in the new parts or tail
        return StoredParts(self._multipart_id, tuple(self._parts), tail)

    async def recorded(self) -> None:
        """The row records what ``close`` returned: delete the tail it replaced (best effort;
        a tail left behind goes with the upload)."""
        superseded, self._superseded = self._superseded, None
        if superseded is not None:
            key = self._store._upload_prefix(self._upload_id) + superseded
            try:
                await asyncio.to_thread(self._store.client.delete_object,
                                        Bucket=self._store.bucket, Key=key)
            except Exception:  # noqa: BLE001 - the upload stays correct; the object is swept later
                log.warning("could not delete the replaced tail %s", key, exc_info=True)

    async def abort(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:  # the part may still land; the row will not list it
            pending.add_done_callback(lambda f: f.cancelled() or f.exception())
            pending.cancel()
