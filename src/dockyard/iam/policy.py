"""IAM policy evaluation as AWS documents it, for identity and resource-based policies.

- Default deny; an explicit ``Deny`` in any applicable policy wins over every ``Allow``.
- Within one account, an ``Allow`` in an identity policy *or* in a resource policy that names the
  caller is enough. Across accounts, both the caller's identity policies and the resource policy
  must allow. An anonymous caller can only be allowed by a resource policy with ``Principal: "*"``.
- ``Action``/``NotAction`` (case-insensitive wildcards), ``Resource``/``NotResource`` (wildcards,
  policy variables such as ``${aws:username}``), ``Principal``/``NotPrincipal``, ``Condition``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from dockyard.iam.conditions import Context, conditions_match

ADMINISTRATOR_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
_VARIABLE = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks, as policies see it."""

    account: str
    names: frozenset[str]  # ARNs a Principal element may name: the caller's, its role's, account root
    anonymous: bool = False


ANONYMOUS = Caller(account="", names=frozenset(), anonymous=True)


@dataclass(frozen=True, slots=True)
class Request:
    action: str
    resource: str
    resource_account: str
    context: Context = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    explicit_deny: bool = False


@lru_cache(maxsize=8192)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{regex}$", (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _substitute(text: str, context: Context) -> str:
    if "${" not in text:
        return text

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in ("*", "?", "$"):
            return name
        found = context.get(name.lower())
        return found[0] if found else "\x00"  # an unknown variable matches nothing

    return _VARIABLE.sub(value, text)


def _matches_any(patterns: Iterable[str], value: str, *, ignore_case: bool, context: Context) -> bool:
    return any(_pattern(_substitute(p, context), ignore_case).match(value) for p in patterns)


def _principal_matches(element: Any, caller: Caller) -> bool:
    if element == "*":
        return True
    if not isinstance(element, Mapping):
        return False
    for arn in _as_list(element.get("AWS")):
        if arn == "*":
            return True
        if caller.anonymous:
            continue
        if arn.isdigit() and arn == caller.account:
            return True
        if arn in caller.names:
            return True
    return False


def _applies(statement: Mapping[str, Any], request: Request, caller: Caller | None) -> bool:
    context = request.context
    if "Action" in statement:
        if not _matches_any(_as_list(statement["Action"]), request.action, ignore_case=True,
                            context=context):
            return False
    elif _matches_any(_as_list(statement.get("NotAction")), request.action, ignore_case=True,
                      context=context):
        return False
    if "Resource" in statement:
        if not _matches_any(_as_list(statement["Resource"]), request.resource, ignore_case=False,
                            context=context):
            return False
    elif "NotResource" in statement and _matches_any(
            _as_list(statement["NotResource"]), request.resource, ignore_case=False, context=context):
        return False
    if caller is not None:  # resource-based policy: the statement must name the caller
        if "Principal" in statement:
            if not _principal_matches(statement["Principal"], caller):
                return False
        elif "NotPrincipal" in statement:
            if _principal_matches(statement["NotPrincipal"], caller):
                return False
        else:
            return False
    return conditions_match(statement.get("Condition"), context)


def _statements(document: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, Mapping) else statements


def _scan(documents: Iterable[Mapping[str, Any]], request: Request,
          caller: Caller | None) -> tuple[bool, bool]:
    """(some statement allows, some statement denies) over a set of policies."""
    allow = deny = False
    for document in documents:
        for statement in _statements(document):
            if not isinstance(statement, Mapping) or not _applies(statement, request, caller):
                continue
            if statement.get("Effect") == "Deny":
                deny = True
            elif statement.get("Effect") == "Allow":
                allow = True
    return allow, deny


def evaluate(request: Request, caller: Caller, *, identity_policies: Iterable[Mapping[str, Any]] = (),
             resource_policies: Iterable[Mapping[str, Any]] = (),
             session_policies: Sequence[Mapping[str, Any]] = ()) -> Decision:
    """``session_policies`` (from AssumeRole) narrow what the identity policies grant: each of them
    must allow too, and a Deny in any of them wins."""
    identity_allow, identity_deny = (False, False) if caller.anonymous else _scan(
        identity_policies, request, None)
    for session_policy in session_policies:
        session_allow, session_deny = _scan([session_policy], request, None)
        identity_allow = identity_allow and session_allow
        identity_deny = identity_deny or session_deny
    resource_allow, resource_deny = _scan(resource_policies, request, caller)
    if identity_deny or resource_deny:
        return Decision(False, explicit_deny=True)
    if caller.anonymous:
        return Decision(resource_allow)
    if caller.account == request.resource_account:
        return Decision(identity_allow or resource_allow)
    return Decision(identity_allow and resource_allow)


def decide(documents: Iterable[Mapping[str, Any]], action: str, resource: str) -> bool:
    """Identity policies alone, no conditions context: True when allowed and not denied."""
    request = Request(action, resource, "")
    allow, deny = _scan(documents, request, None)
    return allow and not deny
