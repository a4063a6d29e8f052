"""Purge of abandoned uploads: upload rows idle for longer than the upload timeout, buffers without
a row, and temporary files a crashed write left behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dockyard.metadata.gc_store import SqlGcStore
from dockyard.ports import CollectableBlobStore


@dataclass(frozen=True, slots=True)
class Purged:
    uploads: int
    bytes: int
    temporaries: int


class UploadPurge:
    def __init__(self, store: SqlGcStore, blobs: CollectableBlobStore, timeout: timedelta) -> None:
        self.store = store
        self.blobs = blobs
        self.timeout = timeout

    def purge(self, now: datetime, *, dry_run: bool = False) -> Purged:
        cutoff = now - self.timeout
        count = size = 0
        for upload_id, upload_size in self.store.idle_uploads(cutoff):
            # The row goes first, only if still idle: an append racing with this finds no row and
            # fails cleanly (BLOB_UPLOAD_UNKNOWN) instead of writing into a deleted buffer.
            if dry_run or self.store.remove_idle_upload(upload_id, cutoff):
                if not dry_run:
                    self.blobs.delete_upload(upload_id)
                count += 1
                size += upload_size
        known = self.store.upload_ids()
        for upload_id, buffer_size, changed in list(self.blobs.stored_uploads()):
            if upload_id not in known and changed < cutoff.timestamp():
                if not dry_run:
                    self.blobs.delete_upload(upload_id)
                count += 1
                size += buffer_size
        temporaries = 0 if dry_run else self.blobs.remove_temporaries(cutoff.timestamp())
        return Purged(count, size, temporaries)
