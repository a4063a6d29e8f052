"""OSV's range semantics, as the schema's evaluation algorithm states them.

An ``affected[]`` entry covers a version when the version is in its explicit ``versions`` list,
or when any of its ``ECOSYSTEM``/``SEMVER`` ranges covers it. A range covers ``v`` when ``v`` is
below one of its ``limit`` events (or it has none), and walking its events sorted by version
(``introduced: "0"`` first) leaves it affected: ``introduced <= v`` makes it affected,
``fixed <= v`` unaffected, ``last_affected < v`` unaffected. ``GIT`` ranges name commits, not
versions, and are skipped. Events this ecosystem's scheme cannot read make their range unusable
(skipped), never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.scanning import versions
from dockyard.scanning.versions import ECOSYSTEM, SEMVER, InvalidVersion

EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 2, "limit": 3}


@dataclass(frozen=True, slots=True)
class Verdict:
    affected: bool
    fixed: str | None = None  # the first fix above the version, when the matching range has one


def evaluate(ecosystem: str, version: str, ranges: Sequence[Mapping[str, Any]],
             listed: Iterable[str] = ()) -> Verdict:
    """Whether ``version`` of a package in ``ecosystem`` is covered by one OSV affected[] entry."""
    fixed: str | None = None
    affected = False
    for raw in ranges:
        kind = raw.get("type")
        if kind not in (ECOSYSTEM, SEMVER):
            continue
        try:
            hit, fix = _range_covers(ecosystem, kind, version, raw.get("events") or ())
        except InvalidVersion:
            continue
        if hit:
            affected = True
            if fix is not None and fixed is None:
                fixed = fix
    if not affected and _listed(ecosystem, version, listed):
        affected = True
    return Verdict(affected, fixed if affected else None)


def _listed(ecosystem: str, version: str, listed: Iterable[str]) -> bool:
    names = list(listed)
    if not names:
        return False
    if version in names:
        return True
    try:
        target = versions.parse(ecosystem, version)
    except InvalidVersion:
        return False
    for item in names:
        try:
            other = versions.parse(ecosystem, item)
            if not other < target and not target < other:
                return True
        except InvalidVersion:
            continue
    return False


def _range_covers(ecosystem: str, kind: str, version: str,
                  events: Iterable[Mapping[str, str]]) -> tuple[bool, str | None]:
    """(covered, first fixed version above ``version`` in this range)."""
    v = versions.parse(ecosystem, version, kind)
    parsed: list[tuple[int, Any, str, str]] = []  # (is_not_zero, key, kind, text)
    limits: list[Any] = []
    for event in events:
        for name, text in event.items():
            if name not in _ORDER:
                continue
            if name == "introduced" and text == "0":
                parsed.append((0, None, name, text))
                continue
            if name == "limit" and text == "*":
                limits.append(None)
                continue
            key = versions.parse(ecosystem, text, kind)
            if name == "limit":
                limits.append(key)
            else:
                parsed.append((1, key, name, text))
    # only ``<`` is used to compare: some univers classes get ``>=`` wrong (AlpineLinuxVersion)
    if limits and not any(limit is None or v < limit for limit in limits):
        return False, None
    zero = [p for p in parsed if p[0] == 0]
    rest = sorted((p for p in parsed if p[0] == 1), key=_SortKey)
    affected = False
    for _, key, name, _text in zero + rest:
        if name == "introduced":
            if key is None or not v < key:
                affected = True
        elif name == "fixed":
            if not v < key:
                affected = False
        elif name == "last_affected":
            if key < v:
                affected = False
    fix = None
    if affected:
        above = [p for p in rest if p[2] == "fixed" and v < p[1]]
        fix = above[0][3] if above else None
    return affected, fix


class _SortKey:
    """Sort events by version; at equal versions keep OSV's event order (introduced first)."""

    __slots__ = ("key", "order")

    def __init__(self, item: tuple[int, Any, str, str]) -> None:
        self.key = item[1]
        self.order = _ORDER[item[2]]

    def __lt__(self, other: "_SortKey") -> bool:
        if self.key < other.key:
            return True
        if other.key < self.key:
            return False
        return self.order < other.order
