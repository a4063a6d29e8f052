"""Registry scanning configuration (ECR ``PutRegistryScanningConfiguration``) and what it means for
one repository (``BatchGetRepositoryScanningConfiguration``).

Rules pair a scan frequency with repository filters. As in ECR, a filter without ``*`` matches
every repository whose name contains it; ``*`` stands for zero or more characters (``/``
included) and a filter with one must match the whole name. BASIC scanning supports
``SCAN_ON_PUSH`` (and ``MANUAL``) rules and also honours the repository's own ``scanOnPush``;
ENHANCED scanning supports ``CONTINUOUS_SCAN``, ``SCAN_ON_PUSH`` and ``MANUAL`` rules and, as in
ECR, ignores the repository-level setting. A repository several rules match gets the strongest
frequency: CONTINUOUS_SCAN, then SCAN_ON_PUSH, then MANUAL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from dockyard.errors import InvalidParameter, ValidationError

BASIC, ENHANCED = "BASIC", "ENHANCED"
SCAN_ON_PUSH, CONTINUOUS_SCAN, MANUAL = "SCAN_ON_PUSH", "CONTINUOUS_SCAN", "MANUAL"
SCAN_TYPES = (BASIC, ENHANCED)
FREQUENCIES = (SCAN_ON_PUSH, CONTINUOUS_SCAN, MANUAL)
_STRENGTH = {CONTINUOUS_SCAN: 3, SCAN_ON_PUSH: 2, MANUAL: 1}
FILTER_PATTERN = re.compile(r"^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$")
MAX_RULES, MAX_FILTERS = 2, 100


@dataclass(frozen=True, slots=True)
class RegistryScanning:
    scan_type: str = BASIC
    rules: tuple[dict[str, Any], ...] = ()

    def shape(self) -> dict[str, Any]:
        return {"scanType": self.scan_type, "rules": [
            {"scanFrequency": r["scanFrequency"],
             "repositoryFilters": [dict(f) for f in r["repositoryFilters"]]} for r in self.rules]}


@dataclass(frozen=True, slots=True)
class RepositoryScanning:
    scan_on_push: bool
    frequency: str
    applied_filters: tuple[dict[str, str], ...] = field(default_factory=tuple)

    @property
    def continuous(self) -> bool:
        return self.frequency == CONTINUOUS_SCAN


def _invalid(field_name: str, value: Any, constraint: str) -> ValidationError:
    return ValidationError(f"1 validation error detected: Value '{value}' at '{field_name}' failed "
                           f"to satisfy constraint: {constraint}")


def validate(scan_type: Any, rules: Any) -> RegistryScanning:
    if scan_type not in SCAN_TYPES:
        raise _invalid("scanType", scan_type, "Member must satisfy enum value set: [BASIC, ENHANCED]")
    if rules is None:
        rules = []
    if not isinstance(rules, list):
        raise _invalid("rules", rules, "Member must be a list")
    if len(rules) > MAX_RULES:
        raise _invalid("rules", len(rules), f"Member must have length less than or equal to {MAX_RULES}")
    checked: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, rule in enumerate(rules, 1):
        where = f"rules.{i}"
        if not isinstance(rule, dict):
            raise _invalid(where, rule, "Member must be a structure")
        frequency = rule.get("scanFrequency")
        if frequency not in FREQUENCIES:
            raise _invalid(f"{where}.member.scanFrequency", frequency,
                           "Member must satisfy enum value set: [SCAN_ON_PUSH, CONTINUOUS_SCAN, MANUAL]")
        if scan_type == BASIC and frequency == CONTINUOUS_SCAN:
            raise InvalidParameter("Invalid parameter: scanFrequency CONTINUOUS_SCAN is only "
                                   "supported with scanType ENHANCED")
        if frequency in seen:
            raise InvalidParameter(f"Invalid parameter: more than one rule with scanFrequency "
                                   f"{frequency}")
        seen.add(frequency)
        filters = rule.get("repositoryFilters")
        if not isinstance(filters, list):
            raise _invalid(f"{where}.member.repositoryFilters", filters, "Member must not be null")
        if len(filters) > MAX_FILTERS:
            raise _invalid(f"{where}.member.repositoryFilters", len(filters),
                           f"Member must have length less than or equal to {MAX_FILTERS}")
        checked_filters = []
        for j, item in enumerate(filters, 1):
            fwhere = f"{where}.member.repositoryFilters.{j}.member"
            if not isinstance(item, dict):
                raise _invalid(fwhere, item, "Member must be a structure")
            value, kind = item.get("filter"), item.get("filterType")
            if kind != "WILDCARD":
                raise _invalid(f"{fwhere}.filterType", kind, "Member must satisfy enum value set: [WILDCARD]")
            if not isinstance(value, str) or not 1 <= len(value) <= 255 or not FILTER_PATTERN.match(value):
                raise _invalid(f"{fwhere}.filter", value,
                               "Member must satisfy regular expression pattern: "
                               "^[a-z0-9*](?:[._\\-/a-z0-9*]?[a-z0-9*]+)*$")
            checked_filters.append({"filter": value, "filterType": kind})
        checked.append({"scanFrequency": frequency, "repositoryFilters": checked_filters})
    return RegistryScanning(scan_type, tuple(checked))


def filter_matches(pattern: str, name: str) -> bool:
    if "*" not in pattern:
        return pattern in name
    regex = "".join(".*" if part == "*" else re.escape(part) for part in re.split(r"(\*)", pattern))
    return re.fullmatch(regex, name) is not None


def for_repository(config: RegistryScanning, name: str, scan_on_push: bool) -> RepositoryScanning:
    best: tuple[int, str, tuple[dict[str, str], ...]] | None = None
    for rule in config.rules:
        frequency = rule["scanFrequency"]
        matched = tuple(dict(f) for f in rule["repositoryFilters"]
                        if filter_matches(f["filter"], name))
        if matched and (best is None or _STRENGTH[frequency] > best[0]):
            best = (_STRENGTH[frequency], frequency, matched)
    if best is not None and best[1] != MANUAL:
        return RepositoryScanning(True, best[1], best[2])
    if config.scan_type == BASIC and scan_on_push:
        return RepositoryScanning(True, SCAN_ON_PUSH, ())
    if best is not None:
        return RepositoryScanning(False, MANUAL, best[2])
    return RepositoryScanning(False, MANUAL, ())
