"""The tests' own reading of OSV records: which advisories affect a package version, with simple
interval logic (``packaging`` for PEP 440, a small SemVer comparison for npm and Go). Shared by
the unit, api and e2e scanning tests; never uses the scanner's code."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version


@dataclass(frozen=True)
class OsvEntry:
    id: str
    aliases: tuple[str, ...]
    withdrawn: bool
    affected: dict[str, Any]


def load_records(folder: Path) -> dict[tuple[str, str], list[OsvEntry]]:
    """(ecosystem, package name lower-cased) -> affected entries of the OSV JSON files."""
    index: dict[tuple[str, str], list[OsvEntry]] = defaultdict(list)
    for path in folder.rglob("*.json"):
        record = json.loads(path.read_text())
        for affected in record.get("affected", []):
            package = affected["package"]
            index[(package["ecosystem"], package["name"].lower())].append(OsvEntry(
                record["id"], tuple(record.get("aliases", [])), bool(record.get("withdrawn")),
                affected))
    return index


def semver_key(text: str) -> tuple[Any, ...]:
    text = text.removeprefix("v").split("+", 1)[0]
    core, _, pre = text.partition("-")
    numbers = tuple(int(x) for x in (core.split(".") + ["0", "0"])[:3])
    if not pre:
        return (numbers, 1, ())
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (numbers, 0, parts)


def pep440_key(text: str) -> Version:
    return Version(text)


def affected_by(entry: OsvEntry, version: str, key: Callable[[str], Any]) -> bool:
    affected = entry.affected
    if version in affected.get("versions", []):
        return True
    for rng in affected.get("ranges", []):
        if rng["type"] == "GIT":
            continue
        try:
            events = sorted(rng["events"], key=lambda e: (
                (0, None) if e.get("introduced") == "0" else (1, key(next(iter(e.values()))))))
            v = key(version)
            intervals, start = [], None
            for event in events:
                if "introduced" in event:
                    start = event["introduced"] if start is None else start
                elif start is not None and ("fixed" in event or "last_affected" in event):
                    intervals.append((start, event.get("fixed"), event.get("last_affected")))
                    start = None
            if start is not None:
                intervals.append((start, None, None))
            for low, fixed, last in intervals:
                if ((low == "0" or key(low) <= v) and (fixed is None or v < key(fixed))
                        and (last is None or v <= key(last))):
                    return True
        except (InvalidVersion, ValueError):
            continue
    return False


def expected_findings(osv_records: dict[tuple[str, str], list[OsvEntry]], ecosystem: str,
                      packages: set[tuple[str, str]], key: Callable[[str], Any],
                      normalise: Callable[[str], str] = str.lower) -> set[tuple[str, str, str]]:
    found = set()
    for name, version in packages:
        for entry in osv_records.get((ecosystem, normalise(name)), []):
            if not entry.withdrawn and affected_by(entry, version, key):
                found.add((entry.id, name, version))
    return found


def got_findings(findings: list[dict[str, Any]], kind: str) -> set[tuple[str, str, str]]:
    return {(f["id"], f["package"]["name"], f["package"]["version"])
            for f in findings if f["package"]["type"] == kind}


def pep503(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


