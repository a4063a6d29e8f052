"""``dockyard migrate-storage``: copy a registry to other storage — typically a single node's
SQLite database and files to PostgreSQL and S3 — verifying every blob by its digest.

The source is the configuration of this command (``DOCKYARD_*``, as ``dockyard serve`` reads it);
the target is a TOML file of settings (``database_url``, ``blob_driver``, ``s3_*``...). The
source registry must not serve while it is copied (stop it, or at least stop pushes).

1. Both databases are brought to the latest schema; the target must hold no registry yet.
2. Every blob the source database lists is streamed from the source store into the target store
   through the target's upload API (an S3 multipart upload for large blobs), hashed on the way,
   and published only when its digest and size match. Blobs the target already holds (a previous,
   interrupted run) are kept if their size matches (``--verify-existing`` re-reads them).
3. Every table is copied in one target transaction (uploads in progress are not: finish pushes
   first), and PostgreSQL's id sequences are moved past the copied ids.
4. Row counts are compared table by table.

Secrets (access keys, the registry's token key) stay encrypted with the source's key: the new
nodes need that same key as ``DOCKYARD_SECRET_KEY``.
"""

from __future__ import annotations

import asyncio
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click
from sqlalchemy import Integer, func, insert, select, text
from sqlalchemy.engine import Engine

from dockyard.domain.digest import Digest
from dockyard.domain.models import StoredParts
from dockyard.errors import DigestInvalid, ServerError
from dockyard.metadata.migrate import upgrade
from dockyard.metadata.tables import blobs, metadata, registry
from dockyard.ports import BlobStore

SKIPPED_TABLES = ("uploads",)  # in progress on the source's store: not carried over
BATCH = 500


@dataclass
class Report:
    rows: dict[str, int] = field(default_factory=dict)
    blobs_copied: int = 0
    blobs_present: int = 0
    bytes_copied: int = 0


class StorageMigration:
    def __init__(self, source_db: Engine, source_blobs: BlobStore, target_db: Engine,
                 target_blobs: BlobStore, *, verify_existing: bool = False,
                 progress: Callable[[str], None] = lambda _: None) -> None:
        self.source_db = source_db
        self.source_blobs = source_blobs
        self.target_db = target_db
        self.target_blobs = target_blobs
        self.verify_existing = verify_existing
        self.progress = progress

    def run(self) -> Report:
        upgrade(self.source_db)
        upgrade(self.target_db)
        with self.target_db.connect() as c:
            if c.execute(select(registry.c.id)).first() is not None:
                raise ServerError("the target database already holds a registry")
        report = Report()
        with self.source_db.connect() as c:
            listed = [(Digest.parse(d), size) for d, size in
                      c.execute(select(blobs.c.digest, blobs.c.size).order_by(blobs.c.digest))]
        missing = [str(d) for d, _ in listed if not self.source_blobs.exists(d)]
        if missing:
            raise ServerError(f"{len(missing)} blobs the source database lists are missing from "
                              f"its store (first: {missing[0]}); nothing was copied")
        asyncio.run(self._copy_blobs(listed, report))
        self._copy_tables(report)
        self._compare(report)
        return report

    # --- blobs ------------------------------------------------------------------------------------
    async def _copy_blobs(self, listed: list[tuple[Digest, int]], report: Report) -> None:
        for n, (digest, size) in enumerate(listed, start=1):
            if self.target_blobs.size(digest) == size and (
                    not self.verify_existing or self._target_matches(digest, size)):
                report.blobs_present += 1
                continue
            await self._copy_blob(digest, size)
            report.blobs_copied += 1
            report.bytes_copied += size
            self.progress(f"blob {n}/{len(listed)} {digest} ({size} bytes) copied")

    def _target_matches(self, digest: Digest, size: int) -> bool:
        hasher, seen = digest.hasher(), 0
        for chunk in self.target_blobs.read(digest):
            hasher.update(chunk)
            seen += len(chunk)
        if seen == size and hasher.hexdigest() == digest.hex:
            return True
        self.progress(f"blob {digest} on the target does not match its digest: copied again")
        self.target_blobs.delete(digest)
        return False

    async def _copy_blob(self, digest: Digest, size: int) -> None:
        """Stream through the target's upload API; publish only what hashes to ``digest``."""
        upload_id = str(uuid.uuid4())
        self.target_blobs.create_upload(upload_id)
        known: StoredParts | None = None  # what the upload stored; None: unknown, found by listing
        try:
            hasher, written = digest.hasher(), 0
            appender = self.target_blobs.append_upload(upload_id, 0, None)
            try:
                for chunk in self.source_blobs.read(digest):
                    hasher.update(chunk)
                    written += len(chunk)
                    await appender.write(chunk)
                stored = await appender.close()
            except BaseException:
                await appender.abort()
                raise
            known = stored or StoredParts()
            if written != size or hasher.hexdigest() != digest.hex:
                raise DigestInvalid(f"the source's blob {digest} does not match its digest "
                                    f"({written} bytes read, {size} listed)")
            self.target_blobs.commit_upload(upload_id, digest, written, stored)
        finally:
            self.target_blobs.delete_upload(upload_id, known)

    # --- metadata ---------------------------------------------------------------------------------
    def _copy_tables(self, report: Report) -> None:
        with self.source_db.connect() as source, self.target_db.begin() as target:
            for table in metadata.sorted_tables:
                if table.name in SKIPPED_TABLES:
                    continue
                count = 0
                rows = source.execute(select(table)).mappings()
                while batch := rows.fetchmany(BATCH):
                    target.execute(insert(table), [dict(row) for row in batch])
                    count += len(batch)
                report.rows[table.name] = count
                self.progress(f"table {table.name}: {count} rows")
            if target.dialect.name == "postgresql":
                _advance_sequences(target)

    def _compare(self, report: Report) -> None:
        with self.target_db.connect() as c:
            for name, count in report.rows.items():
                table = metadata.tables[name]
                found = c.execute(select(func.count()).select_from(table)).scalar_one()
                if found != count:
                    raise ServerError(f"table {name}: {count} rows copied, {found} in the target")


