"""Records the services pass around: plain frozen values, no behaviour tied to storage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class RegistryInfo:
    registry_id: str
    region: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: an IAM user, or a role session from sts:AssumeRole.

    ``policies`` holds every identity-policy document that applies to it (inline and attached,
    the user's groups', or the role's), resolved when it authenticated.
    """

    id: str
    kind: str  # user | assumed-role
    name: str
    arn: str
    policies: tuple[dict[str, Any], ...] = ()
    account: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    role_arn: str | None = None  # for role sessions: the role's ARN (what policies name)
    session_name: str | None = None
    username: str | None = None  # aws:username (IAM users only)
    user_id: str | None = None  # aws:userid: AIDA... for users, AROA...:session for sessions
    # Session policies given to AssumeRole: when present, a session may do only what both its
    # role's policies (``policies``) and every one of these allow (AWS's intersection).
    session_policies: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class AccessKey:
    access_key_id: str
    principal_id: str
    status: str
    created_at: datetime
    last_used_at: datetime | None
    secret_encrypted: bytes = field(repr=False, default=b"")


@dataclass(frozen=True, slots=True)
class Repository:
    id: int
    name: str
    created_at: datetime
    tag_mutability: str = "MUTABLE"
    mutability_exclusions: tuple[dict[str, str], ...] = ()
    scan_on_push: bool = False
    encryption_type: str = "AES256"
    kms_key: str | None = None
    tags: tuple[dict[str, str], ...] = ()
    public: bool = False  # anyone, even anonymous, may pull


@dataclass(frozen=True, slots=True)
class UploadPart:
    """One part of an upload a blob store keeps in parts (an S3 multipart upload part)."""

    number: int
    etag: str
    size: int


@dataclass(frozen=True, slots=True)
class StoredParts:
    """Where a blob store that keeps uploads in parts has one: its multipart upload (S3's
    UploadId) with the parts written so far, and the object holding the bytes after them (too
    few for a part yet). The upload row holds it, so any node can continue the upload."""

    multipart_id: str | None = None
    parts: tuple[UploadPart, ...] = ()
    tail: str | None = None

    @property
    def size(self) -> int:
        return sum(p.size for p in self.parts)


@dataclass(frozen=True, slots=True)
class Upload:
    id: str
    repository_id: int
    size: int
    sha256_size: int
    sha256_hex: str | None
    created_at: datetime
    updated_at: datetime
    stored: StoredParts | None = None  # None while the blob store keeps the upload in one piece


@dataclass(frozen=True, slots=True)
class ManifestHead:
    """What a manifest HEAD needs: the hot path reads only this (plus the body for GET)."""

    digest: str
    media_type: str
    size: int
    subject_digest: str | None = None
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class ManifestRecord:
    digest: str
    media_type: str
    artifact_type: str | None
    config_media_type: str | None
    subject_digest: str | None
    size: int
    image_size: int
    annotations: dict[str, str]
    pushed_at: datetime
    last_pulled_at: datetime | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NewManifest:
    """A validated manifest ready to be stored, with everything it references."""

    digest: str
    media_type: str
    artifact_type: str | None
    config_media_type: str | None
    subject_digest: str | None
    body: bytes
    image_size: int
    annotations: dict[str, str]
    blob_digests: tuple[str, ...]
    manifest_digests: tuple[str, ...]
