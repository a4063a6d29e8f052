"""IAM policy ``Condition`` blocks: the operators AWS documents, with ``...IfExists``,
``ForAnyValue:`` / ``ForAllValues:`` and the ``Null`` check.

A condition block is ``{operator: {key: value-or-values}}``; every operator and every key in it
must match (AND); the values listed for one key are alternatives (OR). Keys are case-insensitive;
the request context maps lower-case keys to lists of string values.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

Context = Mapping[str, Sequence[str]]


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _date(text: str) -> datetime | None:
    try:
        if text.replace(".", "", 1).isdigit():
            return datetime.fromtimestamp(float(text), timezone.utc)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def _ip_in(value: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _compare(convert: Callable[[str], Any], test: Callable[[Any, Any], bool]) -> Callable[[str, str], bool]:
    def match(value: str, expected: str) -> bool:
        left, right = convert(value), convert(expected)
        return left is not None and right is not None and test(left, right)

    return match


def _arn_like(value: str, pattern: str) -> bool:
    # ARNs match component by component (a wildcard never crosses a colon of the first 5 parts).
    v_parts, p_parts = value.split(":", 5), pattern.split(":", 5)
    if len(v_parts) != 6 or len(p_parts) != 6:
        return False
    return all(_glob(p).match(v) for v, p in zip(v_parts, p_parts))


# Positive operators; "Not" forms are their negation over all values.
_POSITIVE: dict[str, Callable[[str, str], bool]] = {
    "stringequals": lambda v, e: v == e,
    "stringequalsignorecase": lambda v, e: v.lower() == e.lower(),
    "stringlike": lambda v, e: _glob(e).match(v) is not None,
    "numericequals": _compare(_number, lambda a, b: a == b),
    "numericlessthan": _compare(_number, lambda a, b: a < b),
    "numericlessthanequals": _compare(_number, lambda a, b: a <= b),
    "numericgreaterthan": _compare(_number, lambda a, b: a > b),
    "numericgreaterthanequals": _compare(_number, lambda a, b: a >= b),
    "dateequals": _compare(_date, lambda a, b: a == b),
    "datelessthan": _compare(_date, lambda a, b: a < b),
    "datelessthanequals": _compare(_date, lambda a, b: a <= b),
    "dategreaterthan": _compare(_date, lambda a, b: a > b),
    "dategreaterthanequals": _compare(_date, lambda a, b: a >= b),
    "bool": lambda v, e: v.lower() == e.lower(),
    "ipaddress": _ip_in,
    "arnequals": lambda v, e: v == e,
    "arnlike": _arn_like,
}
_NEGATED = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "numericnotequals": "numericequals",
    "datenotequals": "dateequals",
    "notipaddress": "ipaddress",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}
KNOWN_OPERATORS = frozenset(_POSITIVE) | frozenset(_NEGATED) | {"null"}


def operator_is_known(operator: str) -> bool:
    name = operator.lower()
    for prefix in ("foranyvalue:", "forallvalues:"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name.endswith("ifexists"):
        name = name[: -len("ifexists")]
    return name in KNOWN_OPERATORS


def _values(raw: Any) -> list[str]:
    items = raw if isinstance(raw, list) else [raw]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in items]


def _key_matches(operator: str, key_values: Sequence[str] | None, expected: list[str]) -> bool:
    name = operator.lower()
    quantifier = None
    for prefix in ("foranyvalue:", "forallvalues:"):
        if name.startswith(prefix):
            quantifier, name = prefix[:-1], name[len(prefix):]
    if_exists = name.endswith("ifexists")
    if if_exists:
        name = name[: -len("ifexists")]
    if name == "null":
        wants_missing = expected[0].lower() == "true" if expected else True
        return (not key_values) == wants_missing
    if not key_values:
        if quantifier == "forallvalues":
            return True  # vacuously true for an empty set, as AWS evaluates it
        return if_exists
    negated = name in _NEGATED
    test = _POSITIVE[_NEGATED.get(name, name)]

    def one(value: str) -> bool:
        hit = any(test(value, e) for e in expected)
        return not hit if negated else hit

    if quantifier == "forallvalues":
        return all(one(v) for v in key_values)
    if quantifier == "foranyvalue":
        return any(one(v) for v in key_values)
    if negated:
        return all(one(v) for v in key_values)
    return any(one(v) for v in key_values)


def conditions_match(block: Mapping[str, Any] | None, context: Context) -> bool:
    """Whether a statement's Condition block holds in the request context."""
    if not block:
        return True
    for operator, keys in block.items():
        if not operator_is_known(operator) or not isinstance(keys, Mapping):
            return False  # an unknown operator never matches (AWS rejects such policies on input)
        for key, raw in keys.items():
            if not _key_matches(operator, context.get(key.lower()), _values(raw)):
                return False
    return True
