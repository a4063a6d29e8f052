"""Engine set-up: SQLite in WAL mode with write transactions that take the lock up front, or
PostgreSQL (psycopg 3) for many nodes sharing one database.

On PostgreSQL, transactions run at READ COMMITTED; writes that decide on rows they read lock them
(``SELECT ... FOR UPDATE``, ``SKIP LOCKED`` for job claims) or are conditional ``UPDATE``s, and
inserts that can race use ``INSERT ... ON CONFLICT DO NOTHING`` (``insert_ignoring``). Reads run
in autocommit: under READ COMMITTED every statement sees its own snapshot anyway, and the pull hot
path saves the BEGIN/ROLLBACK round trips.

Transactions take row locks in one order (see docs/architecture.md, "Locking order"), so nodes do not
deadlock in the normal course; should PostgreSQL still abort a transaction as a deadlock victim or a
serialization failure, the store method is run again (``retry_conflicts``): every store method is one
or more complete transactions, so running it again from the start is safe."""

from __future__ import annotations

import collections
import functools
import inspect
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, Table, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from dockyard.errors import ServerError

WRITE = "dockyard_write"
log = logging.getLogger(__name__)

# SQLSTATEs after which PostgreSQL has rolled the transaction back and running it again can succeed
RETRYABLE_STATES = frozenset({"40P01",   # deadlock_detected
                              "40001"})  # serialization_failure
