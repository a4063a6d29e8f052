"""Registry metadata in SQL: repositories, blob links, uploads, manifests, tags, referrers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from dockyard.domain.models import (
    ManifestHead,
    NewManifest,
    Repository,
    StoredParts,
    Upload,
    UploadPart,
)
from dockyard.errors import (
    ImageReferencedByManifestList,
    ImageTagAlreadyExists,
    ManifestBlobUnknown,
    ReferencedImagesNotFound,
    RepositoryAlreadyExists,
    RepositoryNotFound,
    UploadUnknown,
)
from dockyard.metadata.engine import Database, HotQuery, insert_ignoring, retry_conflicts
from dockyard.metadata.tables import (
    blobs,
    manifest_references,
    manifests,
    repositories,
    repository_blobs,
    tags,
    uploads,
)
from dockyard.metadata.gc_store import lock_digest
from dockyard.metadata.usage_store import check_quota

_HEAD_COLUMNS = (manifests.c.digest, manifests.c.media_type, manifests.c.size, manifests.c.subject_digest)


def _manifest_lookup(by_tag: bool, with_body: bool) -> Select[Any]:
    """The pull path's one query: repository row joined with the manifest a tag/digest names.

    Built once (parameters bound per call): constructing the statement cost more than running it.
    """
    columns = (repositories.c.id, *_HEAD_COLUMNS) + ((manifests.c.body,) if with_body else ())
    ref = bindparam("ref")
    if by_tag:
        joined = repositories.outerjoin(
            tags, and_(tags.c.repository_id == repositories.c.id, tags.c.name == ref)).outerjoin(
            manifests, and_(manifests.c.repository_id == repositories.c.id,
                            manifests.c.digest == tags.c.digest))
    else:
        joined = repositories.outerjoin(manifests, and_(
            manifests.c.repository_id == repositories.c.id, manifests.c.digest == ref))
    return select(*columns).select_from(joined).where(repositories.c.name == bindparam("name"))


_MANIFEST_LOOKUPS = {(by_tag, body): HotQuery(_manifest_lookup(by_tag, body))
                     for by_tag in (True, False) for body in (True, False)}
_REPOSITORY_BY_NAME = HotQuery(select(repositories).where(repositories.c.name == bindparam("name")))
# The manifest PUT's statements, built once (building them cost about as much as running them)
_REPO = bindparam("repository_id")
_LOCK_REPOSITORY = (select(repositories.c.id).where(repositories.c.id == _REPO)
                    .with_for_update(read=True, key_share=True))
_LOCK_BLOBS = (select(blobs.c.digest).where(blobs.c.digest.in_(bindparam("digests", expanding=True)))
               .order_by(blobs.c.digest).with_for_update(read=True))
_LINKED = select(repository_blobs.c.digest).where(
    repository_blobs.c.repository_id == _REPO,
    repository_blobs.c.digest.in_(bindparam("digests", expanding=True)))
_LOCK_CHILDREN = (select(manifests.c.digest, manifests.c.image_size).where(
    manifests.c.repository_id == _REPO,
    manifests.c.digest.in_(bindparam("digests", expanding=True)))
    .order_by(manifests.c.digest).with_for_update(read=True))
_SHARE_MANIFEST = select(manifests.c.digest).where(
    manifests.c.repository_id == _REPO, manifests.c.digest == bindparam("digest")
).with_for_update(read=True)
_LOCK_TAG = select(tags.c.digest).where(
    tags.c.repository_id == _REPO, tags.c.name == bindparam("tag")).with_for_update()
_MOVE_TAG = update(tags).where(
    tags.c.repository_id == bindparam("in_repository"), tags.c.name == bindparam("tag"),
    tags.c.digest == bindparam("current")).values(
    digest=bindparam("to_digest"), updated_at=bindparam("at"))
_INSERT_REFERENCES = insert(manifest_references)
# ... and those of a blob push
_LOCK_BLOB = select(blobs.c.size).where(blobs.c.digest == bindparam("digest")).with_for_update()
_TOUCH_LINK = update(repository_blobs).where(
    repository_blobs.c.repository_id == bindparam("in_repository"),
    repository_blobs.c.digest == bindparam("of_digest")).values(linked_at=bindparam("at"))
_INSERT_UPLOAD = insert(uploads)
_DELETE_UPLOAD = delete(uploads).where(uploads.c.id == bindparam("upload_id"))
_UPLOAD = HotQuery(select(uploads).where(uploads.c.id == bindparam("id"),
                                        uploads.c.repository_id == bindparam("repository_id")))
_BLOB_LOOKUP = HotQuery(select(repositories.c.id, blobs.c.size, repository_blobs.c.linked_at).select_from(
    repositories.outerjoin(repository_blobs, and_(
        repository_blobs.c.repository_id == repositories.c.id,
        repository_blobs.c.digest == bindparam("digest"))).outerjoin(
        blobs, blobs.c.digest == repository_blobs.c.digest)).where(
    repositories.c.name == bindparam("name")))


def _repository(row: Any) -> Repository:
    return Repository(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        tag_mutability=row.tag_mutability,
        mutability_exclusions=tuple(row.mutability_exclusions or ()),
        scan_on_push=row.scan_on_push,
        encryption_type=row.encryption_type,
        kms_key=row.kms_key,
        tags=tuple(row.tags or ()),
        public=bool(getattr(row, "public", False)),
    )


def _upload(row: Any) -> Upload:
    stored = None
    if row.multipart_id is not None or row.tail_key is not None:
        stored = StoredParts(row.multipart_id, tuple(
            UploadPart(int(n), str(etag), int(size)) for n, etag, size in row.multipart_parts or ()),
            row.tail_key)
    return Upload(row.id, row.repository_id, row.size, row.sha256_size, row.sha256_hex,
                  row.created_at, row.updated_at, stored)


def _head(row: Any, with_body: bool) -> ManifestHead:
    return ManifestHead(row.digest, row.media_type, row.size, row.subject_digest,
                        row.body if with_body else None)


class BlobLookup(NamedTuple):
    repository_id: int | None  # None: no such repository
    size: int | None  # None: the blob is not linked to it
    linked_at: datetime | None

    @property
    def exists(self) -> bool:
        return self.repository_id is not None


@retry_conflicts
class SqlRegistryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- repositories ---------------------------------------------------------------------------
    def create_repository(self, repo: Repository) -> Repository:
        values = {
            "name": repo.name, "created_at": repo.created_at, "tag_mutability": repo.tag_mutability,
            "mutability_exclusions": list(repo.mutability_exclusions), "scan_on_push": repo.scan_on_push,
            "encryption_type": repo.encryption_type, "kms_key": repo.kms_key, "tags": list(repo.tags),
        }
        try:
            with self.db.write() as c:
                new_id = c.execute(insert(repositories).values(values)).inserted_primary_key[0]
        except IntegrityError:
            raise RepositoryAlreadyExists(
                f"The repository with name '{repo.name}' already exists in the registry"
            ) from None
        return _repository(type("Row", (), {"id": new_id, **values}))

    def get_repository(self, name: str) -> Repository | None:
        row = self.db.first(_REPOSITORY_BY_NAME, {"name": name})  # every registry request
        return _repository(row) if row else None

    def list_repositories(self, *, after: str | None, limit: int,
                          names: Sequence[str] | None = None) -> list[Repository]:
        query = select(repositories).order_by(repositories.c.name).limit(limit)
        if after is not None:
            query = query.where(repositories.c.name > after)
        if names is not None:
            query = query.where(repositories.c.name.in_(list(names)))
        with self.db.read() as c:
            return [_repository(r) for r in c.execute(query)]

    def repository_image_count(self, repository_id: int) -> int:
        with self.db.read() as c:
            return c.execute(select(func.count()).select_from(manifests)
                             .where(manifests.c.repository_id == repository_id)).scalar_one()

    def delete_repository(self, repository_id: int, *, force: bool) -> bool:
        """Delete a repository and everything in it; False when not forced and it holds images."""
        with self.db.write() as c:
            # the locking order (docs/architecture.md): the repository, its manifests, then tags
            c.execute(select(repositories.c.id).where(repositories.c.id == repository_id)
                      .with_for_update())
            held = c.execute(select(manifests.c.digest).where(
                manifests.c.repository_id == repository_id).order_by(manifests.c.digest)
                .with_for_update()).first()
            if not force and held:
                return False
            for table in (tags, manifest_references, manifests, repository_blobs, uploads):
                c.execute(delete(table).where(table.c.repository_id == repository_id))
            c.execute(delete(repositories).where(repositories.c.id == repository_id))
        return True

    # --- blobs ------------------------------------------------------------------------------------
    def linked_blob_size(self, repository_id: int, digest: str) -> int | None:
        query = (select(blobs.c.size).join(repository_blobs, repository_blobs.c.digest == blobs.c.digest)
                 .where(repository_blobs.c.repository_id == repository_id, blobs.c.digest == digest))
        with self.db.read() as c:
            return c.execute(query).scalar()

    def blob_size(self, digest: str) -> int | None:
        with self.db.read() as c:
            return c.execute(select(blobs.c.size).where(blobs.c.digest == digest)).scalar()

    def link_blob(self, repository_id: int, digest: str, size: int, now: datetime,
                  stored: Callable[[], bool] | None = None) -> bool:
        """Link a blob to a repository (restarting its GC grace period).

        With ``stored``, the blob's file is checked inside this write transaction and nothing is
        linked (False) when it is missing: the garbage collector trashes files only inside its
        own write transaction, so a file seen here stays until the link is committed.
        """
        with self.db.write() as c:
            lock_digest(c, digest)
            known = c.execute(_LOCK_BLOB, {"digest": digest}).first() is not None
            if stored is not None and not stored():
                return False
            if not known:  # another node may be linking the same new blob right now
                insert_ignoring(c, blobs, {"digest": digest, "size": size, "created_at": now})
            linked = c.execute(_TOUCH_LINK, {"in_repository": repository_id, "of_digest": digest,
                                             "at": now}).rowcount
            if not linked:
                insert_ignoring(c, repository_blobs, {
                    "repository_id": repository_id, "digest": digest, "linked_at": now})
        return True

    def unlink_blob(self, repository_id: int, digest: str) -> bool:
        with self.db.write() as c:
            result = c.execute(delete(repository_blobs).where(
                repository_blobs.c.repository_id == repository_id, repository_blobs.c.digest == digest))
        return result.rowcount > 0

    # --- uploads ----------------------------------------------------------------------------------
    def create_upload(self, upload: Upload) -> None:
        with self.db.write() as c:
            c.execute(_INSERT_UPLOAD, dict(
                id=upload.id, repository_id=upload.repository_id, size=0, sha256_size=0,
                sha256_hex=upload.sha256_hex, created_at=upload.created_at, updated_at=upload.updated_at))

    def get_upload(self, repository_id: int, upload_id: str) -> Upload | None:
        row = self.db.first(_UPLOAD, {"id": upload_id, "repository_id": repository_id})
        return _upload(row) if row else None

    def advance_upload(self, upload_id: str, *, expected_size: int, size: int, sha256_size: int,
                       sha256_hex: str | None, now: datetime,
                       stored: StoredParts | None = None) -> None:
        """Record appended bytes (and where the blob store keeps them); refuses when another
        request moved the upload meanwhile."""
        with self.db.write() as c:
            result = c.execute(update(uploads).where(
                uploads.c.id == upload_id, uploads.c.size == expected_size).values(
                size=size, sha256_size=sha256_size, sha256_hex=sha256_hex, updated_at=now,
                multipart_id=stored.multipart_id if stored else None,
                multipart_parts=[[p.number, p.etag, p.size] for p in stored.parts]
                if stored and stored.parts else None,
                tail_key=stored.tail if stored else None))
        if result.rowcount != 1:
            raise UploadUnknown("upload was changed or removed by a concurrent request",
                                {"upload": upload_id})

    def delete_upload(self, upload_id: str) -> bool:
        with self.db.write() as c:
            return c.execute(_DELETE_UPLOAD, {"upload_id": upload_id}).rowcount > 0

    # --- manifests and tags ---------------------------------------------------------------------
    def lookup_manifest(self, name: str, *, tag: str | None = None, digest: str | None = None,
                        with_body: bool) -> tuple[int | None, ManifestHead | None]:
        """(repository id or None, manifest) for a tag or digest in one query: the pull hot path."""
        row = self.db.first(_MANIFEST_LOOKUPS[tag is not None, with_body],
                            {"name": name, "ref": tag if tag is not None else digest})
        if row is None:
            return None, None
        return row.id, (_head(row, with_body) if row.digest is not None else None)

    def lookup_blob(self, name: str, digest: str) -> BlobLookup:
        """Whether the repository exists, and the blob's size and link time if it is linked to
        it, in one query (the blob HEAD/GET hot path)."""
        row = self.db.first(_BLOB_LOOKUP, {"name": name, "digest": digest})
        if row is None:
            return BlobLookup(None, None, None)
        return BlobLookup(row.id, row.size, row.linked_at if row.size is not None else None)

    def linked_blobs(self, repository_id: int, digests: Sequence[str]) -> dict[str, tuple[int, datetime]]:
        """Size and link time of each of ``digests`` linked to the repository, in one query."""
        query = (select(blobs.c.digest, blobs.c.size, repository_blobs.c.linked_at)
                 .join(repository_blobs, repository_blobs.c.digest == blobs.c.digest)
                 .where(repository_blobs.c.repository_id == repository_id,
                        blobs.c.digest.in_(list(digests))))
        with self.db.read() as c:
            return {r.digest: (r.size, r.linked_at) for r in c.execute(query)}

    def manifest_by_tag(self, repository_id: int, tag: str, *, with_body: bool) -> ManifestHead | None:
        columns = (*_HEAD_COLUMNS, manifests.c.body) if with_body else _HEAD_COLUMNS
        query = (select(*columns).join(tags, and_(tags.c.repository_id == manifests.c.repository_id,
                                                  tags.c.digest == manifests.c.digest))
                 .where(tags.c.repository_id == repository_id, tags.c.name == tag))
        with self.db.read() as c:
            row = c.execute(query).first()
        return _head(row, with_body) if row else None

    def manifest_by_digest(self, repository_id: int, digest: str, *,
                           with_body: bool) -> ManifestHead | None:
        columns = (*_HEAD_COLUMNS, manifests.c.body) if with_body else _HEAD_COLUMNS
        query = select(*columns).where(manifests.c.repository_id == repository_id,
                                       manifests.c.digest == digest)
        with self.db.read() as c:
            row = c.execute(query).first()
        return _head(row, with_body) if row else None

    def put_manifest(self, repository_id: int, manifest: NewManifest, *, tag: str | None,
                     tag_immutable: bool, now: datetime) -> tuple[bool, bool]:
        """Store a manifest and move a tag to it, in one transaction.

        Every referenced blob must be linked to the repository and every child manifest stored in
        it, checked in the same transaction that writes the references. Returns (the manifest is
        new to the repository, the tag was created or moved).
        """
        # Row locks, always taken in this order (docs/architecture.md, "Locking order"): the
        # repository (key share: against its deletion), referenced blobs and child manifests
        # (shared: against GC claims and deletions), this manifest (shared: against its
        # deletion), the tag, then the repository's quota.
        with self.db.write() as c:
            if c.execute(_LOCK_REPOSITORY, {"repository_id": repository_id}).first() is None:
                raise RepositoryNotFound("the repository was deleted while the image was pushed")
            child_sizes = self._check_references(c, repository_id, manifest)
            exists = c.execute(_SHARE_MANIFEST, {"repository_id": repository_id,
                                                 "digest": manifest.digest}).first() is not None
            moved = tag is not None and self._move_tag(c, repository_id, tag, manifest.digest,
                                                       tag_immutable, now)
            if exists:
                return False, moved
            check_quota(c, repository_id, manifest)
            if not insert_ignoring(c, manifests, dict(
                    repository_id=repository_id, digest=manifest.digest,
                    media_type=manifest.media_type, artifact_type=manifest.artifact_type,
                    config_media_type=manifest.config_media_type,
                    subject_digest=manifest.subject_digest, size=len(manifest.body),
                    image_size=max(child_sizes, default=manifest.image_size),
                    annotations=manifest.annotations, body=manifest.body, pushed_at=now)):
                return False, moved  # another node stored the same manifest meanwhile
            refs = [{"repository_id": repository_id, "manifest_digest": manifest.digest,
                     "kind": "blob", "target_digest": d} for d in set(manifest.blob_digests)]
            refs += [{"repository_id": repository_id, "manifest_digest": manifest.digest,
                      "kind": "manifest", "target_digest": d} for d in set(manifest.manifest_digests)]
            if refs:
                c.execute(_INSERT_REFERENCES, refs)
        return True, moved

    @staticmethod
    def _check_references(c: Any, repository_id: int, manifest: NewManifest) -> list[int]:
        """Raise unless every reference is held by the repository; returns the children's sizes."""
        wanted = set(manifest.blob_digests)
        if wanted:
            # Locks the blob rows the garbage collector locks before it claims a blob: the claim
            # and this check are decided one after the other, never both (docs/architecture.md).
            # Shared locks: pushes referencing the same blobs do not wait for each other.
            digests = sorted(wanted)
            c.execute(_LOCK_BLOBS, {"digests": digests})
            found = set(c.execute(_LINKED, {"repository_id": repository_id,
                                            "digests": digests}).scalars())
            missing = sorted(wanted - found)
            if missing:
                raise ManifestBlobUnknown(f"blob unknown to repository: {missing[0]}",
                                          {"digest": missing[0]})
        children = set(manifest.manifest_digests)
        if not children:
            return []
        found = dict(c.execute(_LOCK_CHILDREN, {"repository_id": repository_id,
                                                "digests": sorted(children)}).all())
        missing = sorted(children - set(found))
        if missing:
            raise ReferencedImagesNotFound(f"manifest unknown to repository: {missing[0]}",
                                           {"digest": missing[0]})
        return list(found.values())

    @staticmethod
    def _move_tag(c: Any, repository_id: int, tag: str, digest: str, immutable: bool,
                  now: datetime) -> bool:
        key = {"repository_id": repository_id, "tag": tag}
        current = c.execute(_LOCK_TAG, key).scalar()
        if current is None:
            if insert_ignoring(c, tags, {"repository_id": repository_id, "name": tag,
                                         "digest": digest, "updated_at": now}):
                return True
            # another node created the tag meanwhile: now there is a row to lock
            current = c.execute(_LOCK_TAG, key).scalar()
        if current == digest:
            return False
        if immutable:
            raise ImageTagAlreadyExists(tag)
        c.execute(_MOVE_TAG, {"in_repository": repository_id, "tag": tag, "current": current,
                              "to_digest": digest, "at": now})
        return True

    def delete_manifest(self, repository_id: int, digest: str) -> bool:
        """Delete a manifest and its tags; refuses while an index in the repository refers to it."""
        with self.db.write() as c:
            c.execute(select(manifests.c.digest).where(  # lock it before looking for parents
                manifests.c.repository_id == repository_id, manifests.c.digest == digest)
                .with_for_update())
            parent = self._parent(c, repository_id, digest)
            if parent is not None:
                raise ImageReferencedByManifestList(
                    f"Requested image {digest} is referenced by the manifest list {parent}")
            return self._remove_manifest(c, repository_id, digest) > 0

    def untag(self, repository_id: int, tag: str) -> tuple[str | None, bool]:
        """Remove a tag; the image goes too when that was its last tag (ECR's BatchDeleteImage).

        Returns (the digest the tag pointed to, whether the image was deleted).
        """
        with self.db.write() as c:
            where = (tags.c.repository_id == repository_id, tags.c.name == tag)
            while True:  # lock the image, then its tag (the order put_manifest takes them in)
                digest = c.execute(select(tags.c.digest).where(*where)).scalar()
                if digest is None:
                    return None, False
                c.execute(select(manifests.c.digest).where(
                    manifests.c.repository_id == repository_id, manifests.c.digest == digest)
                    .with_for_update())
                if c.execute(select(tags.c.digest).where(*where)
                             .with_for_update()).scalar() == digest:
                    break  # else another node moved the tag meanwhile: look again
            c.execute(delete(tags).where(tags.c.repository_id == repository_id, tags.c.name == tag))
            others = c.execute(select(tags.c.name).where(
                tags.c.repository_id == repository_id, tags.c.digest == digest).limit(1)).first()
            if others is not None or self._parent(c, repository_id, digest) is not None:
                return digest, False
            self._remove_manifest(c, repository_id, digest)
        return digest, True

    @staticmethod
    def _parent(c: Any, repository_id: int, digest: str) -> str | None:
        return c.execute(select(manifest_references.c.manifest_digest).where(
            manifest_references.c.repository_id == repository_id,
            manifest_references.c.kind == "manifest",
            manifest_references.c.target_digest == digest).limit(1)).scalar()

    @staticmethod
    def _remove_manifest(c: Any, repository_id: int, digest: str) -> int:
        removed = c.execute(delete(manifests).where(
            manifests.c.repository_id == repository_id, manifests.c.digest == digest)).rowcount
        if removed:
            c.execute(delete(tags).where(tags.c.repository_id == repository_id, tags.c.digest == digest))
            c.execute(delete(manifest_references).where(
                manifest_references.c.repository_id == repository_id,
                manifest_references.c.manifest_digest == digest))
        return removed

    def tags_of(self, repository_id: int, digest: str) -> list[str]:
        with self.db.read() as c:
            return sorted(c.execute(select(tags.c.name).where(
                tags.c.repository_id == repository_id, tags.c.digest == digest)).scalars())

    def delete_tag(self, repository_id: int, tag: str) -> bool:
        with self.db.write() as c:
            return c.execute(delete(tags).where(tags.c.repository_id == repository_id,
                                                tags.c.name == tag)).rowcount > 0

    def list_tags(self, repository_id: int, *, after: str | None, limit: int | None) -> list[str]:
        query = select(tags.c.name).where(tags.c.repository_id == repository_id).order_by(tags.c.name)
        if after is not None:
            query = query.where(tags.c.name > after)
        if limit is not None:
            query = query.limit(limit)
        with self.db.read() as c:
            return list(c.execute(query).scalars())

    def referrers(self, repository_id: int, subject: str) -> list[dict[str, Any]]:
        query = select(manifests.c.digest, manifests.c.media_type, manifests.c.size,
                       manifests.c.artifact_type, manifests.c.config_media_type,
                       manifests.c.annotations).where(
            manifests.c.repository_id == repository_id, manifests.c.subject_digest == subject
        ).order_by(manifests.c.digest)
        with self.db.read() as c:
            return [dict(r._mapping) for r in c.execute(query)]
