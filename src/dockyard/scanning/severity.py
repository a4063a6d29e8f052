"""Severity of an advisory in ECR's terms: CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED.

The CVSS base score decides when the advisory carries a vector (computed with the ``cvss``
library; a v3.x vector is preferred, as ECR and Inspector show v3 scores, then v4, then v2). The
score maps with CVSS's own rating scale: 9.0+ CRITICAL, 7.0+ HIGH, 4.0+ MEDIUM, 0.1+ LOW, 0 (None)
INFORMATIONAL. Without a usable vector the advisory's own word counts (GHSA's
``database_specific.severity``, Ubuntu's priority, Debian's urgency); otherwise UNDEFINED.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError

CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED = (
    "CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")
LEVELS = (CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED)
RANK = {level: i for i, level in enumerate(LEVELS)}

# words advisories use for their own severity -> ECR severity
_WORDS = {
    "critical": CRITICAL,
    "high": HIGH, "important": HIGH,
    "moderate": MEDIUM, "medium": MEDIUM,
    "low": LOW,
    "negligible": INFORMATIONAL, "unimportant": INFORMATIONAL, "informational": INFORMATIONAL,
    "none": INFORMATIONAL,
}
_PREFERENCE = {"3": 0, "4": 1, "2": 2}


@dataclass(frozen=True, slots=True)
class Cvss:
    version: str  # "2.0", "3.1", "4.0", ...
    vector: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "vector": self.vector, "score": self.score}


def from_score(score: float) -> str:
    if score >= 9.0:
        return CRITICAL
    if score >= 7.0:
        return HIGH
    if score >= 4.0:
        return MEDIUM
    if score > 0.0:
        return LOW
    return INFORMATIONAL


def from_word(word: object) -> str | None:
    if not isinstance(word, str):
        return None
    return _WORDS.get(word.strip().lower())


def parse_cvss(kind: str, vector: str) -> Cvss | None:
    """A CVSS vector of an OSV ``severity[]`` entry, scored; None when it cannot be read."""
    if not isinstance(vector, str):
        return None
    try:
        if kind == "CVSS_V4" or vector.startswith("CVSS:4."):
            v4 = CVSS4(vector)
            return Cvss("4.0", vector, float(v4.base_score))
        if kind == "CVSS_V3" or vector.startswith("CVSS:3."):
            v3 = CVSS3(vector)
            return Cvss(vector.split("/", 1)[0].split(":", 1)[1], vector, float(v3.base_score))
        if kind == "CVSS_V2":
            v2 = CVSS2(vector)
            return Cvss("2.0", vector, float(v2.scores()[0]))
    except (CVSSError, ValueError, KeyError, IndexError, TypeError):
        return None
    return None


def scores(entries: Iterable[Mapping[str, Any]]) -> list[Cvss]:
    """The readable CVSS vectors of a ``severity[]`` list, preferred first (v3, v4, v2)."""
    found = []
    for entry in entries or ():
        if not isinstance(entry, Mapping):
            continue
        parsed = parse_cvss(str(entry.get("type", "")), entry.get("score"))  # type: ignore[arg-type]
        if parsed is not None:
            found.append(parsed)
    return sorted(found, key=lambda c: _PREFERENCE.get(c.version[0], 9))


def of_record(record: Mapping[str, Any]) -> tuple[str, list[Cvss]]:
    """(ECR severity, CVSS scores) of a whole OSV record."""
    cvss = scores(record.get("severity") or ())
    if cvss:
        return from_score(cvss[0].score), cvss
    for entry in record.get("severity") or ():
        if isinstance(entry, Mapping) and entry.get("type") not in ("CVSS_V2", "CVSS_V3", "CVSS_V4"):
            word = from_word(entry.get("score"))
            if word:
                return word, []
    specific = record.get("database_specific")
    if isinstance(specific, Mapping):
        word = from_word(specific.get("severity"))
        if word:
            return word, []
    return UNDEFINED, []


def of_affected(affected: Mapping[str, Any]) -> str | None:
    """A package-level severity of one affected[] entry (Debian urgency, Ubuntu priority, ...)."""
    for key in ("ecosystem_specific", "database_specific"):
        block = affected.get(key)
        if isinstance(block, Mapping):
            for field in ("severity", "urgency", "priority"):
                word = from_word(block.get(field))
                if word:
                    return word
    return None
