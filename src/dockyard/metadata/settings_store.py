"""Settings metadata in SQL: repository settings and tags, repository and registry policies,
account settings. Portable SQL (SQLAlchemy Core) on ``Database.read()/write()``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from dockyard.metadata.engine import Database, retry_conflicts
from dockyard.metadata.tables import account_settings, registry, repositories

Tags = tuple[dict[str, str], ...]
_REGISTRY_ROW = registry.c.id == 1


@retry_conflicts
class SqlSettingsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- repository settings ----------------------------------------------------------------------
    def _update_repository(self, repository_id: int, **values: object) -> bool:
        with self.db.write() as c:
            return c.execute(update(repositories).where(repositories.c.id == repository_id)
                             .values(**values)).rowcount == 1

    def set_public(self, repository_id: int, public: bool) -> bool:
        return self._update_repository(repository_id, public=public)

    def set_tag_mutability(self, repository_id: int, mode: str,
                           filters: Sequence[dict[str, str]]) -> bool:
        """False when the repository is gone."""
        return self._update_repository(repository_id, tag_mutability=mode,
                                       mutability_exclusions=[dict(f) for f in filters])

    def set_scan_on_push(self, repository_id: int, scan_on_push: bool) -> bool:
        return self._update_repository(repository_id, scan_on_push=scan_on_push)

    def change_repository_tags(self, repository_id: int,
                               change: Callable[[Tags], Tags]) -> Tags | None:
        """Replace the tags with ``change(current tags)`` in one transaction (None: repo gone).

        ``change`` may raise to abandon the transaction (too many tags)."""
        with self.db.write() as c:
            row = c.execute(select(repositories.c.tags)
                            .where(repositories.c.id == repository_id)).first()
            if row is None:
                return None
            new = change(tuple(row.tags or ()))
            c.execute(update(repositories).where(repositories.c.id == repository_id)
                      .values(tags=[dict(t) for t in new]))
        return new

    # --- repository policies ----------------------------------------------------------------------
    def repository_policy(self, repository_id: int) -> tuple[bool, str | None]:
        """(repository exists, its policy text)."""
        with self.db.read() as c:
            row = c.execute(select(repositories.c.policy_text)
                            .where(repositories.c.id == repository_id)).first()
        return (False, None) if row is None else (True, row.policy_text)

    def set_repository_policy(self, repository_id: int, text: str) -> bool:
        return self._update_repository(repository_id, policy_text=text)

    def delete_repository_policy(self, repository_id: int) -> tuple[bool, str | None]:
        """Remove the policy; returns (repository exists, the policy text it had)."""
        with self.db.write() as c:
            row = c.execute(select(repositories.c.policy_text)
                            .where(repositories.c.id == repository_id)).first()
            if row is None:
                return False, None
            if row.policy_text is not None:
                c.execute(update(repositories).where(repositories.c.id == repository_id)
                          .values(policy_text=None))
        return True, row.policy_text

    # --- the registry policy ----------------------------------------------------------------------
    def registry_policy(self) -> str | None:
        with self.db.read() as c:
            return c.execute(select(registry.c.policy_text).where(_REGISTRY_ROW)).scalar()

    def set_registry_policy(self, text: str) -> None:
        with self.db.write() as c:
            c.execute(update(registry).where(_REGISTRY_ROW).values(policy_text=text))

    def delete_registry_policy(self) -> str | None:
        """Remove the registry policy; returns the text it had (None: there was none)."""
        with self.db.write() as c:
            text = c.execute(select(registry.c.policy_text).where(_REGISTRY_ROW)).scalar()
            if text is not None:
                c.execute(update(registry).where(_REGISTRY_ROW).values(policy_text=None))
        return text

    # --- account settings -------------------------------------------------------------------------
    def account_setting(self, name: str) -> str | None:
        with self.db.read() as c:
            return c.execute(select(account_settings.c.value)
                             .where(account_settings.c.name == name)).scalar()

    def put_account_setting(self, name: str, value: str) -> None:
        for attempt in range(2):
            try:
                with self.db.write() as c:
                    changed = c.execute(update(account_settings).where(
                        account_settings.c.name == name).values(value=value)).rowcount
                    if not changed:
                        c.execute(insert(account_settings).values(name=name, value=value))
                return
            except IntegrityError:
                # another writer inserted the row between our UPDATE and INSERT (PostgreSQL)
                if attempt:
                    raise
