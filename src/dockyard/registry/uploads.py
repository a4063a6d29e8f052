"""Blob uploads: start, append (chunked or streamed), complete with digest check, cancel, mount.

The running sha256 stays in the process that received the bytes; at the end of every append the
upload row records "sha256 of bytes [0, n)", so a completing PUT without a body — on any node — is
checked without re-reading. When bytes arrive at a process without the running state (the upload
moved between nodes, or the process restarted), that append is not hashed: the row keeps the
digest of the prefix it had, and the completing request recomputes the digest by streaming the
stored bytes once (``BlobStore.verify_upload``; an S3 multipart upload cannot be read back before
it is completed, so this is where it is).

The blob store writes the bytes (``BlobStore.append_upload``) and says what the row must record to
find them again (the parts of an S3 multipart upload), so any node can continue any upload.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from dockyard.domain.digest import Digest
from dockyard.domain.models import Principal, Repository, StoredParts, Upload
from dockyard.errors import (
    DigestInvalid,
    EmptyUpload,
    LayerAlreadyExists,
    RangeInvalid,
    UploadInvalid,
    UploadUnknown,
)
from dockyard.metadata.registry_store import SqlRegistryStore
from dockyard.ports import BlobStore, Clock
from dockyard.registry.repositories import RepositoryService

INITIATE, UPLOAD_PART, COMPLETE = "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"
_PULL = "ecr:GetDownloadUrlForLayer"


@dataclass(frozen=True, slots=True)
class ByteRange:
    """An inclusive ``start-end`` range as in ``Content-Range``."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class _Hashing:
    __slots__ = ("size", "hasher")

    def __init__(self, size: int, hasher: "hashlib._Hash") -> None:
        self.size = size
        self.hasher = hasher


