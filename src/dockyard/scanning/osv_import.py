"""``dockyard vulndb import PATH``: OSV records from JSON or YAML files, directories of them, and
the ``.zip`` exports published per ecosystem (``<ecosystem>/all.zip``).

An import is re-runnable: records are keyed by their OSV id, a record whose content did not
change is skipped, a changed one replaces the stored one (with its affected packages). Each
import records its source and time; the newest time is ECR's ``vulnerabilitySourceUpdatedAt``.
YAML is read with every scalar kept as its literal string (``2.10`` stays ``2.10``).
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from dockyard.ports import Clock
from dockyard.scanning.advisories import Advisory, InvalidRecord, from_osv

log = logging.getLogger("dockyard.scanning.vulndb")
BATCH = 500
SUFFIXES = (".json", ".yaml", ".yml")


class AdvisoryWriter(Protocol):
    """What an import writes to (``metadata.scan_store.SqlScanStore``)."""

    def advisory_hashes(self, ids: list[str]) -> dict[str, str]: ...
    def upsert_advisories(self, advisories: list[Advisory], source: str, now: Any) -> None: ...
    def record_source(self, source: str, now: Any, records: int, changed: int) -> None: ...


@dataclass
class ImportReport:
    source: str
    records: int = 0
    changed: int = 0
    unchanged: int = 0
    invalid: int = 0
    withdrawn: int = 0
    ecosystems: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def read_records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, parsed document) for every OSV file under ``path`` (a file, a directory, a zip)."""
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            if child.is_file() and (child.suffix.lower() in SUFFIXES or child.suffix.lower() == ".zip"):
                yield from read_records(child)
        return
    suffix = path.suffix.lower()
    if suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir() or not info.filename.lower().endswith(SUFFIXES):
                    continue
                with archive.open(info) as member:
                    yield f"{path}!{info.filename}", _load(info.filename, member.read())
        return
    if suffix in SUFFIXES:
        yield str(path), _load(path.name, path.read_bytes())
        return
    raise InvalidRecord(f"{path}: not an OSV file (.json, .yaml, .yml), directory or .zip export")


def _load(name: str, data: bytes) -> Any:
    try:
        if name.lower().endswith(".json"):
            return json.loads(data)
        return yaml.load(data, Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds only str/list/dict
    except (ValueError, yaml.YAMLError) as exc:
        return InvalidRecord(f"{name}: {exc}")


def _documents(parsed: Any) -> Iterator[Any]:
    if isinstance(parsed, list):
        yield from parsed
    else:
        yield parsed


def import_osv(store: AdvisoryWriter, path: Path, clock: Clock, *,
               progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import every record under ``path``; returns what was read and changed."""
    source = str(path.resolve())
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    report = ImportReport(source)
    now = clock.now()
    batch: list[Advisory] = []

    def flush() -> None:
        if not batch:
            return
        known = store.advisory_hashes([a.id for a in batch])
        changed = [a for a in batch if known.get(a.id) != a.content_hash]
        # the same id twice in one batch: the later record wins
        unique = list({a.id: a for a in changed}.values())
        if unique:
            store.upsert_advisories(unique, source, now)
        report.changed += len(unique)
        report.unchanged += len(batch) - len(changed)
        batch.clear()
        if progress is not None:
            progress(report.records)

    for where, parsed in read_records(path):
        if isinstance(parsed, InvalidRecord):
            report.invalid += 1
            report.problems.append(str(parsed))
            continue
        for document in _documents(parsed):
            try:
                advisory = from_osv(document)
            except InvalidRecord as exc:
                report.invalid += 1
                report.problems.append(f"{where}: {exc}")
                continue
            report.records += 1
            if advisory.withdrawn is not None:
                report.withdrawn += 1
            for affected in advisory.affected:
                report.ecosystems[affected.ecosystem] = report.ecosystems.get(affected.ecosystem, 0) + 1
            batch.append(advisory)
            if len(batch) >= BATCH:
                flush()
    flush()
    store.record_source(source, now, report.records, report.changed)
    if report.problems:
        log.warning("vulndb import of %s: %d unreadable records (first: %s)", source,
                    report.invalid, report.problems[0])
    return report
