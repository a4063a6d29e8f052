"""Tag mutability: ECR's four modes and their wildcard exclusion filters."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

from dockyard.errors import InvalidParameter

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


# --- validation of a requested setting (CreateRepository, PutImageTagMutability) ---------------
WITH_EXCLUSION = (IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION)
WILDCARD = "WILDCARD"
MIN_FILTERS, MAX_FILTERS = 1, 5
MAX_FILTER_LENGTH = 128
_FILTER_RE = re.compile(r"^[0-9a-zA-Z._*-]{1,128}$")
_FIELD = "imageTagMutabilityExclusionFilters"


def validate_tag_mutability(mode: object, filters: object) -> tuple[dict[str, str], ...]:
    """Check a mode and its exclusion filters as ECR does; returns the filters to store.

    ``filters`` is None when the request did not give any. The ``*_WITH_EXCLUSION`` modes need
    1-5 ``{filterType: WILDCARD, filter}`` entries; the other modes refuse them.
    """
    if mode not in MODES:
        raise InvalidParameter(
            f"Invalid parameter at 'imageTagMutability' failed to satisfy constraint: "
            f"'Member must satisfy enum value set: [{', '.join(MODES)}]'")
    if filters is None:
        if mode in WITH_EXCLUSION:
            raise InvalidParameter(
                f"Invalid parameter at '{_FIELD}': imageTagMutability {mode} requires "
                f"{MIN_FILTERS}-{MAX_FILTERS} exclusion filters")
        return ()
    if mode not in WITH_EXCLUSION:
        raise InvalidParameter(
            f"Invalid parameter at '{_FIELD}': exclusion filters can only be given with "
            f"imageTagMutability {' or '.join(WITH_EXCLUSION)}, not {mode}")
    if not isinstance(filters, (list, tuple)) or not MIN_FILTERS <= len(filters) <= MAX_FILTERS:
        raise InvalidParameter(
            f"Invalid parameter at '{_FIELD}' failed to satisfy constraint: "
            f"'Member must have length between {MIN_FILTERS} and {MAX_FILTERS}'")
    return tuple(_filter(i, f) for i, f in enumerate(filters, start=1))


def _filter(index: int, value: object) -> dict[str, str]:
    where = f"'{_FIELD}.{index}"
    if not isinstance(value, dict):
        raise InvalidParameter(f"Invalid parameter at {where}': each filter must be an object "
                               f"{{filterType, filter}}")
    if value.get("filterType") != WILDCARD:
        raise InvalidParameter(
            f"Invalid parameter at {where}.filterType' failed to satisfy constraint: "
            f"'Member must satisfy enum value set: [{WILDCARD}]'")
    pattern = value.get("filter")
    if not isinstance(pattern, str) or not 1 <= len(pattern) <= MAX_FILTER_LENGTH:
        raise InvalidParameter(
            f"Invalid parameter at {where}.filter' failed to satisfy constraint: "
            f"'Member must have length between 1 and {MAX_FILTER_LENGTH}'")
    if _FILTER_RE.match(pattern) is None:
        raise InvalidParameter(
            f"Invalid parameter at {where}.filter' failed to satisfy constraint: "
            f"'Member must satisfy regular expression pattern: ^[0-9a-zA-Z._*-]{{1,128}}$' "
            f"(letters, digits, '.', '_', '-' and the wildcard '*'; got {pattern!r})")
    return {"filterType": WILDCARD, "filter": pattern}
