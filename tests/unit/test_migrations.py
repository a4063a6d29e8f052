"""dockyard.metadata.migrations: Alembic builds exactly the schema of ``dockyard.metadata.tables``."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from dockyard.metadata.engine import make_engine
from dockyard.metadata.migrate import alembic_config, upgrade
from dockyard.metadata.tables import metadata


def _diffs(engine) -> list:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                               "compare_server_default": True})
        return compare_metadata(context, metadata)


def test_upgrade_of_an_empty_sqlite_gives_the_declared_schema(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    assert _diffs(engine) == []
    tables = set(inspect(engine).get_table_names())
    assert tables == set(metadata.tables) | {"alembic_version"}


def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    upgrade(engine)
    assert _diffs(engine) == []


def test_database_is_at_every_head(tmp_path: Path) -> None:
    """Feature branches (scanning, iam, ...) start from 0003; a start upgrades to all heads."""
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert heads, heads
    with engine.connect() as connection:
        assert set(MigrationContext.configure(connection).get_current_heads()) == set(heads)


def test_an_empty_database_differs_from_the_schema(tmp_path: Path) -> None:
    """The comparison can fail: without the migrations every table is reported missing."""
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    diffs = _diffs(engine)
    added = {d[1].name for d in diffs if d[0] == "add_table"}
    assert added == set(metadata.tables)
