"""IAM records and naming rules (pure): users, groups, roles, managed policies, sessions, ARNs.

Name and path rules follow IAM's API reference (botocore's ``iam`` model patterns): user, group and
role names use ``[\\w+=,.@-]``; paths start and end with ``/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dockyard.errors import ValidationError

USER, GROUP, ROLE = "user", "group", "role"
AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy"

_NAME = re.compile(r"^[\w+=,.@-]+$")
_PATH = re.compile(r"^(/|/[\x21-\x7e]+/)$")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
NAME_LIMITS = {USER: 64, GROUP: 128, ROLE: 64, "policy": 128}


@dataclass(frozen=True, slots=True)
class IamUser:
    id: str  # AIDA...
    name: str
    path: str
    arn: str
    created_at: datetime
    tags: tuple[tuple[str, str], ...] = ()
    password_last_used: datetime | None = None


@dataclass(frozen=True, slots=True)
class IamGroup:
    id: str  # AGPA...
    name: str
    path: str
    arn: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IamRole:
    id: str  # AROA...
    name: str
    path: str
    arn: str
    trust_policy: str  # the document as given
    max_session_duration: int
    created_at: datetime
    description: str | None = None
    last_used_at: datetime | None = None
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    arn: str
    name: str
    id: str  # ANPA...
    path: str
    default_version: str
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    attachment_count: int = 0
    aws_managed: bool = False


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    version_id: str  # v1, v2, ...
    document: str
    is_default: bool
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LoginProfile:
    principal_id: str
    user_name: str
    created_at: datetime
    password_reset_required: bool
    password_hash: str = field(repr=False, default="")
    failed_attempts: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class StsSession:
    """Temporary credentials from sts:AssumeRole (the session token is kept only as a hash)."""

    access_key_id: str  # ASIA...
    role_id: str
    session_name: str
    source_arn: str
    created_at: datetime
    expires_at: datetime
    secret_encrypted: bytes = field(repr=False, default=b"")
    token_sha256: str = field(repr=False, default="")
    session_policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    source_identity: str | None = None


@dataclass(frozen=True, slots=True)
class ResolvedPolicies:
    """Every identity-policy document that applies to a user or a role."""

    documents: tuple[dict[str, Any], ...]
    tags: dict[str, str]


def arn(account: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}{path}{name}"


def aws_policy_arn(name: str) -> str:
    return f"{AWS_POLICY_PREFIX}/{name}"


def check_name(kind: str, name: Any, field_name: str) -> str:
    limit = NAME_LIMITS[kind]
    if not isinstance(name, str) or not name:
        raise ValidationError(f"1 validation error detected: Value at '{field_name}' failed to "
                              f"satisfy constraint: Member must have length greater than or equal to 1")
    if len(name) > limit:
        raise ValidationError(f"1 validation error detected: Value '{name}' at '{field_name}' failed "
                              f"to satisfy constraint: Member must have length less than or equal "
                              f"to {limit}")
    if not _NAME.match(name):
        raise ValidationError(f"1 validation error detected: Value '{name}' at '{field_name}' failed "
                              f"to satisfy constraint: Member must satisfy regular expression "
                              f"pattern: [\\w+=,.@-]+")
    return name


def check_path(path: Any, field_name: str = "path") -> str:
    if path is None:
        return "/"
    if not isinstance(path, str) or len(path) > 512 or not _PATH.match(path):
        raise ValidationError(f"1 validation error detected: Value '{path}' at '{field_name}' failed "
                              f"to satisfy constraint: Member must satisfy regular expression "
                              f"pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)")
    return path


def check_session_name(name: Any) -> str:
    if not isinstance(name, str) or not _SESSION_NAME.match(name):
        raise ValidationError(f"1 validation error detected: Value '{name}' at 'roleSessionName' "
                              f"failed to satisfy constraint: Member must satisfy regular expression "
                              f"pattern: [\\w+=,.@-]* and have length between 2 and 64")
    return name


def check_tags(tags: list[tuple[str, str]]) -> list[tuple[str, str]]:
    keys = [k for k, _ in tags]
    if len(set(k.lower() for k in keys)) != len(keys):
        raise ValidationError("Duplicate tag keys found. Please note that Tag keys are "
                              "case insensitive.")
    for key, value in tags:
        if not key or len(key) > 128 or len(value) > 256:
            raise ValidationError(f"1 validation error detected: Value at 'tags' failed to satisfy "
                                  f"constraint: tag keys must have 1-128 and values 0-256 "
                                  f"characters ({key!r})")
        if key.lower().startswith("aws:"):
            raise ValidationError(f"Tag keys beginning with 'aws:' are reserved ({key!r})")
    return tags
