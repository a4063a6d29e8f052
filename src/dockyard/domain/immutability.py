"""Tag mutability: ECR's four modes and their wildcard exclusion filters."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

MUTABLE = "MUTABLE"
IMMUTABLE = "IMMUTABLE"
IMMUTABLE_WITH_EXCLUSION = "IMMUTABLE_WITH_EXCLUSION"
MUTABLE_WITH_EXCLUSION = "MUTABLE_WITH_EXCLUSION"
MODES = (MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION)


def _excluded(tag: str, filters: Iterable[dict[str, str]]) -> bool:
    return any(fnmatch.fnmatchcase(tag, f.get("filter", "")) for f in filters)


def tag_is_immutable(mode: str, filters: Iterable[dict[str, str]], tag: str) -> bool:
    """Whether an existing ``tag`` may not be moved to another image."""
    if mode == IMMUTABLE:
        return True
    if mode == IMMUTABLE_WITH_EXCLUSION:
        return not _excluded(tag, filters)
    if mode == MUTABLE_WITH_EXCLUSION:
        return _excluded(tag, filters)
    return False
