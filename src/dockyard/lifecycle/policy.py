"""ECR lifecycle policies: the rule language, parsed and validated as ECR does.

A policy is ``{"rules": [rule, ...]}``; each rule has a ``rulePriority``, an optional
``description``, a ``selection`` (``tagStatus``, ``tagPrefixList``/``tagPatternList``,
``countType``/``countUnit``/``countNumber``, optional ``storageClass``) and an ``action``
(``{"type": "expire"}``). Every problem is an ``InvalidParameterException`` whose message says
where it is and what is wrong, in ECR's shape:
``Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy
validation failure: ...'``.

Dockyard has one storage class, so the archive features of ECR's language (``"storageClass":
"archive"``, ``countType: sinceImageTransitioned``, ``action.type: transition``) are refused with a
message that says so, rather than accepted and ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from dockyard.errors import InvalidParameter, ValidationError

TAGGED, UNTAGGED, ANY = "tagged", "untagged", "any"
IMAGE_COUNT_MORE_THAN = "imageCountMoreThan"
SINCE_IMAGE_PUSHED = "sinceImagePushed"
SINCE_IMAGE_PULLED = "sinceImagePulled"
SINCE_IMAGE_TRANSITIONED = "sinceImageTransitioned"
COUNT_TYPES = (IMAGE_COUNT_MORE_THAN, SINCE_IMAGE_PUSHED, SINCE_IMAGE_PULLED)
AGE_COUNT_TYPES = (SINCE_IMAGE_PUSHED, SINCE_IMAGE_PULLED)
EXPIRE = "expire"
MAX_WILDCARDS = 4
MIN_TEXT, MAX_TEXT = 100, 30720

_RULE_KEYS = {"rulePriority", "description", "selection", "action"}
_SELECTION_KEYS = {"tagStatus", "tagPrefixList", "tagPatternList", "countType", "countUnit",
                   "countNumber", "storageClass"}
_ACTION_KEYS = {"type", "targetStorageClass"}


def invalid(detail: str) -> InvalidParameter:
    return InvalidParameter("Invalid parameter at 'LifecyclePolicyText' failed to satisfy "
                            f"constraint: 'Lifecycle policy validation failure: {detail}'")


@dataclass(frozen=True, slots=True)
class Rule:
    priority: int
    tag_status: str
    count_type: str
    count_number: int
    tag_prefixes: tuple[str, ...] = ()
    tag_patterns: tuple[str, ...] = ()
    count_unit: str | None = None
    description: str | None = None

    def selects(self, tags: tuple[str, ...] | frozenset[str]) -> bool:
        """Whether an image with ``tags`` meets this rule's tagging requirements."""
        if self.tag_status == ANY:
            return True
        if self.tag_status == UNTAGGED:
            return not tags
        if not tags:
            return False
        # Every prefix (pattern) must be matched by at least one of the image's tags.
        if any(not any(t.startswith(p) for t in tags) for p in self.tag_prefixes):
            return False
        return all(any(_glob(p).fullmatch(t) for t in tags) for p in self.tag_patterns)


@dataclass(frozen=True)
class LifecyclePolicy:
    text: str
    rules: tuple[Rule, ...]  # by ascending rulePriority

    @cached_property
    def document(self) -> dict[str, Any]:
        return json.loads(self.text)


_GLOBS: dict[str, re.Pattern[str]] = {}


def _glob(pattern: str) -> re.Pattern[str]:
    compiled = _GLOBS.get(pattern)
    if compiled is None:
        compiled = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)
        if len(_GLOBS) < 10_000:
            _GLOBS[pattern] = compiled
    return compiled


def check_text_length(text: str, field: str = "lifecyclePolicyText") -> None:
    """The service model's length constraint on the policy text (a ValidationException)."""
    if not MIN_TEXT <= len(text) <= MAX_TEXT:
        bound = (f"greater than or equal to {MIN_TEXT}" if len(text) < MIN_TEXT
                 else f"less than or equal to {MAX_TEXT}")
        raise ValidationError(f"1 validation error detected: Value at '{field}' failed to "
                              f"satisfy constraint: Member must have length {bound}")


