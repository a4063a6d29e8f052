"""Validation messages next to the fields: which form field a service's error is about."""

from __future__ import annotations

import re
from collections.abc import Mapping

from dockyard.errors import (
    DockyardError,
    InvalidTagParameter,
    NameInvalid,
    RepositoryAlreadyExists,
    TooManyTags,
)

_AT = re.compile(r"at '([A-Za-z]+)")


def field_of(exc: DockyardError, fields: Mapping[str, str], default: str = "") -> str:
    """The form field ``exc`` is about: by its class, else the parameter its message names
    (``Invalid parameter at 'encryptionType' ...``) looked up in ``fields`` (API name -> field)."""
    if isinstance(exc, (NameInvalid, RepositoryAlreadyExists)):
        return fields.get("repositoryName", default)
    if isinstance(exc, (InvalidTagParameter, TooManyTags)):
        return fields.get("tags", default)
    found = _AT.search(exc.message)
    if found:
        return fields.get(found.group(1), default)
    if "KMS key" in exc.message:
        return fields.get("kmsKey", default)
    return default


def errors_for(exc: DockyardError, fields: Mapping[str, str], default: str = "") -> dict[str, str]:
    return {field_of(exc, fields, default): exc.message}


def lines(text: str) -> list[str]:
    """Non-empty entries of a textarea or a comma-separated field."""
    return [item.strip() for item in re.split(r"[\n,]", text) if item.strip()]
