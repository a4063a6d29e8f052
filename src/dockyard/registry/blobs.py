"""Blobs as a repository sees them: only blobs linked to the repository are visible in it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from dockyard.domain.digest import Digest
from dockyard.domain.models import Principal
from dockyard.errors import BlobUnknown
from dockyard.metadata.registry_store import BlobLookup, SqlRegistryStore
from dockyard.iam.tokens import TokenSigner
from dockyard.ports import BlobStore, Clock
from dockyard.registry.repositories import RepositoryService

DOWNLOAD, CHECK, DELETE = "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability", "ecr:BatchDeleteImage"


DOWNLOAD_URL_SECONDS = 3600
REDIRECT_SECONDS = 600  # presigned URLs a blob GET redirects to: followed at once


class BlobService:
    def __init__(self, store: SqlRegistryStore, blobs: BlobStore, repos: RepositoryService,
                 signer: Callable[[], TokenSigner], clock: Clock,
                 touched: Callable[[int, dict[str, datetime]], set[str]] | None = None) -> None:
        self.store = store
        self.blobs = blobs
        self.repos = repos
        self._signer = signer
        self.clock = clock
        # A push that finds blobs in a repository (HEAD, BatchCheckLayerAvailability) restarts
        # their garbage-collection grace period; returns the digests still linked (gc/).
        self.touched = touched

    def download_url(self, caller: Principal | None, name: str, digest: Digest) -> str:
        """ECR ``GetDownloadUrlForLayer``: a URL that serves the blob for an hour to anyone
        holding it — the blob store's presigned URL when it offers one (S3), else a path on this
        endpoint."""
        self.stat(caller, name, digest, action=DOWNLOAD)
        presigned = self.blobs.download_url(digest, DOWNLOAD_URL_SECONDS)
        if presigned is not None:
            return presigned
        path = f"/v2/{name}/blobs/{digest}"
        expires = int(self.clock.now().timestamp()) + DOWNLOAD_URL_SECONDS
        signature = self._signer().sign_path(path, expires)
        return f"{path}?expires={expires}&signature={signature}"

    def stat_signed(self, name: str, digest: Digest, expires: str, signature: str) -> int:
        """Size of a blob requested through a download URL (the URL stands for the caller)."""
        self._signer().verify_path(f"/v2/{name}/blobs/{digest}", expires, signature, self.clock.now())
        found = self.store.lookup_blob(name, str(digest))
        if not found.exists:
            raise self.repos.not_found(name)
        if found.size is None:
            raise BlobUnknown("blob unknown to registry", {"digest": str(digest)})
        return found.size

    def check_layers(self, caller: Principal | None, name: str,
                     digests: list[Digest]) -> dict[str, int | None]:
        """ECR ``BatchCheckLayerAvailability``: the size of each layer the repository holds."""
        repo = self.repos.find(caller, name, CHECK)
        linked = self.store.linked_blobs(repo.id, [str(d) for d in digests])
        still = set(linked) if self.touched is None else self.touched(
            repo.id, {d: at for d, (_, at) in linked.items()})
        return {str(d): linked[str(d)][0] if str(d) in still else None for d in digests}

    def stat(self, caller: Principal | None, name: str, digest: Digest, *,
             action: str = DOWNLOAD) -> int:
        self.repos.authorize(caller, name, action)
        found = self.store.lookup_blob(name, str(digest))
        if not found.exists:
            raise self.repos.not_found(name)
        if found.size is None or action == CHECK and self._gone_while_touched(found, digest):
            raise BlobUnknown("blob unknown to registry", {"digest": str(digest)})
        return found.size

    def _gone_while_touched(self, found: BlobLookup, digest: Digest) -> bool:
        """Restart the link's grace period; True when the collector took the link meanwhile."""
        if self.touched is None or found.repository_id is None or found.linked_at is None:
            return False
        return not self.touched(found.repository_id, {str(digest): found.linked_at})

    def local_path(self, digest: Digest) -> Path | None:
        return self.blobs.local_path(digest)

    def redirect_url(self, digest: Digest) -> str | None:
        """Where a blob GET (already authorized) is sent instead of streaming it: a short-lived
        presigned URL of the blob store, or None to serve it here."""
        return self.blobs.download_url(digest, REDIRECT_SECONDS)

    def read(self, digest: Digest, start: int = 0, end: int | None = None):  # type: ignore[no-untyped-def]
        return self.blobs.read(digest, start, end)

    def delete(self, caller: Principal | None, name: str, digest: Digest) -> None:
        """Unlink a blob from a repository; the bytes go when no repository holds them (GC)."""
        repo = self.repos.find(caller, name, DELETE)
        if not self.store.unlink_blob(repo.id, str(digest)):
            raise BlobUnknown("blob unknown to registry", {"digest": str(digest)})