def parse_policy(text: str) -> LifecyclePolicy:
    """Parse and validate a lifecycle policy document; raise InvalidParameter naming the problem."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise invalid(f"the policy is not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise invalid("#: expected type: JSONObject, found: " + _type_name(doc))
    extra = sorted(set(doc) - {"rules"})
    if extra:
        raise invalid(f"#: extraneous key [{extra[0]}] is not permitted")
    if "rules" not in doc:
        raise invalid("#: required key [rules] not found")
    raw_rules = doc["rules"]
    if not isinstance(raw_rules, list):
        raise invalid("#/rules: expected type: JSONArray, found: " + _type_name(raw_rules))
    if not raw_rules:
        raise invalid("#/rules: expected minimum item count: 1, found: 0")
    rules = [_rule(raw, f"#/rules/{i}") for i, raw in enumerate(raw_rules)]
    _check_policy(rules)
    return LifecyclePolicy(text, tuple(sorted(rules, key=lambda r: r.priority)))


def _type_name(value: Any) -> str:
    return {dict: "JSONObject", list: "JSONArray", str: "String", bool: "Boolean",
            int: "Integer", float: "BigDecimal", type(None): "Null"}.get(type(value), "value")


def _object(value: Any, where: str, allowed: set[str], required: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{where}: expected type: JSONObject, found: {_type_name(value)}")
    extra = sorted(set(value) - allowed)
    if extra:
        raise invalid(f"{where}: extraneous key [{extra[0]}] is not permitted")
    for key in required:
        if key not in value:
            raise invalid(f"{where}: required key [{key}] not found")
    return value


def _integer(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{where}: expected type: Integer, found: {_type_name(value)}")
    if value < minimum:
        raise invalid(f"{where}: {value} is not greater or equal to {minimum}")
    return value


def _string_list(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise invalid(f"{where}: expected type: JSONArray, found: {_type_name(value)}")
    if not value:
        raise invalid(f"{where}: expected minimum item count: 1, found: 0")
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise invalid(f"{where}/{i}: expected type: String, found: {_type_name(item)}")
        if not item:
            raise invalid(f"{where}/{i}: expected minLength: 1, actual: 0")
    return tuple(value)


def _rule(raw: Any, where: str) -> Rule:
    rule = _object(raw, where, _RULE_KEYS, ("rulePriority", "selection", "action"))
    priority = _integer(rule["rulePriority"], f"{where}/rulePriority", 1)
    description = rule.get("description")
    if description is not None and not isinstance(description, str):
        raise invalid(f"{where}/description: expected type: String, found: "
                      f"{_type_name(description)}")
    _action(rule["action"], f"{where}/action", priority)
    sel_where = f"{where}/selection"
    sel = _object(rule["selection"], sel_where, _SELECTION_KEYS,
                  ("tagStatus", "countType", "countNumber"))
    tag_status = sel["tagStatus"]
    if tag_status not in (TAGGED, UNTAGGED, ANY):
        raise invalid(f"{sel_where}/tagStatus: {json.dumps(tag_status)} is not a valid enum value "
                      f"(allowed: tagged, untagged, any)")
    prefixes = (_string_list(sel["tagPrefixList"], f"{sel_where}/tagPrefixList")
                if "tagPrefixList" in sel else ())
    patterns = (_string_list(sel["tagPatternList"], f"{sel_where}/tagPatternList")
                if "tagPatternList" in sel else ())
    if tag_status == TAGGED:
        if not prefixes and not patterns:
            raise invalid(f"rule {priority}: tagStatus 'tagged' requires a tagPrefixList or a "
                          f"tagPatternList")
        if prefixes and patterns:
            raise invalid(f"rule {priority}: give either tagPrefixList or tagPatternList, "
                          f"not both")
    elif prefixes or patterns:
        field = "tagPrefixList" if prefixes else "tagPatternList"
        raise invalid(f"rule {priority}: {field} can only be used with tagStatus 'tagged', "
                      f"not '{tag_status}'")
    for pattern in patterns:
        if pattern.count("*") > MAX_WILDCARDS:
            raise invalid(f"rule {priority}: tag pattern '{pattern}' has "
                          f"{pattern.count('*')} wildcards; at most {MAX_WILDCARDS} are allowed")
    count_type = sel["countType"]
    if count_type == SINCE_IMAGE_TRANSITIONED:
        raise invalid(f"rule {priority}: countType 'sinceImageTransitioned' needs the archive "
                      f"storage class, which Dockyard does not have")
    if count_type not in COUNT_TYPES:
        raise invalid(f"{sel_where}/countType: {json.dumps(count_type)} is not a valid enum value "
                      f"(allowed: {', '.join(COUNT_TYPES)})")
    storage = sel.get("storageClass")
    if storage is not None and storage != "standard":
        raise invalid(f"rule {priority}: storageClass {json.dumps(storage)} is not supported; "
                      f"Dockyard has only the 'standard' storage class")
    number = _integer(sel["countNumber"], f"{sel_where}/countNumber", 1)
    unit = sel.get("countUnit")
    if count_type in AGE_COUNT_TYPES:
        if unit is None:
            raise invalid(f"rule {priority}: countUnit is required with countType "
                          f"'{count_type}' (the only unit is 'days')")
        if unit != "days":
            raise invalid(f"{sel_where}/countUnit: {json.dumps(unit)} is not a valid enum value "
                          f"(allowed: days)")
    elif unit is not None:
        raise invalid(f"rule {priority}: countUnit can only be used with countType "
                      f"'sinceImagePushed' or 'sinceImagePulled', not '{count_type}'")
    return Rule(priority, tag_status, count_type, number, prefixes, patterns, unit, description)


def _action(raw: Any, where: str, priority: int) -> None:
    action = _object(raw, where, _ACTION_KEYS, ("type",))
    kind = action["type"]
    if kind == "transition" or "targetStorageClass" in action:
        raise invalid(f"rule {priority}: action 'transition' needs the archive storage class, "
                      f"which Dockyard does not have; the supported action is 'expire'")
    if kind != EXPIRE:
        raise invalid(f"{where}/type: {json.dumps(kind)} is not a valid enum value "
                      f"(allowed: expire)")


def _check_policy(rules: list[Rule]) -> None:
    seen: dict[int, Rule] = {}
    for rule in rules:
        if rule.priority in seen:
            raise invalid(f"rulePriority {rule.priority} is used by more than one rule; "
                          f"every rule needs a unique rulePriority")
        seen[rule.priority] = rule
    highest = max(seen)
    for rule in rules:
        if rule.tag_status == ANY and rule.priority != highest:
            raise invalid(f"the rule with tagStatus 'any' (rulePriority {rule.priority}) must have "
                          f"the highest rulePriority in the policy ({highest} is higher)")
    untagged = sorted(r.priority for r in rules if r.tag_status == UNTAGGED)
    if len(untagged) > 1:
        raise invalid(f"only one rule can select untagged images; rules "
                      f"{' and '.join(map(str, untagged))} both have tagStatus 'untagged'")
    for field in ("tag_prefixes", "tag_patterns"):
        owners: dict[frozenset[str], int] = {}
        for rule in sorted(rules, key=lambda r: r.priority):
            values = getattr(rule, field)
            if not values:
                continue
            key = frozenset(values)
            if key in owners:
                name = "tagPrefixList" if field == "tag_prefixes" else "tagPatternList"
                raise invalid(f"rules {owners[key]} and {rule.priority} have the same {name}; "
                              f"each rule must select a unique set of tags")
            owners[key] = rule.priority
