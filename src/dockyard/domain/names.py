"""Repository names and tags, with ECR's rules (a subset of the OCI distribution grammar)."""

from __future__ import annotations

import re

from dockyard.errors import NameInvalid, TagInvalid

# ECR CreateRepository: 2-256 characters matching this pattern (botocore's ECR model).
_REPOSITORY_RE = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*")
_TAG_RE = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
MIN_NAME, MAX_NAME = 2, 256


def validate_repository_name(name: str) -> str:
    if not isinstance(name, str) or not (MIN_NAME <= len(name) <= MAX_NAME):
        raise NameInvalid(
            f"Invalid parameter at 'repositoryName' failed to satisfy constraint: "
            f"'Member must have length between {MIN_NAME} and {MAX_NAME}'",
            {"name": name},
        )
    if _REPOSITORY_RE.fullmatch(name) is None:
        raise NameInvalid(
            "Invalid parameter at 'repositoryName' failed to satisfy constraint: "
            "'must satisfy regular expression "
            "'[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*''",
            {"name": name},
        )
    return name


def validate_tag(tag: str) -> str:
    if not isinstance(tag, str) or _TAG_RE.fullmatch(tag) is None:
        raise TagInvalid(
            f"invalid tag {tag!r}: must match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}", {"tag": tag}
        )
    return tag
