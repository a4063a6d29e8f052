"""Advisories as Dockyard keeps them: one OSV record, reduced to what matching and findings need."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from dockyard.scanning import severity

_PEP503 = re.compile(r"[-_.]+")
MAX_DETAILS = 8192


class InvalidRecord(ValueError):
    """Not an OSV record Dockyard can use (no id, no affected packages, wrong types)."""


def normalise_name(ecosystem: str, name: str) -> str:
    """Package names as matching compares them: PEP 503 for PyPI, exact elsewhere."""
    if ecosystem.split(":", 1)[0] == "PyPI":
        return _PEP503.sub("-", name).lower()
    return name


@dataclass(frozen=True, slots=True)
class Affected:
    ecosystem: str
    package: str  # normalised
    ranges: tuple[dict[str, Any], ...]
    versions: tuple[str, ...]
    severity: str | None = None


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    modified: datetime | None
    published: datetime | None
    withdrawn: datetime | None
    summary: str | None
    details: str | None
    aliases: tuple[str, ...]
    severity: str
    cvss: tuple[severity.Cvss, ...]
    reference_urls: tuple[str, ...]
    affected: tuple[Affected, ...]
    content_hash: str = field(default="")


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp of an OSV record (``0001-01-01T00:00:00Z`` included)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text[:19])
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:  # year 1 with an offset
        return moment.replace(tzinfo=timezone.utc)


def content_hash(record: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, separators=(",", ":"),
                                     default=str).encode()).hexdigest()


def from_osv(record: Any) -> Advisory:
    if not isinstance(record, Mapping):
        raise InvalidRecord("an OSV record is a JSON object")
    osv_id = record.get("id")
    if not isinstance(osv_id, str) or not osv_id or len(osv_id) > 255:
        raise InvalidRecord("an OSV record needs an id")
    level, cvss = severity.of_record(record)
    affected = []
    for entry in record.get("affected") or ():
        if not isinstance(entry, Mapping):
            continue
        package = entry.get("package")
        if not isinstance(package, Mapping):
            continue
        ecosystem, name = package.get("ecosystem"), package.get("name")
        if not isinstance(ecosystem, str) or not isinstance(name, str) or not ecosystem or not name:
            continue
        ranges = tuple(r for r in entry.get("ranges") or () if isinstance(r, Mapping)
                       and r.get("type") in ("ECOSYSTEM", "SEMVER"))
        listed = tuple(v for v in entry.get("versions") or () if isinstance(v, str))
        if not ranges and not listed:
            continue
        affected.append(Affected(ecosystem, normalise_name(ecosystem, name),
                                 tuple(dict(r) for r in ranges), listed,
                                 severity.of_affected(entry)))
    aliases = tuple(a for a in record.get("aliases") or () if isinstance(a, str))
    urls = tuple(r["url"] for r in record.get("references") or ()
                 if isinstance(r, Mapping) and isinstance(r.get("url"), str))
    details = record.get("details")
    return Advisory(
        id=osv_id,
        modified=parse_time(record.get("modified")),
        published=parse_time(record.get("published")),
        withdrawn=parse_time(record.get("withdrawn")),
        summary=record.get("summary") if isinstance(record.get("summary"), str) else None,
        details=details[:MAX_DETAILS] if isinstance(details, str) else None,
        aliases=aliases,
        severity=level,
        cvss=tuple(cvss),
        reference_urls=urls,
        affected=tuple(affected),
        content_hash=content_hash(record),
    )


def advisory_url(osv_id: str, references: tuple[str, ...] | list[str] = ()) -> str:
    """Where a person reads about the advisory."""
    prefix = osv_id.split("-", 1)[0]
    if prefix == "GO":
        return f"https://pkg.go.dev/vuln/{osv_id}"
    if prefix == "CVE":
        return f"https://nvd.nist.gov/vuln/detail/{osv_id}"
    if prefix == "GHSA":
        return f"https://github.com/advisories/{osv_id}"
    return f"https://osv.dev/vulnerability/{osv_id}"
