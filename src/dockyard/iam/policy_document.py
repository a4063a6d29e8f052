"""Policy documents: the grammar IAM accepts, checked before a policy is stored (pure, no IO).

``parse_policy`` returns the document or raises ``PolicyDocumentError`` naming the first problem.
A missing ``Version`` is allowed (IAM reads it as 2008-10-17); a given one must be a known version.
Resource-based policies (ECR repository and registry policies) need a ``Principal`` (or
``NotPrincipal``) in every statement and may only name actions of their service; identity policies
must not name principals. ``locks_out`` tells whether a repository policy would deny its author
the right to change it again (ECR then wants ``force``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

VERSIONS = ("2012-10-17", "2008-10-17")
EFFECTS = ("Allow", "Deny")
MAX_POLICY_LENGTH = 10240
_TOP_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
                             "Resource", "NotResource", "Condition"})
_PRINCIPAL_KEYS = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
_ACTION_RE = re.compile(r"^(?P<service>[a-zA-Z0-9-]+):[a-zA-Z0-9*?]+$")
_CONDITION_OPERATORS = frozenset({
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
    "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
    "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
    "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals",
    "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
})
_SCALAR = (str, bool, int, float)


class PolicyDocumentError(ValueError):
    """The policy text is not a valid policy document; the message says why."""


def parse_policy(text: object, *, resource_policy: bool = True, service: str | None = "ecr",
                 max_length: int = MAX_POLICY_LENGTH) -> dict[str, Any]:
    """Parse and check a policy document; ``service`` limits the actions it may name."""
    if not isinstance(text, str):
        raise PolicyDocumentError("the policy text must be a string")
    if len(text) > max_length:
        raise PolicyDocumentError(f"the policy text has {len(text)} characters; at most "
                                  f"{max_length} are allowed")
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise PolicyDocumentError(f"the policy text is not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise PolicyDocumentError("the policy must be a JSON object")
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise PolicyDocumentError(f"unknown policy element {unknown[0]!r} (allowed: Version, Id, "
                                  f"Statement)")
    if "Version" in document and document["Version"] not in VERSIONS:
        raise PolicyDocumentError(f"Version must be one of {', '.join(VERSIONS)}, not "
                                  f"{document['Version']!r}")
    if "Id" in document and not isinstance(document["Id"], str):
        raise PolicyDocumentError("Id must be a string")
    for number, statement in enumerate(statements(document), start=1):
        _check_statement(number, statement, resource_policy, service)
    return document


def statements(document: dict[str, Any]) -> list[Any]:
    if "Statement" not in document:
        raise PolicyDocumentError("the policy has no Statement")
    found = document["Statement"]
    if isinstance(found, dict):
        return [found]
    if not isinstance(found, list) or not found:
        raise PolicyDocumentError("Statement must be an object or a non-empty list of objects")
    return found


def _check_statement(number: int, statement: Any, resource_policy: bool,
                     service: str | None) -> None:
    where = f"statement {number}"
    if not isinstance(statement, dict):
        raise PolicyDocumentError(f"{where} must be an object")
    unknown = sorted(set(statement) - _STATEMENT_KEYS)
    if unknown:
        raise PolicyDocumentError(f"{where} has an unknown element {unknown[0]!r}")
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        raise PolicyDocumentError(f"{where}: Sid must be a string")
    if statement.get("Effect") not in EFFECTS:
        raise PolicyDocumentError(f"{where}: Effect must be Allow or Deny, not "
                                  f"{statement.get('Effect')!r}")
    _check_principal(where, statement, resource_policy)
    for action in _one_of(where, statement, "Action", "NotAction", required=True):
        _check_action(where, action, service)
    for resource in _one_of(where, statement, "Resource", "NotResource",
                            required=not resource_policy):
        if resource != "*" and not resource.startswith("arn:"):
            raise PolicyDocumentError(f"{where}: Resource {resource!r} must be an ARN or \"*\"")
    if "Condition" in statement:
        _check_condition(where, statement["Condition"])


def _one_of(where: str, statement: dict[str, Any], name: str, negated: str, *,
            required: bool) -> list[str]:
    if name in statement and negated in statement:
        raise PolicyDocumentError(f"{where} has both {name} and {negated}")
    key = name if name in statement else negated if negated in statement else None
    if key is None:
        if required:
            raise PolicyDocumentError(f"{where} has no {name} (or {negated})")
        return []
    return _strings(f"{where}: {key}", statement[key])


def _strings(where: str, value: Any) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(
            isinstance(v, str) and v for v in values):
        raise PolicyDocumentError(f"{where} must be a non-empty string or list of strings")
    return values


def _check_principal(where: str, statement: dict[str, Any], resource_policy: bool) -> None:
    keys = [k for k in ("Principal", "NotPrincipal") if k in statement]
    if not resource_policy:
        if keys:
            raise PolicyDocumentError(f"{where}: an identity policy cannot name a {keys[0]}")
        return
    if len(keys) != 1:
        raise PolicyDocumentError(f"{where} needs exactly one of Principal or NotPrincipal"
                                  if keys else f"{where} has no Principal")
    principal = statement[keys[0]]
    if principal == "*":
        return
    if not isinstance(principal, dict) or not principal:
        raise PolicyDocumentError(f"{where}: {keys[0]} must be \"*\" or an object such as "
                                  f"{{\"AWS\": \"arn:aws:iam::123456789012:root\"}}")
    for kind, value in principal.items():
        if kind not in _PRINCIPAL_KEYS:
            raise PolicyDocumentError(f"{where}: unknown principal type {kind!r} (allowed: "
                                      f"{', '.join(sorted(_PRINCIPAL_KEYS))})")
        _strings(f"{where}: {keys[0]}.{kind}", value)


def _check_action(where: str, action: str, service: str | None) -> None:
    if action == "*":
        return
    match = _ACTION_RE.match(action)
    if match is None:
        raise PolicyDocumentError(f"{where}: action {action!r} must look like "
                                  f"\"{service or 'service'}:Operation\" (wildcards * ?) or be \"*\"")
    if service is not None and match["service"].lower() != service:
        raise PolicyDocumentError(f"{where}: action {action!r} is not an {service} action "
                                  f"(\"{service}:...\")")


def _check_condition(where: str, condition: Any) -> None:
    if not isinstance(condition, dict):
        raise PolicyDocumentError(f"{where}: Condition must be an object")
    for operator, block in condition.items():
        base = operator.removeprefix("ForAnyValue:").removeprefix("ForAllValues:")
        base = base.removesuffix("IfExists")
        if base not in _CONDITION_OPERATORS:
            raise PolicyDocumentError(f"{where}: unknown condition operator {operator!r}")
        if not isinstance(block, dict) or not block:
            raise PolicyDocumentError(f"{where}: condition {operator} must map keys to values")
        for key, value in block.items():
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, _SCALAR) for v in values):
                raise PolicyDocumentError(f"{where}: condition {operator} {key!r} needs a value "
                                          f"or a non-empty list of values")


# --- lock-out ------------------------------------------------------------------------------------
@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE)


def _names(principal: Any) -> set[str]:
    if principal == "*":
        return {"*"}
    names: set[str] = set()
    for value in (principal or {}).values():
        names.update([value] if isinstance(value, str) else value)
    return names


def locks_out(document: dict[str, Any], *, action: str, principal_arn: str,
              account_id: str) -> bool:
    """Whether a Deny statement of this resource policy may apply to ``principal_arn`` doing
    ``action`` (conditions are not evaluated: a conditional Deny counts)."""
    caller = {"*", principal_arn, account_id, f"arn:aws:iam::{account_id}:root"}
    for statement in statements(document):
        if statement.get("Effect") != "Deny":
            continue
        if "Principal" in statement:
            covered = bool(_names(statement["Principal"]) & caller)
        else:
            excepted = _names(statement.get("NotPrincipal"))
            covered = "*" not in excepted and not excepted & caller
        if covered and _action_applies(statement, action):
            return True
    return False


def _action_applies(statement: dict[str, Any], action: str) -> bool:
    def matches(patterns: Iterable[str]) -> bool:
        return any(_glob(p).match(action) for p in patterns)

    if "Action" in statement:
        return matches(_strings("Action", statement["Action"]))
    return not matches(_strings("NotAction", statement["NotAction"]))