class UploadService:
    def __init__(self, store: SqlRegistryStore, blobs: BlobStore, repos: RepositoryService,
                 clock: Clock, blob_mounting: Callable[[], bool] = lambda: True) -> None:
        self.store = store
        self.blobs = blobs
        self.repos = repos
        self.clock = clock
        self.blob_mounting = blob_mounting  # the BLOB_MOUNTING account setting, read per mount
        self._hashing: dict[str, _Hashing] = {}

    def start(self, caller: Principal | None, name: str) -> Upload:
        repo = self.repos.find(caller, name, INITIATE)
        return self._start(repo)

    def _start(self, repo: Repository) -> Upload:
        now = self.clock.now()
        upload = Upload(str(uuid.uuid4()), repo.id, 0, 0, None, now, now)
        self.blobs.create_upload(upload.id)
        self.store.create_upload(upload)
        return upload

    def mount(self, caller: Principal | None, name: str, digest: Digest,
              source: str | None) -> Upload | None:
        """Link a blob from ``source`` (or any repository the caller can read, when it holds it).

        Returns None when mounted; otherwise a fresh upload to push the blob normally. As in ECR,
        nothing is mounted while the BLOB_MOUNTING account setting is DISABLED, nor between
        repositories whose encryption configurations differ.
        """
        repo = self.repos.find(caller, name, INITIATE)
        size = None
        if source and source != name and self.repos.authz.allowed(
                caller, _PULL, self.repos.address.repository_arn(source)) and self.blob_mounting():
            source_repo = self.store.get_repository(source)
            if source_repo is not None and (source_repo.encryption_type, source_repo.kms_key) == (
                    repo.encryption_type, repo.kms_key):
                size = self.store.linked_blob_size(source_repo.id, str(digest))
        if size is None or not self.store.link_blob(repo.id, str(digest), size, self.clock.now(),
                                                    stored=lambda: self.blobs.exists(digest)):
            return self._start(repo)
        return None

    async def put_small(self, caller: Principal | None, name: str, digest: Digest, data: bytes) -> None:
        """A monolithic upload small enough to verify in memory: no upload row, no upload file."""
        self.repos.find(caller, name, INITIATE)
        repo = self.repos.find(caller, name, COMPLETE)
        if Digest.of(data, digest.algorithm) != digest:
            raise DigestInvalid("provided digest did not match uploaded content",
                                {"digest": str(digest)})
        await asyncio.to_thread(self._link_stored, repo, digest, len(data),
                                lambda: self.blobs.put(digest, data))

    def status(self, caller: Principal | None, name: str, upload_id: str) -> Upload:
        repo = self.repos.find(caller, name, UPLOAD_PART)
        return self._get(repo, upload_id)

    def _get(self, repo: Repository, upload_id: str) -> Upload:
        upload = self.store.get_upload(repo.id, upload_id) if _is_uuid(upload_id) else None
        if upload is None:
            raise UploadUnknown("blob upload unknown to registry", {"upload": upload_id})
        return upload

    async def append(self, caller: Principal | None, name: str, upload_id: str,
                     chunks: AsyncIterator[bytes], content_range: ByteRange | None = None) -> Upload:
        repo = self.repos.find(caller, name, UPLOAD_PART)
        return await self._append(self._get(repo, upload_id), chunks, content_range)

    async def _append(self, upload: Upload, chunks: AsyncIterator[bytes],
                      content_range: ByteRange | None) -> Upload:
        if content_range is not None and content_range.start != upload.size:
            raise RangeInvalid(
                f"range start {content_range.start} does not continue the upload at {upload.size}",
                {"size": upload.size})
        state = self._running_hash(upload)
        written = 0
        appender = self.blobs.append_upload(upload.id, upload.size, upload.stored)
        try:
            async for chunk in chunks:
                await appender.write(chunk)
                if state is not None:
                    state.hasher.update(chunk)
                written += len(chunk)
            if content_range is not None and written != content_range.length:
                raise UploadInvalid(f"Content-Range announced {content_range.length} bytes but "
                                    f"the body had {written}")
            stored = await appender.close()
        except BaseException:
            await appender.abort()
            raise
        size = upload.size + written
        if state is not None:
            state.size = size
            sha256_size, hex_digest = size, state.hasher.copy().hexdigest()
        else:  # the row keeps the digest of the prefix it knows; completion streams the rest
            sha256_size, hex_digest = upload.sha256_size, upload.sha256_hex
        now = self.clock.now()
        self.store.advance_upload(upload.id, expected_size=upload.size, size=size,
                                  sha256_size=sha256_size, sha256_hex=hex_digest, now=now,
                                  stored=stored)
        await appender.recorded()  # only now: until the row moved, it may still need what it had
        if state is not None:
            self._hashing[upload.id] = state
        return Upload(upload.id, upload.repository_id, size, sha256_size, hex_digest,
                      upload.created_at, now, stored)

    def _running_hash(self, upload: Upload) -> _Hashing | None:
        """The running sha256 of the upload's bytes, or None when this process does not hold it
        (the bytes before were received elsewhere)."""
        state = self._hashing.pop(upload.id, None)
        if state is not None and state.size == upload.size:
            return state
        if upload.size == 0:
            return _Hashing(0, hashlib.sha256())
        return None

    async def complete(self, caller: Principal | None, name: str, upload_id: str, digest: Digest,
                       chunks: AsyncIterator[bytes] | None = None,
                       content_range: ByteRange | None = None) -> Digest:
        repo = self.repos.find(caller, name, COMPLETE)
        return await self._complete(repo, self._get(repo, upload_id), digest, chunks,
                                    content_range)

    async def complete_small(self, caller: Principal | None, name: str, upload_id: str,
                             digest: Digest, data: bytes) -> Digest:
        """Complete an upload with a final chunk small enough to hold in memory. When the upload
        is still empty and the chunk is the blob, the bytes are verified here and stored as the
        blob directly (no append to the upload's buffer, no row update in between)."""
        repo = self.repos.find(caller, name, COMPLETE)
        upload = self._get(repo, upload_id)
        if upload.size != 0 or Digest.of(data, digest.algorithm) != digest:
            return await self._complete(repo, upload, digest, _once(data), None)
        await asyncio.to_thread(self._finish, repo, upload, digest, len(data),
                                lambda: self.blobs.put(digest, data))
        return digest

    async def _complete(self, repo: Repository, upload: Upload, digest: Digest,
                        chunks: AsyncIterator[bytes] | None,
                        content_range: ByteRange | None) -> Digest:
        if chunks is not None:
            upload = await self._append(upload, chunks, content_range)
        if not await self._digest_matches(upload, digest):
            raise DigestInvalid("provided digest did not match uploaded content",
                                {"digest": str(digest)})
        # Off the event loop: the blob store may copy or fsync a large object here.
        await asyncio.to_thread(self._finish, repo, upload, digest, upload.size)
        return digest

    def _finish(self, repo: Repository, upload: Upload, digest: Digest, size: int,
                store_bytes: Callable[[], None] | None = None) -> None:
        """Store and link the blob (by default from the upload's stored bytes), then discard the
        upload whatever happened."""
        try:
            self._link_stored(repo, digest, size, store_bytes or (lambda: self.blobs.commit_upload(
                upload.id, digest, upload.size, upload.stored)))
        finally:
            self._discard(upload)

    def _discard(self, upload: Upload) -> None:
        """Delete the upload's row, then exactly what the row recorded the store keeps for it (no
        listing). Bytes a crash or a racing request left beside that are swept with the uploads
        that have no row (gc/upload_purge.py)."""
        self.store.delete_upload(upload.id)
        self.blobs.delete_upload(upload.id, upload.stored or StoredParts())
        self._hashing.pop(upload.id, None)

    def _link_stored(self, repo: Repository, digest: Digest, size: int,
                     store_bytes: Callable[[], None]) -> None:
        """Store a verified blob and link it. ``store_bytes`` writes nothing when the blob is
        already stored (dedup: ``put`` and ``commit_upload`` check first), so it is the only check
        before the link. The file is checked again in the linking transaction, where the garbage
        collector cannot take it away (docs/architecture.md, "Blobs and uploads")."""
        def stored() -> bool:
            return self.blobs.exists(digest)

        for _attempt in range(3):  # the collector took the file between storing and linking
            store_bytes()
            if self.store.link_blob(repo.id, str(digest), size, self.clock.now(), stored):
                return
        raise UploadInvalid("the blob was reclaimed by garbage collection while it was being "
                            "stored; upload it again", {"digest": str(digest)})

    async def complete_layer(self, caller: Principal | None, name: str, upload_id: str,
                             digest: Digest) -> Digest:
        """ECR ``CompleteLayerUpload``: as ``complete``, refusing empty uploads and known layers."""
        repo = self.repos.find(caller, name, COMPLETE)
        upload = self._get(repo, upload_id)
        if upload.size == 0:
            raise EmptyUpload(f"The upload with id '{upload_id}' does not contain any layer parts")
        if self.store.linked_blob_size(repo.id, str(digest)) is not None:
            raise LayerAlreadyExists(
                f"The layer '{digest}' already exists in the repository with name '{name}' in "
                f"registry with id '{self.repos.address.registry_id}'")
        return await self.complete(caller, name, upload_id, digest)

    async def _digest_matches(self, upload: Upload, digest: Digest) -> bool:
        if digest.algorithm == "sha256" and upload.sha256_size == upload.size and upload.sha256_hex:
            return upload.sha256_hex == digest.hex
        # No running hash covers the bytes: stream them once (off the event loop).
        return await asyncio.to_thread(self.blobs.verify_upload, upload.id, upload.size,
                                       upload.stored, digest)

    def cancel(self, caller: Principal | None, name: str, upload_id: str) -> None:
        repo = self.repos.find(caller, name, UPLOAD_PART)
        self._discard(self._get(repo, upload_id))


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data
