"""Matching an inventory against the advisory database: one finding per (advisory, package).

OS packages are looked up in the ecosystems of the image's distribution (``Debian:12``, ...),
by source package for dpkg and apk; language packages in ``PyPI`` (PEP 503 names), ``npm`` and
``Go`` (modules, and ``stdlib`` for the toolchain a binary was built with). Withdrawn advisories
never match. When two advisories of one package name each other as aliases (a GHSA and its
PYSEC, say), the finding is reported once, under the advisory id that sorts first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from dockyard.metadata.scan_store import AffectedRow
from dockyard.scanning import severity as sev
from dockyard.scanning.advisories import advisory_url, normalise_name
from dockyard.scanning.inventory import Inventory
from dockyard.scanning.osv_ranges import evaluate
from dockyard.scanning.packages import LANGUAGE_ECOSYSTEMS, OS_TYPES, Package

Lookup = Callable[[Sequence[str], Sequence[str]], list[AffectedRow]]
MAX_DESCRIPTION = 4000


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def candidates(inventory: Inventory, package: Package) -> list[str]:
    if package.type in OS_TYPES:
        return inventory.os_ecosystems
    ecosystem = LANGUAGE_ECOSYSTEMS.get(package.type)
    return [ecosystem] if ecosystem else []


def match(inventory: Inventory, lookup: Lookup) -> list[dict[str, Any]]:
    wanted: dict[tuple[str, ...], set[str]] = defaultdict(set)
    plan: list[tuple[Package, list[str]]] = []
    for package in inventory.packages:
        ecosystems = candidates(inventory, package)
        if not ecosystems:
            continue
        plan.append((package, ecosystems))
        wanted[tuple(ecosystems)].add(normalise_name(ecosystems[0], package.match_name))
    index: dict[tuple[str, str], list[AffectedRow]] = defaultdict(list)
    for ecosystems, names in wanted.items():
        for row in lookup(list(ecosystems), sorted(names)):
            index[(row.ecosystem, row.package)].append(row)
    findings: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for package, ecosystems in plan:
        name = normalise_name(ecosystems[0], package.match_name)
        for ecosystem in ecosystems:
            for row in index.get((ecosystem, name), ()):
                verdict = evaluate(ecosystem, package.match_version, row.ranges, row.versions)
                if not verdict.affected:
                    continue
                key = (row.advisory_id, package.type, package.name, package.path)
                if key not in findings:
                    findings[key] = _finding(row, package, ecosystem, verdict.fixed)
    return sort(_drop_alias_duplicates(findings.values()))


def _finding(row: AffectedRow, package: Package, ecosystem: str, fixed: str | None,
             ) -> dict[str, Any]:
    level = row.severity
    if level == sev.UNDEFINED and row.package_severity:
        level = row.package_severity
    description = row.details or row.summary or ""
    return {
        "id": row.advisory_id,
        "aliases": list(row.aliases),
        "summary": row.summary,
        "description": description[:MAX_DESCRIPTION],
        "severity": level,
        "cvss": list(row.cvss),
        "uri": advisory_url(row.advisory_id),
        "references": list(row.reference_urls)[:20],
        "published": _iso(row.published),
        "modified": _iso(row.modified),
        "ecosystem": ecosystem,
        "package": package.as_dict(),
        "fixed": fixed,
    }


def _drop_alias_duplicates(findings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    by_package: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for finding in sorted(findings, key=lambda f: f["id"]):
        p = finding["package"]
        by_package[(p["type"], p["name"], p["path"])].append(finding)
    kept: list[dict[str, Any]] = []
    for group in by_package.values():
        chosen: list[dict[str, Any]] = []
        for finding in group:
            if any(finding["id"] in c["aliases"] or c["id"] in finding["aliases"] for c in chosen):
                continue
            chosen.append(finding)
        kept += chosen
    return kept


def sort(findings: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(findings, key=lambda f: (sev.RANK.get(f["severity"], 9), f["id"],
                                           f["package"]["name"], f["package"]["path"]))


def union(platform_findings: Iterable[tuple[str | None, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Findings of an image index: each (advisory, package, version) once, with its platforms."""
    merged: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    for platform, findings in platform_findings:
        for finding in findings:
            p = finding["package"]
            key = (finding["id"], p["type"], p["name"], p["version"], p["path"])
            kept = merged.setdefault(key, {**finding, "platforms": []})
            if platform and platform not in kept["platforms"]:
                kept["platforms"].append(platform)
    return sort(merged.values())


def severity_counts(findings: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["severity"]] = counts.get(finding["severity"], 0) + 1
    return counts
