"""Failed console sign-ins in SQL, shared by every node (the ``LoginFailureStore`` port; the
back-off policy built on it is ``console.signin.LoginThrottle``).

One row per key (client address, access key id or user name tried) with the number of failures in
a row and the time of the last one. Keys are stored as their sha256 (so the names typed at the
sign-in form, sometimes a password typed in the wrong field, are not kept in clear; an unkeyed
hash, so a short value such as an IPv4 address can still be found by trying them all).

A failure is one ``INSERT ... ON CONFLICT DO UPDATE SET failures = failures + 1`` (SQLite and
PostgreSQL alike): nodes recording failures of one key at the same moment never lose a count, and
no row is read first. The keys of one failure are written in sorted order, so two transactions
lock their rows in the same order. Pruning deletes idle rows in small batches; on PostgreSQL it
skips rows another transaction holds (``FOR UPDATE SKIP LOCKED``), so it never waits on a sign-in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from dockyard.errors import ServerError
from dockyard.metadata.engine import Database, retry_conflicts
from dockyard.metadata.tables import login_failures

PRUNE_BATCH = 1000


def hashed(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _hashes(keys: Sequence[str]) -> list[str]:
    return sorted({hashed(k) for k in keys})


@retry_conflicts
class SqlLoginFailureStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def failures(self, keys: Sequence[str]) -> list[tuple[int, datetime]]:
        """(failures in a row, time of the last one) of each key that has any."""
        if not keys:
            return []
        t = login_failures
        with self.db.read() as c:
            return [(r.failures, r.last_failure) for r in c.execute(
                select(t.c.failures, t.c.last_failure).where(t.c.key.in_(_hashes(keys))))]

    def record_failure(self, keys: Sequence[str], at: datetime) -> None:
        """One more failure for each key, in one statement (an atomic increment per row)."""
        if not keys:
            return
        t = login_failures
        with self.db.write() as c:
            statement = _insert(c).values(
                [{"key": h, "failures": 1, "last_failure": at} for h in _hashes(keys)])
            c.execute(statement.on_conflict_do_update(
                index_elements=[t.c.key],
                set_={"failures": t.c.failures + 1,
                      "last_failure": statement.excluded.last_failure}))

    def clear(self, keys: Sequence[str]) -> None:
        """Forget the keys' failures (after a successful sign-in)."""
        if not keys:
            return
        with self.db.write() as c:
            c.execute(delete(login_failures).where(login_failures.c.key.in_(_hashes(keys))))

    def forget_before(self, cutoff: datetime) -> int:
        """Delete the rows whose last failure is older than ``cutoff``; how many went."""
        t = login_failures
        total = 0
        while True:
            with self.db.write() as c:
                idle = (select(t.c.key).where(t.c.last_failure < cutoff).limit(PRUNE_BATCH)
                        .with_for_update(skip_locked=True))  # rendered on PostgreSQL only
                gone = c.execute(delete(t).where(t.c.key.in_(idle), t.c.last_failure < cutoff)
                                 .returning(t.c.key)).all()
            total += len(gone)
            if len(gone) < PRUNE_BATCH:
                return total


def _insert(connection: Connection):  # type: ignore[no-untyped-def]
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(login_failures)
    if dialect == "sqlite":
        return sqlite.insert(login_failures)
    raise ServerError(  # pragma: no cover - make_engine only builds SQLite and PostgreSQL engines
        f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")