ATTEMPTS = 5
_T = TypeVar("_T")


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` is a deadlock or serialization failure the database rolled back."""
    if not isinstance(error, DBAPIError):
        return False
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return state in RETRYABLE_STATES


def retrying(method: Callable[..., _T]) -> Callable[..., _T]:
    """Run ``method`` again (up to ``ATTEMPTS`` times, with a short random back-off) when the
    database aborted its transaction as a deadlock victim or a serialization failure."""
    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> _T:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return method(*args, **kwargs)
            except DBAPIError as error:
                if attempt == ATTEMPTS or not is_retryable(error):
                    raise
                log.info("%s: transaction aborted by the database (%s), attempt %d of %d",
                         method.__qualname__, getattr(error.orig, "sqlstate", "?"), attempt + 1,
                         ATTEMPTS)
                time.sleep(random.uniform(0, 0.005 * 2 ** attempt))
        raise AssertionError("unreachable")  # pragma: no cover
    run.__dockyard_retrying__ = True  # type: ignore[attr-defined]
    return run


def not_retried(method: Callable[..., _T]) -> Callable[..., _T]:
    """Leave a store method out of ``retry_conflicts`` (it has effects outside the database that
    must not happen twice)."""
    method.__dockyard_not_retried__ = True  # type: ignore[attr-defined]
    return method


def retry_conflicts(cls: type[_T]) -> type[_T]:
    """Class decorator for SQL stores: every public method is ``retrying``."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_") or not inspect.isfunction(member):
            continue
        if getattr(member, "__dockyard_not_retried__", False):
            continue
        setattr(cls, name, retrying(member))
    return cls


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
    statement = _ignoring_insert(connection.dialect.name, table)
    return connection.execute(statement, values).first() is not None


@functools.lru_cache(maxsize=None)
def _ignoring_insert(dialect: str, table: Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING RETURNING <key>`` for ``table``, built once; the values
    are bound per execution. RETURNING tells reliably whether a row went in (psycopg reports no
    rowcount here)."""
    if dialect == "postgresql":
        statement = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        statement = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - make_engine only builds SQLite and PostgreSQL engines
        raise ServerError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")
    return statement.returning(list(table.primary_key.columns)[0])


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


class HotQuery:
    """A read statement on a hot path (a pull's manifest or blob lookup, the repository of every
    registry request), run by ``Database.first`` on the thread's own driver connection, compiled
    once per dialect: SQLAlchemy's per-execution work (pool checkout and pre-ping, compiled-cache
    lookup, result set-up) cost several times the query itself.

    Parameters are plain strings and numbers (given as they are to the driver); results go
    through the columns' own result processors, so rows hold what SQLAlchemy would return."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self.row = collections.namedtuple("Row", list(statement.selected_columns.keys()),  # type: ignore[misc]
                                          rename=True)
        self._compiled: dict[str, tuple[str, dict[str, Any], list[Any] | None]] = {}

    def compiled(self, dialect: Any) -> tuple[str, dict[str, Any], list[Any] | None]:
        """(SQL, default parameters, result processors) for ``dialect``."""
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            processors = [c.type.dialect_impl(dialect).result_processor(dialect, None)
                          for c in self.statement.selected_columns]
            found = (str(compiled), dict(compiled.params), processors if any(processors) else None)
            self._compiled[dialect.name] = found
        return found

    def convert(self, values: tuple[Any, ...], processors: list[Any] | None) -> Any:
        if processors is not None:
            values = tuple(v if p is None else p(v) for p, v in zip(processors, values))
        return self.row(*values)


_SQLITE_NAMED = sqlite.dialect(paramstyle="named")


class Database:
    """Hands out connections: ``read()`` for queries, ``write()`` for one transaction of changes,
    ``first()`` for a hot-path query."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        name = engine.dialect.name
        self._autocommit_reads = name == "postgresql"
        database = engine.url.database if name == "sqlite" else None
        self._sqlite_file = database if database and database != ":memory:" else None
        # the dialect hot queries are compiled for, when they run on a driver connection
        self._hot_dialect: Any = (_SQLITE_NAMED if self._sqlite_file else
                                  engine.dialect if name == "postgresql" else None)
        self._local = threading.local()
        self._raw: list[Any] = []
        self._raw_lock = threading.Lock()

    def first(self, query: HotQuery, params: dict[str, Any]) -> Any | None:
        """The first row of ``query`` (attribute access by column name), or None."""
        if self._hot_dialect is None:
            with self.read() as c:
                return c.execute(query.statement, params).first()
        sql, defaults, processors = query.compiled(self._hot_dialect)
        arguments = {**defaults, **params}
        try:
            row = self._fetch_one(sql, arguments)
        except Exception as error:  # noqa: BLE001 - a dropped server connection: once more
            if not self._is_disconnect(error):
                raise
            self._forget_connection()
            row = self._fetch_one(sql, arguments)
        return query.convert(row, processors) if row is not None else None

    def _fetch_one(self, sql: str, arguments: dict[str, Any]) -> Any:
        cursor = self._connection().execute(sql, arguments)
        try:
            return cursor.fetchone()
        finally:
            cursor.close()  # SQLite: resets the statement, no read snapshot stays open

    def _is_disconnect(self, error: Exception) -> bool:
        if self._sqlite_file is not None:
            return False
        import psycopg
        return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError))

    def _connection(self) -> Any:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            connection = self._open_raw()
            with self._raw_lock:
                self._raw.append(connection)
            local.connection, local.pid = connection, os.getpid()
        return local.connection

    def _open_raw(self) -> Any:
        """A driver connection of this thread's own, in autocommit (each statement its own
        snapshot, no BEGIN/ROLLBACK), as reads are."""
        if self._sqlite_file is not None:
            connection = sqlite3.connect(self._sqlite_file, timeout=30, isolation_level=None,
                                         check_same_thread=False)
            connection.execute("PRAGMA busy_timeout=30000")
            return connection
        # PostgreSQL: set up as the engine sets up its own (the dialect's type adapters), then
        # taken out of the pool for good
        fairy = self.engine.raw_connection()
        connection = fairy.driver_connection
        fairy.detach()
        connection.rollback()  # whatever the pool's checkout began
        connection.autocommit = True
        return connection

    def _forget_connection(self) -> None:
        local = self._local
        connection = getattr(local, "connection", None)
        local.pid = None
        if connection is not None:
            with self._raw_lock:
                if connection in self._raw:
                    self._raw.remove(connection)
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - it is broken already
                pass

    def dispose(self) -> None:
        """Close every connection (before forking workers: no SQLite connection may cross)."""
        with self._raw_lock:
            raw, self._raw = self._raw, []
        for connection in raw:
            connection.close()
        self._local = threading.local()
        self.engine.dispose()

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
