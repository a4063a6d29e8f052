"""Garbage-collection metadata in SQL: which blob links and blobs are garbage, and their removal.

A blob link (``repository_blobs``) is garbage when no manifest of its repository refers to the
blob, GC has seen it so for the grace period (``unreferenced_since``), and no push touched it for
the grace period (``linked_at``: upload, mount, or a HEAD / BatchCheckLayerAvailability that found
it). A blob is garbage when it has no link and no manifest refers to it.

Every decision to remove something is taken inside one write transaction that first locks the
blob's row (``SELECT ... FOR UPDATE``: a no-op on SQLite, where ``BEGIN IMMEDIATE`` already
serialises writers; a row lock on PostgreSQL) and re-checks the condition there. A manifest PUT
checks its blobs in a write transaction that locks the same rows, and linking a blob checks its
file in a write transaction too, so a claim and a reference can never both succeed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, text, update

from dockyard.domain.digest import Digest
from dockyard.metadata.engine import Database, not_retried, retry_conflicts
from dockyard.metadata.tables import (
    blobs,
    manifest_references,
    repository_blobs,
    uploads,
)


@dataclass(frozen=True, slots=True)
class Reclaimed:
    links_removed: int
    blob_removed: bool
    size: int


def lock_digest(c: Any, digest: str) -> None:
    """Serialise every transaction that decides about one blob — the collector's claim, linking
    the blob, the stray-file sweep — even while the blob has no row yet: a transaction-scoped
    advisory lock on PostgreSQL; nothing on SQLite, whose writers ``BEGIN IMMEDIATE`` one at a
    time anyway."""
    if c.dialect.name == "postgresql":
        c.execute(text("SELECT pg_advisory_xact_lock(hashtext(:digest))"), {"digest": digest})


def _referenced_in_repository():  # type: ignore[no-untyped-def]
    return exists().where(
        manifest_references.c.repository_id == repository_blobs.c.repository_id,
        manifest_references.c.kind == "blob",
        manifest_references.c.target_digest == repository_blobs.c.digest)


def _stale_link(cutoff: datetime):  # type: ignore[no-untyped-def]
    return and_(repository_blobs.c.linked_at < cutoff,
                repository_blobs.c.unreferenced_since < cutoff,
                ~_referenced_in_repository())


@retry_conflicts
class SqlGcStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- marking -------------------------------------------------------------------------------
    def mark_unreferenced(self, now: datetime) -> tuple[int, int]:
        """Stamp links newly seen unreferenced, clear the stamp of links referenced again.
        Returns (newly unreferenced, referenced again)."""
        with self.db.write() as c:
            marked = c.execute(update(repository_blobs).where(
                repository_blobs.c.unreferenced_since.is_(None), ~_referenced_in_repository())
                .values(unreferenced_since=now)).rowcount
            cleared = c.execute(update(repository_blobs).where(
                repository_blobs.c.unreferenced_since.is_not(None), _referenced_in_repository())
                .values(unreferenced_since=None)).rowcount
        return marked, cleared

    # --- candidates (plain reads; every removal re-checks in its own transaction) -------------
    def stale_link_digests(self, cutoff: datetime) -> list[str]:
        with self.db.read() as c:
            return list(c.execute(select(repository_blobs.c.digest).distinct()
                                  .where(_stale_link(cutoff))
                                  .order_by(repository_blobs.c.digest)).scalars())

    def unlinked_blobs(self) -> list[str]:
        query = select(blobs.c.digest).where(
            ~exists().where(repository_blobs.c.digest == blobs.c.digest)).order_by(blobs.c.digest)
        with self.db.read() as c:
            return list(c.execute(query).scalars())

    def blob_digests(self) -> set[str]:
        with self.db.read() as c:
            return set(c.execute(select(blobs.c.digest)).scalars())

    def referenced_digests(self) -> set[str]:
        """Blobs some manifest of some repository refers to."""
        with self.db.read() as c:
            return set(c.execute(select(manifest_references.c.target_digest).distinct().where(
                manifest_references.c.kind == "blob")).scalars())

    # --- decisions -----------------------------------------------------------------------------
    def reclaim(self, digest: str, cutoff: datetime,
                trash: Callable[[Digest], str | None],
                restore: Callable[[str], bool]) -> tuple[Reclaimed, str | None]:
        """Remove ``digest``'s garbage links, and the blob itself once nothing holds it — in one
        transaction that moves the file to the trash just before it commits. Returns what was
        removed and the trash token (the caller drops it once this returned)."""
        token: str | None = None
        try:
            with self.db.write() as c:
                lock_digest(c, digest)
                row = c.execute(select(blobs.c.size).where(blobs.c.digest == digest)
                                .with_for_update()).first()
                removed = c.execute(delete(repository_blobs).where(
                    repository_blobs.c.digest == digest, _stale_link(cutoff))).rowcount
                if row is None or _held(c, digest):
                    return Reclaimed(removed, False, 0), None
                c.execute(delete(blobs).where(blobs.c.digest == digest))
                token = trash(Digest.parse(digest))
        except BaseException:
            if token is not None:  # the transaction did not commit: the blob stays
                restore(token)
            raise
        return Reclaimed(removed, True, row.size), token

    def would_reclaim(self, digest: str, cutoff: datetime) -> Reclaimed:
        """What ``reclaim`` would remove now (for ``dockyard gc --dry-run``)."""
        with self.db.read() as c:
            size = c.execute(select(blobs.c.size).where(blobs.c.digest == digest)).scalar()
            stale = c.execute(select(func.count()).select_from(repository_blobs).where(
                repository_blobs.c.digest == digest, _stale_link(cutoff))).scalar_one()
            links = c.execute(select(func.count()).select_from(repository_blobs).where(
                repository_blobs.c.digest == digest)).scalar_one()
            referenced = c.execute(select(manifest_references.c.target_digest).where(
                manifest_references.c.kind == "blob",
                manifest_references.c.target_digest == digest).limit(1)).first() is not None
        freed = size is not None and links == stale and not referenced
        return Reclaimed(stale, freed, (size or 0) if freed else 0)

    def forget_orphan(self, digest: Digest, trash: Callable[[Digest], str | None],
                      still_stray: Callable[[], bool]) -> str | None:
        """Trash a stored file that has no blob row (a crash between writing and recording it),
        unless ``still_stray`` says it changed since it was listed (an upload stored those bytes
        again and is about to link them)."""
        with self.db.write() as c:
            lock_digest(c, str(digest))
            if c.execute(select(blobs.c.digest).where(blobs.c.digest == str(digest))
                         .with_for_update()).first() is not None:
                return None
            if not still_stray():
                return None
            return trash(digest)

    @not_retried  # restores or drops the trashed file: not twice
    def settle_trashed(self, digest: Digest, token: str, restore: Callable[[str], bool],
                       drop: Callable[[str], None]) -> bool:
        """After a crash: put back a trashed file whose blob row survived (its transaction rolled
        back), drop it otherwise. True when it was restored."""
        with self.db.write() as c:
            lock_digest(c, str(digest))
            if c.execute(select(blobs.c.digest).where(blobs.c.digest == str(digest))
                         .with_for_update()).first() is not None:
                return restore(token)
            drop(token)
            return False

    # --- pushes touching links -----------------------------------------------------------------
    def refresh_links(self, repository_id: int, stale: list[str], now: datetime) -> set[str]:
        """A push found these blobs, linked to the repository since before the last half grace
        period: restart their grace period. Returns the digests still linked (a link the
        collector took meanwhile is not, and the client must upload the blob)."""
        with self.db.write() as c:
            c.execute(update(repository_blobs).where(
                repository_blobs.c.repository_id == repository_id,
                repository_blobs.c.digest.in_(stale)).values(linked_at=now))
            return set(c.execute(select(repository_blobs.c.digest).where(
                repository_blobs.c.repository_id == repository_id,
                repository_blobs.c.digest.in_(stale))).scalars())

    # --- uploads -------------------------------------------------------------------------------
    def idle_uploads(self, cutoff: datetime) -> list[tuple[str, int]]:
        with self.db.read() as c:
            return [(r.id, r.size) for r in c.execute(
                select(uploads.c.id, uploads.c.size).where(uploads.c.updated_at < cutoff))]

    def remove_idle_upload(self, upload_id: str, cutoff: datetime) -> bool:
        """Delete an upload row that is still idle (a concurrent append keeps it)."""
        with self.db.write() as c:
            return c.execute(delete(uploads).where(
                uploads.c.id == upload_id, uploads.c.updated_at < cutoff)).rowcount > 0

    def upload_ids(self) -> set[str]:
        with self.db.read() as c:
            return set(c.execute(select(uploads.c.id)).scalars())


def _held(c, digest: str) -> bool:  # type: ignore[no-untyped-def]
    """Whether any repository links ``digest`` or any manifest refers to it."""
    if c.execute(select(repository_blobs.c.repository_id).where(
            repository_blobs.c.digest == digest).limit(1)).first() is not None:
        return True
    return c.execute(select(manifest_references.c.target_digest).where(
        manifest_references.c.kind == "blob",
        manifest_references.c.target_digest == digest).limit(1)).first() is not None
