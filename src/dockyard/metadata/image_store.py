"""Image metadata as the ECR image operations read it: records with tags, manifests, pull times."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update

from dockyard.domain.models import ManifestRecord
from dockyard.metadata.engine import Database, retry_conflicts
from dockyard.metadata.tables import manifests, tags


@retry_conflicts
class SqlImageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def images(self, repository_id: int) -> list[ManifestRecord]:
        """Every image of a repository with its tags, oldest push first."""
        with self.db.read() as c:
            rows = c.execute(select(
                manifests.c.digest, manifests.c.media_type, manifests.c.artifact_type,
                manifests.c.config_media_type, manifests.c.subject_digest, manifests.c.size,
                manifests.c.image_size, manifests.c.annotations, manifests.c.pushed_at,
                manifests.c.last_pulled_at).where(manifests.c.repository_id == repository_id)
                .order_by(manifests.c.pushed_at, manifests.c.digest)).all()
            tag_rows = c.execute(select(tags.c.name, tags.c.digest)
                                 .where(tags.c.repository_id == repository_id)).all()
        by_digest: dict[str, list[str]] = {}
        for name, digest in tag_rows:
            by_digest.setdefault(digest, []).append(name)
        return [ManifestRecord(r.digest, r.media_type, r.artifact_type, r.config_media_type,
                               r.subject_digest, r.size, r.image_size, r.annotations, r.pushed_at,
                               r.last_pulled_at, tuple(sorted(by_digest.get(r.digest, ()))))
                for r in rows]

    def tag_digests(self, repository_id: int, names: Iterable[str]) -> dict[str, str]:
        with self.db.read() as c:
            return dict(c.execute(select(tags.c.name, tags.c.digest).where(
                tags.c.repository_id == repository_id, tags.c.name.in_(list(names)))).all())

    def manifest_bodies(self, repository_id: int,
                        digests: Iterable[str]) -> dict[str, tuple[str, bytes]]:
        with self.db.read() as c:
            rows = c.execute(select(manifests.c.digest, manifests.c.media_type, manifests.c.body)
                             .where(manifests.c.repository_id == repository_id,
                                    manifests.c.digest.in_(list(digests)))).all()
        return {r.digest: (r.media_type, r.body) for r in rows}

    def record_pulls(self, repository_id: int, digests: Iterable[str], now: datetime) -> None:
        with self.db.write() as c:
            c.execute(update(manifests).where(manifests.c.repository_id == repository_id,
                                              manifests.c.digest.in_(list(digests)))
                      .values(last_pulled_at=now))
