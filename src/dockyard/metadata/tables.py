"""The metadata schema, as SQLAlchemy Core tables (portable SQL only).

Alembic migrations under ``migrations/versions`` create exactly this schema; a unit test compares them.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)



class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every engine (SQLite returns naive values otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=timezone.utc)


metadata = MetaData()

registry = Table(
    "registry",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1: one registry per database
    Column("registry_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("token_key", LargeBinary, nullable=False),  # encrypted HMAC key for registry passwords
    Column("policy_text", Text),  # registry policy document, as given
)

account_settings = Table(
    "account_settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

principals = Table(
    "principals",
    metadata,
    Column("id", String(32), primary_key=True),  # AIDA... user id
    Column("kind", String(16), nullable=False),  # user
    Column("name", String(128), nullable=False),
    Column("arn", String(512), nullable=False, unique=True),
    Column("policies", JSON, nullable=False),  # inline identity policy documents
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("kind", "name", name="uq_principals_kind_name"),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(32), primary_key=True),
    Column("principal_id", String(32), ForeignKey("principals.id", ondelete="CASCADE"), nullable=False),
    Column("secret_encrypted", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),  # Active | Inactive
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime()),
)

repositories = Table(
    "repositories",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("tag_mutability", String(32), nullable=False),
    Column("mutability_exclusions", JSON, nullable=False),
    Column("scan_on_push", Boolean, nullable=False),
    Column("encryption_type", String(16), nullable=False),
    Column("kms_key", String(2048)),
    Column("tags", JSON, nullable=False),  # [{"Key":..., "Value":...}]
    Column("policy_text", Text),  # repository policy document, as given
)

blobs = Table(
    "blobs",
    metadata,
    Column("digest", String(160), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

repository_blobs = Table(
    "repository_blobs",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", String(160), ForeignKey("blobs.digest"), primary_key=True),
    Column("linked_at", UtcDateTime(), nullable=False),
)
Index("ix_repository_blobs_digest", repository_blobs.c.digest)

manifests = Table(
    "manifests",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("digest", String(160), primary_key=True),
    Column("media_type", String(255), nullable=False),
    Column("artifact_type", String(255)),
    Column("config_media_type", String(255)),
    Column("subject_digest", String(160)),
    Column("size", BigInteger, nullable=False),  # manifest bytes
    Column("image_size", BigInteger, nullable=False),  # ECR imageSizeInBytes
    Column("annotations", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("pushed_at", UtcDateTime(), nullable=False),
    Column("last_pulled_at", UtcDateTime()),
)
Index("ix_manifests_subject", manifests.c.repository_id, manifests.c.subject_digest)

manifest_references = Table(
    "manifest_references",
    metadata,
    Column("repository_id", Integer, primary_key=True),
    Column("manifest_digest", String(160), primary_key=True),
    Column("kind", String(8), primary_key=True),  # blob | manifest
    Column("target_digest", String(160), primary_key=True),
)
Index(
    "ix_manifest_references_target",
    manifest_references.c.repository_id,
    manifest_references.c.kind,
    manifest_references.c.target_digest,
)

tags = Table(
    "tags",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("digest", String(160), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
Index("ix_tags_digest", tags.c.repository_id, tags.c.digest)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False),
    Column("size", BigInteger, nullable=False),  # bytes stored so far
    Column("sha256_size", BigInteger, nullable=False),  # sha256_hex is the digest of bytes [0, sha256_size)
    Column("sha256_hex", String(64)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("state", String(16), nullable=False),  # queued | running | done | failed
    Column("dedupe_key", String(255), unique=True),  # one job per key (e.g. a schedule's period)
    Column("run_after", UtcDateTime(), nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires", UtcDateTime()),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
)
Index("ix_jobs_claim", jobs.c.state, jobs.c.run_after)
