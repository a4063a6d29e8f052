"""``Database.first``: a hot-path query on SQLite's own driver returns what SQLAlchemy returns,
leaves no read snapshot open, and reopens its connection after ``dispose``."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import bindparam, insert, select

from dockyard.metadata.engine import Database, HotQuery, make_engine
from dockyard.metadata.migrate import upgrade
from dockyard.metadata.tables import manifest_references, repositories

T0 = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=timezone.utc)

BY_NAME = HotQuery(select(repositories.c.id, repositories.c.name, repositories.c.created_at,
                          repositories.c.tags, repositories.c.scan_on_push)
                   .where(repositories.c.name == bindparam("name")))
# a literal in the statement ("blob") travels as a compiled default parameter
REFERENCE = HotQuery(select(manifest_references.c.target_digest).where(
    manifest_references.c.kind == "blob",
    manifest_references.c.repository_id == bindparam("repository_id")))


@pytest.fixture
def db(tmp_path: Path) -> Database:
    engine = make_engine(f"sqlite:///{tmp_path / 'hot.db'}")
    upgrade(engine)
    database = Database(engine)
    with database.write() as c:
        c.execute(insert(repositories).values(
            name="team/app", created_at=T0, tag_mutability="MUTABLE", mutability_exclusions=[],
            scan_on_push=True, encryption_type="AES256", tags=[{"Key": "a", "Value": "b"}]))
    yield database
    database.dispose()


def test_rows_match_sqlalchemy(db: Database) -> None:
    row = db.first(BY_NAME, {"name": "team/app"})
    with db.read() as c:
        expected = c.execute(BY_NAME.statement, {"name": "team/app"}).first()
    assert row is not None and expected is not None
    assert tuple(row) == tuple(expected)
    assert row.created_at == T0 and row.created_at.tzinfo is not None
    assert row.tags == [{"Key": "a", "Value": "b"}] and row.scan_on_push is True
    assert db.first(BY_NAME, {"name": "missing"}) is None
    assert db.first(REFERENCE, {"repository_id": row.id}) is None


def test_no_read_snapshot_stays_open(db: Database) -> None:
    assert db.first(BY_NAME, {"name": "team/app"}) is not None
    with db.write() as c:  # a checkpoint completes only when no reader holds an old snapshot
        c.execute(insert(repositories).values(
            name="team/two", created_at=T0, tag_mutability="MUTABLE", mutability_exclusions=[],
            scan_on_push=False, encryption_type="AES256", tags=[]))
    with db.engine.connect() as c:
        busy, _, _ = c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    assert busy == 0
    assert db.first(BY_NAME, {"name": "team/two"}) is not None  # sees the new commit


def test_dispose_closes_and_the_next_query_reopens(db: Database) -> None:
    assert db.first(BY_NAME, {"name": "team/app"}) is not None
    db.dispose()
    assert db.first(BY_NAME, {"name": "team/app"}) is not None


def test_a_forked_child_opens_its_own_connection(db: Database) -> None:
    assert db.first(BY_NAME, {"name": "team/app"}) is not None
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            found = db.first(BY_NAME, {"name": "team/app"})
            os.write(write, b"ok" if found is not None and found.name == "team/app" else b"no")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    assert os.read(read, 2) == b"ok"
    os.close(read)
