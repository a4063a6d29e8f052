"""Lifecycle metadata in SQL: policies, previews, the facts the evaluation reads, expiries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from dockyard.lifecycle.evaluation import REFERRER, Expiry, ImageFacts
from dockyard.metadata.engine import Database, retry_conflicts
from dockyard.metadata.image_store import SqlImageStore
from dockyard.metadata.registry_store import SqlRegistryStore
from dockyard.metadata.tables import (
    lifecycle_expiries,
    lifecycle_policies,
    lifecycle_previews,
    manifest_references,
    manifests,
    repositories,
    tags,
)

IN_PROGRESS, COMPLETE, FAILED = "IN_PROGRESS", "COMPLETE", "FAILED"


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    repository_id: int
    text: str
    updated_at: datetime
    last_evaluated_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredPreview:
    repository_id: int
    text: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    results: list[dict[str, Any]]
    error: str | None


@retry_conflicts
class SqlLifecycleStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.images = SqlImageStore(db)

    # --- policies ---------------------------------------------------------------------------------
    def put_policy(self, repository_id: int, text: str, now: datetime) -> None:
        with self.db.write() as c:
            changed = c.execute(update(lifecycle_policies).where(
                lifecycle_policies.c.repository_id == repository_id).values(
                policy_text=text, updated_at=now)).rowcount
            if not changed:
                c.execute(insert(lifecycle_policies).values(
                    repository_id=repository_id, policy_text=text, updated_at=now))

    def policy(self, repository_id: int) -> StoredPolicy | None:
        with self.db.read() as c:
            row = c.execute(select(lifecycle_policies).where(
                lifecycle_policies.c.repository_id == repository_id)).first()
        return _policy(row) if row else None

    def delete_policy(self, repository_id: int) -> StoredPolicy | None:
        with self.db.write() as c:
            row = c.execute(select(lifecycle_policies).where(
                lifecycle_policies.c.repository_id == repository_id)).first()
            if row is not None:
                c.execute(delete(lifecycle_policies).where(
                    lifecycle_policies.c.repository_id == repository_id))
        return _policy(row) if row else None

    def policies(self, name: str | None = None) -> list[tuple[str, StoredPolicy]]:
        """(repository name, policy) of every repository with a policy (or of ``name``)."""
        query = (select(repositories.c.name, lifecycle_policies)
                 .join(repositories, repositories.c.id == lifecycle_policies.c.repository_id)
                 .order_by(repositories.c.name))
        if name is not None:
            query = query.where(repositories.c.name == name)
        with self.db.read() as c:
            return [(r.name, _policy(r)) for r in c.execute(query)]

    def mark_evaluated(self, repository_id: int, now: datetime) -> None:
        with self.db.write() as c:
            c.execute(update(lifecycle_policies).where(
                lifecycle_policies.c.repository_id == repository_id).values(last_evaluated_at=now))

    # --- previews ---------------------------------------------------------------------------------
    def start_preview(self, repository_id: int, text: str, now: datetime,
                      stale_before: datetime) -> bool:
        """Record a new preview as IN_PROGRESS; False while another one (younger than
        ``stale_before``) is still in progress."""
        with self.db.write() as c:
            row = c.execute(select(lifecycle_previews.c.status, lifecycle_previews.c.started_at)
                            .where(lifecycle_previews.c.repository_id == repository_id)).first()
            if row is not None and row.status == IN_PROGRESS and row.started_at > stale_before:
                return False
            values = {"policy_text": text, "status": IN_PROGRESS, "started_at": now,
                      "finished_at": None, "results": None, "error": None}
            if row is None:
                c.execute(insert(lifecycle_previews).values(repository_id=repository_id, **values))
            else:
                c.execute(update(lifecycle_previews).where(
                    lifecycle_previews.c.repository_id == repository_id).values(**values))
        return True

    def preview(self, repository_id: int) -> StoredPreview | None:
        with self.db.read() as c:
            row = c.execute(select(lifecycle_previews).where(
                lifecycle_previews.c.repository_id == repository_id)).first()
        if row is None:
            return None
        return StoredPreview(row.repository_id, row.policy_text, row.status, row.started_at,
                             row.finished_at, list(row.results or ()), row.error)

    def finish_preview(self, repository_id: int, started_at: datetime, status: str,
                       results: list[dict[str, Any]] | None, error: str | None,
                       now: datetime) -> bool:
        """Complete the preview started at ``started_at`` (a newer one is left alone)."""
        with self.db.write() as c:
            return c.execute(update(lifecycle_previews).where(
                lifecycle_previews.c.repository_id == repository_id,
                lifecycle_previews.c.started_at == started_at,
                lifecycle_previews.c.status == IN_PROGRESS).values(
                status=status, results=results, error=error, finished_at=now)).rowcount > 0

    # --- what the evaluation reads ----------------------------------------------------------------
    def image_facts(self, repository_id: int) -> list[ImageFacts]:
        records = self.images.images(repository_id)
        with self.db.read() as c:
            rows = c.execute(select(manifest_references.c.manifest_digest,
                                    manifest_references.c.target_digest).where(
                manifest_references.c.repository_id == repository_id,
                manifest_references.c.kind == "manifest")).all()
        children: dict[str, list[str]] = {}
        for parent, child in rows:
            children.setdefault(parent, []).append(child)
        return [ImageFacts(r.digest, r.tags, r.pushed_at, r.last_pulled_at, r.media_type,
                           r.image_size, r.subject_digest, tuple(sorted(children.get(r.digest, ()))))
                for r in records]

    # --- expiry -----------------------------------------------------------------------------------
    def expire(self, repository_id: int, repository_name: str, item: Expiry, run_id: str,
               now: datetime) -> bool:
        """Delete one planned image and record it, in one transaction — only if the image is still
        as the evaluation saw it (same tags, no index refers to it, its subject gone for a
        referrer); otherwise leave it for the next run and return False."""
        with self.db.write() as c:
            # lock the image before reading its tags (the order put_manifest takes them in): a
            # push moving a tag onto it waits, and is seen, or comes after the image is gone
            found = c.execute(select(manifests.c.digest).where(
                manifests.c.repository_id == repository_id,
                manifests.c.digest == item.digest).with_for_update()).first()
            if found is None:
                return False
            current = set(c.execute(select(tags.c.name).where(
                tags.c.repository_id == repository_id, tags.c.digest == item.digest)).scalars())
            if current != set(item.tags):
                return False
            if SqlRegistryStore._parent(c, repository_id, item.digest) is not None:
                return False
            if item.reason == REFERRER and item.subject and c.execute(select(manifests.c.digest).where(
                    manifests.c.repository_id == repository_id,
                    manifests.c.digest == item.subject)).first() is not None:
                return False
            SqlRegistryStore._remove_manifest(c, repository_id, item.digest)
            c.execute(insert(lifecycle_expiries).values(
                run_id=run_id, repository_name=repository_name, image_digest=item.digest,
                image_tags=list(item.tags), media_type=item.media_type, image_size=item.image_size,
                pushed_at=item.pushed_at, rule_priority=item.rule_priority, reason=item.reason,
                unit_digest=item.unit, expired_at=now))
        return True

    def expiries(self, repository_name: str | None = None, *, run_id: str | None = None,
                 limit: int = 100) -> list[dict[str, Any]]:
        """Recorded expiries, newest first."""
        query = select(lifecycle_expiries).order_by(lifecycle_expiries.c.id.desc()).limit(limit)
        if repository_name is not None:
            query = query.where(lifecycle_expiries.c.repository_name == repository_name)
        if run_id is not None:
            query = query.where(lifecycle_expiries.c.run_id == run_id)
        with self.db.read() as c:
            return [dict(r._mapping) for r in c.execute(query)]


def _policy(row: Any) -> StoredPolicy:
    return StoredPolicy(row.repository_id, row.policy_text, row.updated_at, row.last_evaluated_at)
