"""Blobs as a repository sees them: only blobs linked to the repository are visible in it."""

from __future__ import annotations

from pathlib import Path

from dockyard.domain.digest import Digest
from dockyard.domain.models import Principal
from dockyard.errors import BlobUnknown
from dockyard.metadata.registry_store import SqlRegistryStore
from dockyard.ports import BlobStore
from dockyard.registry.repositories import RepositoryService

DOWNLOAD, CHECK, DELETE = "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:BatchDeleteImage"


class BlobService:
    def __init__(self, store: SqlRegistryStore, blobs: BlobStore, repos: RepositoryService) -> None:
        self.store = store
        self.blobs = blobs
        self.repos = repos

    def stat(self, caller: Principal | None, name: str, digest: Digest, *,
             action: str = DOWNLOAD) -> int:
        self.repos.authorize(caller, name, action)
        exists, size = self.store.lookup_blob(name, str(digest))
        if not exists:
            raise self.repos.not_found(name)
        if size is None:
            raise BlobUnknown("blob unknown to registry", {"digest": str(digest)})
        return size

    def local_path(self, digest: Digest) -> Path | None:
        return self.blobs.local_path(digest)

    def read(self, digest: Digest, start: int = 0, end: int | None = None):  # type: ignore[no-untyped-def]
        return self.blobs.read(digest, start, end)

    def delete(self, caller: Principal | None, name: str, digest: Digest) -> None:
        """Unlink a blob from a repository; the bytes go when no repository holds them (GC)."""
        repo = self.repos.find(caller, name, DELETE)
        if not self.store.unlink_blob(repo.id, str(digest)):
            raise BlobUnknown("blob unknown to registry", {"digest": str(digest)})
