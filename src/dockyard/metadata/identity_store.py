"""Identity metadata in SQL: the registry row, principals and their access keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from dockyard.domain.models import AccessKey, Principal, RegistryInfo
from dockyard.metadata.engine import Database, insert_ignoring, retry_conflicts
from dockyard.metadata.tables import access_keys, principals, registry


def _principal(row: Any) -> Principal:
    return Principal(row.id, row.kind, row.name, row.arn, tuple(row.policies or ()))


def _key(row: Any) -> AccessKey:
    return AccessKey(row.access_key_id, row.principal_id, row.status, row.created_at,
                     row.last_used_at, row.secret_encrypted)


@retry_conflicts
class SqlIdentityStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def registry(self) -> tuple[RegistryInfo, bytes] | None:
        """The registry row and its encrypted token key, or None before the first start."""
        with self.db.read() as c:
            row = c.execute(select(registry).where(registry.c.id == 1)).first()
        if row is None:
            return None
        return RegistryInfo(row.registry_id, row.region, row.created_at), row.token_key

    def create_registry(self, info: RegistryInfo, token_key_encrypted: bytes) -> bool:
        """Create the registry row unless another process won the race; True when created here."""
        with self.db.write() as c:  # nodes starting together on PostgreSQL: one row wins
            return insert_ignoring(c, registry, {
                "id": 1, "registry_id": info.registry_id, "region": info.region,
                "created_at": info.created_at, "token_key": token_key_encrypted})

    def create_principal(self, principal: Principal, now: datetime) -> None:
        with self.db.write() as c:
            c.execute(insert(principals).values(
                id=principal.id, kind=principal.kind, name=principal.name, arn=principal.arn,
                policies=list(principal.policies), created_at=now))

    def principal(self, principal_id: str) -> Principal | None:
        with self.db.read() as c:
            row = c.execute(select(principals).where(principals.c.id == principal_id)).first()
        return _principal(row) if row else None

    def principal_by_name(self, kind: str, name: str) -> Principal | None:
        with self.db.read() as c:
            row = c.execute(select(principals).where(principals.c.kind == kind,
                                                     principals.c.name == name)).first()
        return _principal(row) if row else None

    def create_access_key(self, key: AccessKey) -> None:
        with self.db.write() as c:
            c.execute(insert(access_keys).values(
                access_key_id=key.access_key_id, principal_id=key.principal_id,
                secret_encrypted=key.secret_encrypted, status=key.status, created_at=key.created_at))

    def access_key(self, access_key_id: str) -> AccessKey | None:
        with self.db.read() as c:
            row = c.execute(select(access_keys).where(
                access_keys.c.access_key_id == access_key_id)).first()
        return _key(row) if row else None

    def access_keys(self, principal_id: str | None = None) -> list[AccessKey]:
        query = select(access_keys).order_by(access_keys.c.created_at)
        if principal_id is not None:
            query = query.where(access_keys.c.principal_id == principal_id)
        with self.db.read() as c:
            return [_key(r) for r in c.execute(query)]

    def set_access_key_status(self, access_key_id: str, status: str) -> bool:
        with self.db.write() as c:
            return c.execute(update(access_keys).where(access_keys.c.access_key_id == access_key_id)
                             .values(status=status)).rowcount > 0

    def touch_access_key(self, access_key_id: str, now: datetime) -> None:
        with self.db.write() as c:
            c.execute(update(access_keys).where(access_keys.c.access_key_id == access_key_id)
                      .values(last_used_at=now))

    def delete_access_key(self, access_key_id: str) -> bool:
        with self.db.write() as c:
            return c.execute(delete(access_keys).where(
                access_keys.c.access_key_id == access_key_id)).rowcount > 0
