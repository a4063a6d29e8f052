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
    false,
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

# --- scale-out (issue 7; migration 0007, branch "s3"): an upload a blob store keeps in parts ----
# (S3 multipart upload) records them on its row, so any node can continue or complete it.
uploads.append_column(Column("multipart_id", String(1024)))  # S3 UploadId
uploads.append_column(Column("multipart_parts", JSON))  # [[part number, ETag, size], ...]
uploads.append_column(Column("tail_key", String(255)))  # object with the bytes after the parts

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

# --- IAM (migration 0006, branch "iam"): paths, groups, roles, managed policies, attachments,
# inline policies, tags, login profiles, STS sessions, the audit log, public repositories -------
principals.append_column(Column("path", String(512), nullable=False, server_default="/"))
repositories.append_column(Column("public", Boolean, nullable=False, server_default=false()))

iam_groups = Table(
    "iam_groups",
    metadata,
    Column("id", String(32), primary_key=True),  # AGPA...
    Column("name", String(128), nullable=False, unique=True),
    Column("path", String(512), nullable=False),
    Column("arn", String(1024), nullable=False, unique=True),
    Column("created_at", UtcDateTime(), nullable=False),
)

iam_group_members = Table(
    "iam_group_members",
    metadata,
    Column("group_id", String(32), ForeignKey("iam_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("principal_id", String(32), ForeignKey("principals.id", ondelete="CASCADE"),
           primary_key=True),
    Column("added_at", UtcDateTime(), nullable=False),
)
Index("ix_iam_group_members_principal", iam_group_members.c.principal_id)

iam_roles = Table(
    "iam_roles",
    metadata,
    Column("id", String(32), primary_key=True),  # AROA...
    Column("name", String(64), nullable=False, unique=True),
    Column("path", String(512), nullable=False),
    Column("arn", String(1024), nullable=False, unique=True),
    Column("trust_policy", Text, nullable=False),  # the document as given
    Column("description", String(1000)),
    Column("max_session_duration", Integer, nullable=False),  # seconds, 3600..43200
    Column("created_at", UtcDateTime(), nullable=False),
    Column("last_used_at", UtcDateTime()),
)

iam_policies = Table(  # customer managed policies (AWS managed ones are built in, not stored)
    "iam_policies",
    metadata,
    Column("id", String(32), primary_key=True),  # ANPA...
    Column("name", String(128), nullable=False, unique=True),
    Column("path", String(512), nullable=False),
    Column("arn", String(1024), nullable=False, unique=True),
    Column("description", String(1000)),
    Column("default_version", String(16), nullable=False),
    Column("next_version", Integer, nullable=False),  # version ids are never reused
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

iam_policy_versions = Table(
    "iam_policy_versions",
    metadata,
    Column("policy_id", String(32), ForeignKey("iam_policies.id", ondelete="CASCADE"),
           primary_key=True),
    Column("version_id", String(16), primary_key=True),  # v1, v2, ...
    Column("document", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

iam_attachments = Table(  # managed policy (customer or AWS) attached to a user, group or role
    "iam_attachments",
    metadata,
    Column("entity_kind", String(8), primary_key=True),  # user | group | role
    Column("entity_id", String(32), primary_key=True),
    Column("policy_arn", String(1024), primary_key=True),
    Column("attached_at", UtcDateTime(), nullable=False),
)
Index("ix_iam_attachments_policy", iam_attachments.c.policy_arn)

iam_inline_policies = Table(
    "iam_inline_policies",
    metadata,
    Column("entity_kind", String(8), primary_key=True),  # user | group | role
    Column("entity_id", String(32), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("document", Text, nullable=False),  # the document as given
    Column("updated_at", UtcDateTime(), nullable=False),
)

iam_tags = Table(
    "iam_tags",
    metadata,
    Column("entity_kind", String(8), primary_key=True),  # user | role | policy
    Column("entity_id", String(32), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
)

iam_login_profiles = Table(  # console passwords, argon2id hashes only
    "iam_login_profiles",
    metadata,
    Column("principal_id", String(32), ForeignKey("principals.id", ondelete="CASCADE"),
           primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("password_reset_required", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("failed_attempts", Integer, nullable=False),
    Column("locked_until", UtcDateTime()),
    Column("last_used_at", UtcDateTime()),
)

sts_sessions = Table(  # temporary credentials from sts:AssumeRole
    "sts_sessions",
    metadata,
    Column("access_key_id", String(32), primary_key=True),  # ASIA...
    Column("secret_encrypted", LargeBinary, nullable=False),  # SecretBox
    Column("token_sha256", String(64), nullable=False, unique=True),  # the token itself is not kept
    Column("role_id", String(32), ForeignKey("iam_roles.id", ondelete="CASCADE"), nullable=False),
    Column("session_name", String(64), nullable=False),
    Column("source_arn", String(1024), nullable=False),  # who assumed the role
    Column("session_policy", Text),
    Column("policy_arns", JSON, nullable=False),
    Column("tags", JSON, nullable=False),  # session tags [[key, value], ...]
    Column("source_identity", String(64)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
)
Index("ix_sts_sessions_expires", sts_sessions.c.expires_at)

audit_log = Table(  # append-only: rows are inserted, never updated
    "audit_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("event_source", String(64), nullable=False),
    Column("action", String(128), nullable=False),
    Column("decision", String(8), nullable=False),  # Allow | Deny
    Column("principal_arn", String(1024)),
    Column("access_key_id", String(32)),
    Column("source_ip", String(64)),
    Column("user_agent", String(512)),
    Column("resource", String(2048)),
    Column("error_code", String(128)),
    Column("request_id", String(64)),
)
Index("ix_audit_log_at", audit_log.c.at)
Index("ix_audit_log_principal", audit_log.c.principal_arn, audit_log.c.at)

# --- image scanning (issue 5; migration 0004, branch "scanning") ---------------------------------
vulndb_sources = Table(
    "vulndb_sources",
    metadata,
    Column("source", String(1024), primary_key=True),  # what was imported (a path), as given
    Column("imported_at", UtcDateTime(), nullable=False),
    Column("records", Integer, nullable=False),  # OSV records read from it by the last import
    Column("changed", Integer, nullable=False),  # of which new or changed
)

vuln_advisories = Table(
    "vuln_advisories",
    metadata,
    Column("id", String(255), primary_key=True),  # OSV id: PYSEC-..., GHSA-..., GO-..., DSA-...
    Column("source", String(1024), nullable=False),
    Column("modified", UtcDateTime()),
    Column("published", UtcDateTime()),
    Column("withdrawn", UtcDateTime()),
    Column("summary", Text),
    Column("details", Text),
    Column("aliases", JSON, nullable=False),
    Column("severity", String(16), nullable=False),  # ECR FindingSeverity
    Column("cvss", JSON, nullable=False),  # [{"version", "vector", "score"}]
    Column("reference_urls", JSON, nullable=False),
    Column("content_hash", String(64), nullable=False),  # sha256 of the record: re-imports skip it
    Column("updated_at", UtcDateTime(), nullable=False),
)

vuln_affected = Table(
    "vuln_affected",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("advisory_id", String(255), ForeignKey("vuln_advisories.id", ondelete="CASCADE"),
           nullable=False),
    Column("ecosystem", String(128), nullable=False),  # as in OSV: PyPI, Go, npm, Debian:12, ...
    Column("package", String(512), nullable=False),  # normalised (PEP 503 for PyPI)
    Column("ranges", JSON, nullable=False),
    Column("versions", JSON, nullable=False),
    Column("severity", String(16)),  # per-package severity (Debian urgency, ...), if any
)
Index("ix_vuln_affected_package", vuln_affected.c.ecosystem, vuln_affected.c.package)
Index("ix_vuln_affected_advisory", vuln_affected.c.advisory_id)

image_inventories = Table(
    "image_inventories",
    metadata,
    Column("digest", String(160), primary_key=True),  # image manifest digest: content-addressed
    Column("created_at", UtcDateTime(), nullable=False),
    Column("format", Integer, nullable=False),
    Column("inventory", JSON, nullable=False),  # OS + packages found in the layers (the SBOM)
)

image_scans = Table(
    "image_scans",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("digest", String(160), primary_key=True),
    Column("scan_id", String(36), nullable=False),  # the latest request; older jobs don't write
    Column("scan_type", String(16), nullable=False),  # BASIC | ENHANCED
    Column("status", String(32), nullable=False),  # ECR ScanStatus
    Column("description", Text),
    Column("attempts", Integer, nullable=False),
    Column("requested_at", UtcDateTime(), nullable=False),
    Column("manual_at", UtcDateTime()),  # last StartImageScan (one a day, as in ECR)
    Column("completed_at", UtcDateTime()),
    Column("source_updated_at", UtcDateTime()),
    Column("severity_counts", JSON, nullable=False),
    Column("findings", JSON, nullable=False),
)

registry_scanning = Table(
    "registry_scanning",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("scan_type", String(16), nullable=False),
    Column("rules", JSON, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

# --- lifecycle policies, garbage collection, storage quotas (migration 0005, branch "lifecycle") -
# When garbage collection first saw a link unreferenced by the repository's manifests (NULL while
# referenced); a link is reclaimed only after the grace period both from this and from linked_at.
repository_blobs.append_column(Column("unreferenced_since", UtcDateTime()))

lifecycle_policies = Table(
    "lifecycle_policies",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("policy_text", Text, nullable=False),  # as given
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("last_evaluated_at", UtcDateTime()),
)

lifecycle_previews = Table(  # the latest preview of each repository
    "lifecycle_previews",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("policy_text", Text, nullable=False),
    Column("status", String(16), nullable=False),  # IN_PROGRESS | COMPLETE | FAILED
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    Column("results", JSON),  # the images the policy would expire, in expiry order
    Column("error", Text),
)

lifecycle_expiries = Table(  # append-only record of every image a lifecycle run deleted
    "lifecycle_expiries",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("run_id", String(36), nullable=False),
    Column("repository_name", String(256), nullable=False),  # kept after the repository goes
    Column("image_digest", String(160), nullable=False),
    Column("image_tags", JSON, nullable=False),
    Column("media_type", String(255), nullable=False),
    Column("image_size", BigInteger, nullable=False),
    Column("pushed_at", UtcDateTime(), nullable=False),
    Column("rule_priority", Integer, nullable=False),
    Column("reason", String(16), nullable=False),  # rule | child | referrer
    Column("unit_digest", String(160), nullable=False),  # the image whose expiry took this one
    Column("expired_at", UtcDateTime(), nullable=False),
)
Index("ix_lifecycle_expiries_repository", lifecycle_expiries.c.repository_name,
      lifecycle_expiries.c.expired_at)

repository_quotas = Table(
    "repository_quotas",
    metadata,
    Column("repository_id", Integer, ForeignKey("repositories.id", ondelete="CASCADE"),
           primary_key=True),
    Column("max_bytes", BigInteger),  # manifests + distinct referenced blobs; NULL: no limit
    Column("max_images", Integer),  # manifests; NULL: no limit
)

# --- console sign-in back-off (migration 0008, on branch "iam") ----------------------------------
# Failed sign-ins per client address and per name tried, shared by every node. The key is the
# sha256 of "ip:<address>", "key:<access key id>" or "user:<user name>" (names typed at the sign-in
# form are not kept in clear); when the next attempt is allowed follows from the two columns.
login_failures = Table(
    "login_failures",
    metadata,
    Column("key", String(64), primary_key=True),  # sha256 hex
    Column("failures", Integer, nullable=False),  # in a row, since the last success
    Column("last_failure", UtcDateTime(), nullable=False),
)
Index("ix_login_failures_last_failure", login_failures.c.last_failure)
