"""Schema migrations with Alembic, run programmatically on Dockyard's own engine.

Features may add migrations on their own branch (down_revision "0003" or later); every start
upgrades to all heads."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

_MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(connection: object | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


# Nodes starting together all run the migrations: on PostgreSQL they take turns on this advisory
# lock (held until the upgrade's transaction ends; DDL is transactional there), so one upgrades and
# the others find the schema current. SQLite serialises the writers by itself.
MIGRATION_LOCK = 0x646F636B  # "dock"


def upgrade(engine: Engine, revision: str = "heads") -> None:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        command.upgrade(alembic_config(connection), revision)
