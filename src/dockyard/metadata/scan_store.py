"""Scanning metadata in SQL: advisories (the vulnerability database), image inventories (SBOMs),
scans with their findings, and the registry scanning configuration."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update

from dockyard.metadata.engine import Database, HotQuery, retry_conflicts
from dockyard.metadata.tables import (
    image_inventories,
    image_scans,
    manifests,
    registry_scanning,
    repositories,
    vuln_advisories,
    vuln_affected,
    vulndb_sources,
)
from dockyard.scanning.advisories import Advisory

_CHUNK = 400


@dataclass(frozen=True, slots=True)
class ScanRecord:
    repository_id: int
    digest: str
    scan_id: str
    scan_type: str
    status: str
    description: str | None
    attempts: int
    requested_at: datetime
    manual_at: datetime | None
    completed_at: datetime | None
    source_updated_at: datetime | None
    severity_counts: dict[str, int]
    findings: list[dict[str, Any]] | None = None  # loaded only when asked for


@dataclass(frozen=True, slots=True)
class AffectedRow:
    advisory_id: str
    ecosystem: str
    package: str
    ranges: list[dict[str, Any]]
    versions: list[str]
    package_severity: str | None
    severity: str
    cvss: list[dict[str, Any]]
    aliases: list[str]
    summary: str | None
    details: str | None
    reference_urls: list[str]
    published: datetime | None
    modified: datetime | None


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


_SCAN_COLUMNS = (image_scans.c.repository_id, image_scans.c.digest, image_scans.c.scan_id,
                 image_scans.c.scan_type, image_scans.c.status, image_scans.c.description,
                 image_scans.c.attempts, image_scans.c.requested_at, image_scans.c.manual_at,
                 image_scans.c.completed_at, image_scans.c.source_updated_at,
                 image_scans.c.severity_counts)


def _scan(row: Any, findings: Any = None) -> ScanRecord:
    return ScanRecord(row.repository_id, row.digest, row.scan_id, row.scan_type, row.status,
                      row.description, row.attempts, row.requested_at, row.manual_at,
                      row.completed_at, row.source_updated_at, dict(row.severity_counts or {}),
                      findings)


_REGISTRY_SCANNING = HotQuery(select(registry_scanning.c.scan_type, registry_scanning.c.rules)
                              .where(registry_scanning.c.id == 1))


@retry_conflicts
class SqlScanStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- the vulnerability database ---------------------------------------------------------------
    def advisory_hashes(self, ids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.db.read() as c:
            for chunk in _chunks(ids):
                found.update(c.execute(select(vuln_advisories.c.id, vuln_advisories.c.content_hash)
                                       .where(vuln_advisories.c.id.in_(list(chunk)))).all())
        return found

    def upsert_advisories(self, advisories: list[Advisory], source: str, now: datetime) -> None:
        ids = [a.id for a in advisories]
        with self.db.write() as c:
            for chunk in _chunks(ids):
                c.execute(delete(vuln_affected).where(vuln_affected.c.advisory_id.in_(list(chunk))))
                c.execute(delete(vuln_advisories).where(vuln_advisories.c.id.in_(list(chunk))))
            c.execute(insert(vuln_advisories), [{
                "id": a.id, "source": source, "modified": a.modified, "published": a.published,
                "withdrawn": a.withdrawn, "summary": a.summary, "details": a.details,
                "aliases": list(a.aliases), "severity": a.severity,
                "cvss": [s.as_dict() for s in a.cvss], "reference_urls": list(a.reference_urls),
                "content_hash": a.content_hash, "updated_at": now} for a in advisories])
            rows = [{"advisory_id": a.id, "ecosystem": f.ecosystem, "package": f.package,
                     "ranges": list(f.ranges), "versions": list(f.versions),
                     "severity": f.severity} for a in advisories for f in a.affected]
            if rows:
                c.execute(insert(vuln_affected), rows)

    def record_source(self, source: str, now: datetime, records: int, changed: int) -> None:
        with self.db.write() as c:
            done = c.execute(update(vulndb_sources).where(vulndb_sources.c.source == source).values(
                imported_at=now, records=records, changed=changed)).rowcount
            if not done:
                c.execute(insert(vulndb_sources).values(source=source, imported_at=now,
                                                        records=records, changed=changed))

    def source_updated_at(self) -> datetime | None:
        with self.db.read() as c:
            return c.execute(select(func.max(vulndb_sources.c.imported_at))).scalar()

    def sources(self) -> list[dict[str, Any]]:
        with self.db.read() as c:
            rows = c.execute(select(vulndb_sources).order_by(vulndb_sources.c.source)).all()
        return [dict(r._mapping) for r in rows]

    def advisory_count(self) -> int:
        with self.db.read() as c:
            return int(c.execute(select(func.count()).select_from(vuln_advisories)).scalar() or 0)

    def affected(self, ecosystems: Sequence[str], packages: Sequence[str]) -> list[AffectedRow]:
        """Affected entries for any of ``packages`` in any of ``ecosystems``, withdrawn ones left
        out, each with its advisory."""
        if not ecosystems or not packages:
            return []
        a, f = vuln_advisories, vuln_affected
        query = select(f.c.advisory_id, f.c.ecosystem, f.c.package, f.c.ranges, f.c.versions,
                       f.c.severity.label("package_severity"), a.c.severity, a.c.cvss,
                       a.c.aliases, a.c.summary, a.c.details, a.c.reference_urls, a.c.published,
                       a.c.modified).join(a, a.c.id == f.c.advisory_id)
        found: list[AffectedRow] = []
        with self.db.read() as c:
            for chunk in _chunks(sorted(set(packages))):
                rows = c.execute(query.where(f.c.ecosystem.in_(list(ecosystems)),
                                             f.c.package.in_(list(chunk)),
                                             a.c.withdrawn.is_(None))).all()
                found += [AffectedRow(**r._mapping) for r in rows]
        return found

    # --- inventories ----------------------------------------------------------------------------
    def inventory(self, digest: str) -> dict[str, Any] | None:
        with self.db.read() as c:
            row = c.execute(select(image_inventories.c.format, image_inventories.c.inventory)
                            .where(image_inventories.c.digest == digest)).first()
        return row.inventory if row else None

    def inventory_format(self, digest: str) -> int | None:
        with self.db.read() as c:
            return c.execute(select(image_inventories.c.format)
                             .where(image_inventories.c.digest == digest)).scalar()

    def put_inventory(self, digest: str, inventory: dict[str, Any], fmt: int, now: datetime) -> None:
        with self.db.write() as c:
            c.execute(delete(image_inventories).where(image_inventories.c.digest == digest))
            c.execute(insert(image_inventories).values(digest=digest, created_at=now, format=fmt,
                                                       inventory=inventory))

    def forget_inventory_if_unused(self, digest: str) -> bool:
        """Drop the inventory of a manifest no repository holds any more."""
        with self.db.write() as c:
            used = c.execute(select(manifests.c.digest).where(manifests.c.digest == digest)
                             .limit(1)).first()
            if used is not None:
                return False
            return bool(c.execute(delete(image_inventories)
                                  .where(image_inventories.c.digest == digest)).rowcount)

    # --- scans ----------------------------------------------------------------------------------
    def scan(self, repository_id: int, digest: str, *, with_findings: bool = False,
             ) -> ScanRecord | None:
        columns = _SCAN_COLUMNS + ((image_scans.c.findings,) if with_findings else ())
        with self.db.read() as c:
            row = c.execute(select(*columns).where(image_scans.c.repository_id == repository_id,
                                                   image_scans.c.digest == digest)).first()
        if row is None:
            return None
        return _scan(row, list(row.findings or []) if with_findings else None)

    def scans(self, repository_id: int, digests: Sequence[str]) -> dict[str, ScanRecord]:
        found: dict[str, ScanRecord] = {}
        with self.db.read() as c:
            for chunk in _chunks(list(digests)):
                for row in c.execute(select(*_SCAN_COLUMNS).where(
                        image_scans.c.repository_id == repository_id,
                        image_scans.c.digest.in_(list(chunk)))).all():
                    found[row.digest] = _scan(row)
        return found

    def all_scans(self) -> list[tuple[str, ScanRecord]]:
        """Every scan with its repository name (continuous rescans walk them)."""
        with self.db.read() as c:
            rows = c.execute(select(repositories.c.name, *_SCAN_COLUMNS)
                             .join(repositories, repositories.c.id == image_scans.c.repository_id)
                             .order_by(image_scans.c.repository_id, image_scans.c.digest)).all()
        return [(r.name, _scan(r)) for r in rows]

    def request_scan(self, repository_id: int, digest: str, scan_id: str, scan_type: str,
                     status: str, now: datetime, *, manual: bool) -> None:
        values: dict[str, Any] = {"scan_id": scan_id, "scan_type": scan_type, "status": status,
                                  "description": None, "attempts": 0, "requested_at": now}
        if manual:
            values["manual_at"] = now
        with self.db.write() as c:
            done = c.execute(update(image_scans).where(
                image_scans.c.repository_id == repository_id,
                image_scans.c.digest == digest).values(**values)).rowcount
            if not done:
                c.execute(insert(image_scans).values(
                    repository_id=repository_id, digest=digest, manual_at=now if manual else None,
                    completed_at=None, source_updated_at=None, severity_counts={}, findings=[],
                    **{k: v for k, v in values.items() if k != "manual_at"}))

    def start_attempt(self, repository_id: int, digest: str, scan_id: str) -> int | None:
        """Count one more attempt at the scan; None when a newer request replaced it."""
        with self.db.write() as c:
            changed = c.execute(update(image_scans).where(
                image_scans.c.repository_id == repository_id, image_scans.c.digest == digest,
                image_scans.c.scan_id == scan_id).values(attempts=image_scans.c.attempts + 1)).rowcount
            if not changed:
                return None
            return c.execute(select(image_scans.c.attempts).where(
                image_scans.c.repository_id == repository_id,
                image_scans.c.digest == digest)).scalar()

    def finish_scan(self, repository_id: int, digest: str, scan_id: str, *, status: str,
                    description: str | None, findings: list[dict[str, Any]] | None = None,
                    severity_counts: dict[str, int] | None = None,
                    completed_at: datetime | None = None,
                    source_updated_at: datetime | None = None) -> bool:
        values: dict[str, Any] = {"status": status, "description": description}
        if findings is not None:
            values.update(findings=findings, severity_counts=severity_counts or {},
                          completed_at=completed_at, source_updated_at=source_updated_at)
        with self.db.write() as c:
            return bool(c.execute(update(image_scans).where(
                image_scans.c.repository_id == repository_id, image_scans.c.digest == digest,
                image_scans.c.scan_id == scan_id).values(**values)).rowcount)

    def delete_scan(self, repository_id: int, digest: str) -> None:
        with self.db.write() as c:
            c.execute(delete(image_scans).where(image_scans.c.repository_id == repository_id,
                                                image_scans.c.digest == digest))

    # --- registry scanning configuration ----------------------------------------------------------
    def registry_configuration(self) -> tuple[str, list[dict[str, Any]]]:
        row = self.db.first(_REGISTRY_SCANNING, {})  # read by every push
        return (row.scan_type, list(row.rules)) if row else ("BASIC", [])

    def put_registry_configuration(self, scan_type: str, rules: list[dict[str, Any]],
                                   now: datetime) -> None:
        with self.db.write() as c:
            done = c.execute(update(registry_scanning).where(registry_scanning.c.id == 1).values(
                scan_type=scan_type, rules=rules, updated_at=now)).rowcount
            if not done:
                c.execute(insert(registry_scanning).values(id=1, scan_type=scan_type, rules=rules,
                                                           updated_at=now))
