"""What authorization reads about a resource: repository policy, tags, public flag; registry policy."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from dockyard.metadata.engine import Database, retry_conflicts
from dockyard.metadata.tables import registry, repositories


@dataclass(frozen=True, slots=True)
class RepositoryAccess:
    policy: dict[str, Any] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    public: bool = False


def _document(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


@retry_conflicts
class SqlAccessStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def repository(self, name: str) -> RepositoryAccess | None:
        columns = [repositories.c.policy_text, repositories.c.tags]
        if "public" in repositories.c:
            columns.append(repositories.c.public)
        with self.db.read() as c:
            row = c.execute(select(*columns).where(repositories.c.name == name)).first()
        if row is None:
            return None
        tags = {t.get("Key", ""): t.get("Value", "") for t in (row.tags or [])}
        return RepositoryAccess(_document(row.policy_text), tags,
                                bool(getattr(row, "public", False)))

    def registry_policy(self) -> dict[str, Any] | None:
        with self.db.read() as c:
            return _document(c.execute(select(registry.c.policy_text)).scalar())