def _advance_sequences(connection) -> None:  # type: ignore[no-untyped-def]
    """Ids inserted explicitly do not move PostgreSQL's sequences: move them past the ids."""
    for table in metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        sequence = connection.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                      {"t": table.name, "c": keys[0].name}).scalar()
        if sequence:
            connection.execute(text(
                f'SELECT setval(:s, COALESCE(MAX("{keys[0].name}"), 1), MAX("{keys[0].name}") '
                f'IS NOT NULL) FROM "{table.name}"'), {"s": sequence})


@click.command("migrate-storage")
@click.option("--target", "target_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML file with the target's settings (database_url, blob_driver, s3_*).")
@click.option("--verify-existing", is_flag=True,
              help="Re-read blobs the target already holds and check their digests.")
def migrate_storage(target_file: Path, verify_existing: bool) -> None:
    """Copy this registry (metadata and blobs) to other storage, e.g. SQLite and files to
    PostgreSQL and S3, verifying every blob by its digest. Stop the registry first."""
    from dockyard.app import _blob_store
    from dockyard.metadata.engine import make_engine
    from dockyard.settings import Settings

    source = Settings()
    with open(target_file, "rb") as f:
        target = Settings(**tomllib.load(f))
    if target.sqlalchemy_url == source.sqlalchemy_url:
        raise click.UsageError("the target's database is the source's")
    source.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    migration = StorageMigration(
        make_engine(source.sqlalchemy_url), _blob_store(source),
        make_engine(target.sqlalchemy_url), _blob_store(target),
        verify_existing=verify_existing, progress=lambda line: click.echo(line, err=True))
    report = migration.run()
    click.echo(f"copied {report.blobs_copied} blobs ({report.bytes_copied} bytes, each verified "
               f"by its digest), {report.blobs_present} already present; "
               f"{sum(report.rows.values())} rows in {len(report.rows)} tables")
    if source.secret_key is None:
        key_file = source.data_dir.resolve() / "secret.key"
        click.echo(f"Give the new nodes DOCKYARD_SECRET_KEY = the key in {key_file}: the "
                   "copied secrets are encrypted with it.")
    else:
        click.echo("Give the new nodes the same DOCKYARD_SECRET_KEY as this registry.")
