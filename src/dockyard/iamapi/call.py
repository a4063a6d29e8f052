"""What every IAM/STS operation receives: the caller, the services and the decoded parameters,
with typed accessors (the query protocol sends every value as text) and ``Marker`` paging."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from dockyard.domain.models import Principal
from dockyard.errors import ValidationError
from dockyard.services import Services

T = TypeVar("T")
DEFAULT_MAX_ITEMS = 100


def _invalid(field: str, constraint: str) -> ValidationError:
    return ValidationError(f"1 validation error detected: Value at '{field[:1].lower()}{field[1:]}' "
                           f"failed to satisfy constraint: {constraint}")


@dataclass(frozen=True)
class QueryCall:
    caller: Principal
    access_key_id: str
    services: Services
    params: dict[str, Any]

    def required(self, field: str) -> str:
        value = self.params.get(field)
        if value is None:
            raise _invalid(field, "Member must not be null")
        if not isinstance(value, str):
            raise _invalid(field, "Member must be a string")
        return value

    def optional(self, field: str) -> str | None:
        value = self.params.get(field)
        if value is not None and not isinstance(value, str):
            raise _invalid(field, "Member must be a string")
        return value

    def integer(self, field: str) -> int | None:
        value = self.optional(field)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise _invalid(field, "Member must be an integer") from None

    def boolean(self, field: str) -> bool | None:
        value = self.optional(field)
        if value is None:
            return None
        if value.lower() not in ("true", "false"):
            raise _invalid(field, "Member must be a boolean")
        return value.lower() == "true"

    def strings(self, field: str) -> list[str]:
        value = self.params.get(field)
        if value is None or value == "":
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _invalid(field, "Member must be a list of strings")
        return value

    def structures(self, field: str) -> list[dict[str, Any]]:
        value = self.params.get(field)
        if value is None or value == "":
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise _invalid(field, "Member must be a list of structures")
        return value

    def tags(self, field: str = "Tags") -> list[tuple[str, str]]:
        found = []
        for tag in self.structures(field):
            key, value = tag.get("Key"), tag.get("Value")
            if not isinstance(key, str) or not isinstance(value, str):
                raise _invalid(field, "Member must have a Key and a Value")
            found.append((key, value))
        return found

    def page(self, items: Sequence[T]) -> tuple[list[T], dict[str, Any]]:
        """One page after ``Marker`` of at most ``MaxItems`` (1..1000, default 100), and the
        ``IsTruncated``/``Marker`` members of the response."""
        limit = self.integer("MaxItems")
        if limit is None:
            limit = DEFAULT_MAX_ITEMS
        if not 1 <= limit <= 1000:
            raise _invalid("MaxItems", "Member must have value between 1 and 1000")
        start = 0
        marker = self.optional("Marker")
        if marker:
            try:
                start = int(base64.urlsafe_b64decode(marker.encode()).decode())
            except (ValueError, binascii.Error, UnicodeDecodeError):
                raise ValidationError("Invalid Marker") from None
            if start < 0:
                raise ValidationError("Invalid Marker")
        chosen = list(items[start:start + limit])
        more = start + limit < len(items)
        extra: dict[str, Any] = {"IsTruncated": more}
        if more:
            extra["Marker"] = base64.urlsafe_b64encode(str(start + limit).encode()).decode()
        return chosen, extra
