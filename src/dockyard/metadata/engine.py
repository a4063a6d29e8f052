"""Engine set-up: SQLite in WAL mode with write transactions that take the lock up front, or
PostgreSQL (psycopg 3) for many nodes sharing one database.

On PostgreSQL, transactions run at READ COMMITTED; writes that decide on rows they read lock them
(``SELECT ... FOR UPDATE``, ``SKIP LOCKED`` for job claims) or are conditional ``UPDATE``s, and
inserts that can race use ``INSERT ... ON CONFLICT DO NOTHING`` (``insert_ignoring``). Reads run
in autocommit: under READ COMMITTED every statement sees its own snapshot anyway, and the pull hot
path saves the BEGIN/ROLLBACK round trips."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from dockyard.errors import ServerError

WRITE = "dockyard_write"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _create_private_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        _configure_sqlite(engine)
        return engine
    url = postgres_url(url)
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                             connect_args={"connect_timeout": 10,
                                           "application_name": "dockyard"})
    return create_engine(url, pool_pre_ping=True)


def postgres_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` URLs use psycopg 3 (the driver Dockyard ships with);
    SQLAlchemy would otherwise pick psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def insert_ignoring(connection: Connection, table: Table, values: dict[str, Any]) -> bool:
    """Insert a row unless one with the same key exists (then nothing happens, and no error
    aborts the transaction, as a unique violation would on PostgreSQL). True when inserted."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(values).on_conflict_do_nothing()
    else:  # pragma: no cover - make_engine only builds SQLite and PostgreSQL engines
        raise ServerError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")
    # RETURNING tells reliably whether a row went in (psycopg reports no rowcount here)
    key = list(table.primary_key.columns)[0]
    return connection.execute(statement.returning(key)).first() is not None


def _create_private_file(url: str) -> None:
    """Create the database file mode 0600 (SQLite gives its -wal/-shm files the same mode)."""
    path = url.split("///", 1)[-1]
    if not path or path == ":memory:":
        return
    # Open only when absent: closing any descriptor of the file drops every POSIX lock this
    # process's SQLite connections hold on it (other processes could then checkpoint and delete
    # the WAL under them).
    if not os.path.exists(path):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.chmod(path + suffix, 0o600)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A read-then-write transaction in deferred mode can fail with SQLITE_BUSY when it tries
        # to upgrade its lock; writers take the lock at BEGIN and wait for it instead. Reads run
        # in autocommit: each statement sees one consistent snapshot, without BEGIN/ROLLBACK trips.
        if connection.get_execution_options().get(WRITE, False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """Hands out connections: ``read()`` for queries, ``write()`` for one transaction of changes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._autocommit_reads = engine.dialect.name == "postgresql"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def ping(self) -> None:
        """Readiness: the database answers a query."""
        with self.read() as connection:
            connection.exec_driver_sql("SELECT 1")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            if self._autocommit_reads:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection
            connection.rollback()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{WRITE: True})
            with connection.begin():
                yield connection
