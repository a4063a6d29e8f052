"""Storage accounting in SQL: bytes per repository and for the registry, and repository quotas.

A repository stores its manifests and the blobs they refer to; a blob shared by several
repositories counts in full in each of them, and once for the registry. ``linked`` also counts
blobs uploaded (or no longer referenced) that garbage collection has not reclaimed yet;
``exclusive`` counts the linked blobs no other repository links — what deleting the repository
frees.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from dockyard.domain.models import NewManifest
from dockyard.domain.sizes import human_bytes
from dockyard.errors import QuotaExceeded
from dockyard.metadata.engine import Database, retry_conflicts
from dockyard.metadata.tables import (
    blobs,
    manifest_references,
    manifests,
    repositories,
    repository_blobs,
    repository_quotas,
    uploads,
)


@dataclass(frozen=True, slots=True)
class RepositoryUsage:
    repository_id: int
    name: str
    images: int
    manifest_bytes: int
    referenced_bytes: int
    linked_bytes: int
    exclusive_bytes: int
    max_bytes: int | None = None
    max_images: int | None = None

    @property
    def stored_bytes(self) -> int:
        """What the quota counts: manifests plus the distinct blobs they refer to."""
        return self.manifest_bytes + self.referenced_bytes


@dataclass(frozen=True, slots=True)
class RegistryUsage:
    repositories: int
    images: int
    blobs: int
    blob_bytes: int  # every stored blob once, however many repositories share it
    manifest_bytes: int
    upload_bytes: int  # uploads in progress (or abandoned, until purged)

    @property
    def stored_bytes(self) -> int:
        return self.blob_bytes + self.manifest_bytes




def _referenced(repository_id: Any):  # type: ignore[no-untyped-def]
    return select(manifest_references.c.target_digest).distinct().where(
        manifest_references.c.repository_id == repository_id, manifest_references.c.kind == "blob")


@retry_conflicts
class SqlUsageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def repositories(self, names: Sequence[str] | None = None) -> list[RepositoryUsage]:
        query = select(repositories.c.id, repositories.c.name, repository_quotas.c.max_bytes,
                       repository_quotas.c.max_images).outerjoin(
            repository_quotas, repository_quotas.c.repository_id == repositories.c.id
        ).order_by(repositories.c.name)
        if names is not None:
            query = query.where(repositories.c.name.in_(list(names)))
        shared = (select(repository_blobs.c.digest).group_by(repository_blobs.c.digest)
                  .having(func.count() > 1))
        refs = select(manifest_references.c.repository_id, manifest_references.c.target_digest).where(
            manifest_references.c.kind == "blob").distinct().subquery()
        with self.db.read() as c:
            repos = c.execute(query).all()
            counts = {r[0]: (r[1], r[2] or 0) for r in c.execute(
                select(manifests.c.repository_id, func.count(), func.sum(manifests.c.size))
                .group_by(manifests.c.repository_id))}
            referenced = dict(c.execute(
                select(refs.c.repository_id, func.sum(blobs.c.size))
                .join(blobs, blobs.c.digest == refs.c.target_digest)
                .group_by(refs.c.repository_id)).all())
            linked = dict(c.execute(
                select(repository_blobs.c.repository_id, func.sum(blobs.c.size))
                .join(blobs, blobs.c.digest == repository_blobs.c.digest)
                .group_by(repository_blobs.c.repository_id)).all())
            exclusive = dict(c.execute(
                select(repository_blobs.c.repository_id, func.sum(blobs.c.size))
                .join(blobs, blobs.c.digest == repository_blobs.c.digest)
                .where(repository_blobs.c.digest.not_in(shared))
                .group_by(repository_blobs.c.repository_id)).all())
        return [RepositoryUsage(r.id, r.name, counts.get(r.id, (0, 0))[0],
                                int(counts.get(r.id, (0, 0))[1]), int(referenced.get(r.id) or 0),
                                int(linked.get(r.id) or 0), int(exclusive.get(r.id) or 0),
                                r.max_bytes, r.max_images) for r in repos]

    def registry(self) -> RegistryUsage:
        with self.db.read() as c:
            repo_count = c.execute(select(func.count()).select_from(repositories)).scalar_one()
            images, manifest_bytes = c.execute(
                select(func.count(), func.sum(manifests.c.size))).one()
            blob_count, blob_bytes = c.execute(select(func.count(), func.sum(blobs.c.size))).one()
            upload_bytes = c.execute(select(func.sum(uploads.c.size))).scalar()
        return RegistryUsage(repo_count, images, blob_count, int(blob_bytes or 0),
                             int(manifest_bytes or 0), int(upload_bytes or 0))

    def exclusive_digests(self, repository_id: int) -> list[str]:
        """Blobs only this repository links (what deleting it would free)."""
        other = select(repository_blobs.c.digest).where(
            repository_blobs.c.repository_id != repository_id)
        with self.db.read() as c:
            return list(c.execute(select(repository_blobs.c.digest).where(
                repository_blobs.c.repository_id == repository_id,
                repository_blobs.c.digest.not_in(other))).scalars())

    # --- quotas ----------------------------------------------------------------------------------
    def set_quota(self, repository_id: int, max_bytes: int | None, max_images: int | None) -> None:
        with self.db.write() as c:
            if max_bytes is None and max_images is None:
                c.execute(delete(repository_quotas).where(
                    repository_quotas.c.repository_id == repository_id))
                return
            values = {"max_bytes": max_bytes, "max_images": max_images}
            if not c.execute(update(repository_quotas).where(
                    repository_quotas.c.repository_id == repository_id).values(**values)).rowcount:
                c.execute(insert(repository_quotas).values(repository_id=repository_id, **values))


def check_quota(c: Any, repository_id: int, manifest: NewManifest) -> None:
    """Refuse a new manifest that would take its repository past its quota. Runs inside the
    manifest PUT's write transaction, holding the quota's row lock (the last lock put_manifest
    takes), so concurrent pushes to one repository cannot overshoot together."""
    quota = c.execute(select(repository_quotas.c.max_bytes, repository_quotas.c.max_images).where(
        repository_quotas.c.repository_id == repository_id).with_for_update()).first()
    if quota is None:
        return
    name = c.execute(select(repositories.c.name).where(repositories.c.id == repository_id)).scalar()
    count, manifest_bytes = c.execute(select(func.count(), func.sum(manifests.c.size)).where(
        manifests.c.repository_id == repository_id)).one()
    if quota.max_images is not None and count + 1 > quota.max_images:
        raise QuotaExceeded(
            f"The repository '{name}' holds {count} images, its quota is {quota.max_images}: "
            f"delete images (or raise the quota with `dockyard quota set`) before pushing more",
            {"repository": name, "quota_images": quota.max_images})
    if quota.max_bytes is None:
        return
    held = set(c.execute(_referenced(repository_id)).scalars())
    held_bytes = c.execute(select(func.sum(blobs.c.size)).where(
        blobs.c.digest.in_(_referenced(repository_id)))).scalar() or 0
    new = set(manifest.blob_digests) - held
    new_bytes = (c.execute(select(func.sum(blobs.c.size)).where(blobs.c.digest.in_(new))).scalar()
                 or 0) if new else 0
    total = int(manifest_bytes or 0) + int(held_bytes) + int(new_bytes) + len(manifest.body)
    if total > quota.max_bytes:
        raise QuotaExceeded(
            f"The push would take the repository '{name}' to {human_bytes(total)}, over its "
            f"storage quota of {human_bytes(quota.max_bytes)}: delete images (or raise the quota "
            f"with `dockyard quota set`) before pushing more",
            {"repository": name, "quota_bytes": quota.max_bytes, "bytes": total})
