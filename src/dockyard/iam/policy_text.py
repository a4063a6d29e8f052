"""IAM's checks of a policy document before it is stored: the grammar (``policy_document``),
the kind of policy (identity, trust, session) and IAM's size quotas, which count characters
without whitespace. Malformed text is ``MalformedPolicyDocument``; too large is ``LimitExceeded``."""

from __future__ import annotations

from typing import Any

from dockyard.errors import IamLimitExceeded, MalformedPolicyDocument, PackedPolicyTooLarge
from dockyard.iam.policy_document import PolicyDocumentError, parse_policy, statements

MANAGED_POLICY_SIZE = 6144
TRUST_POLICY_SIZE = 2048
SESSION_POLICY_SIZE = 2048
INLINE_POLICY_SIZES = {"user": 2048, "group": 5120, "role": 10240}
_RAW_LIMIT = 131072  # any text longer than this is refused before it is parsed


def packed_size(text: str) -> int:
    return sum(1 for ch in text if not ch.isspace())


def check_identity_policy(text: Any) -> dict[str, Any]:
    """An identity policy (inline, managed, or a session policy): any service's actions,
    ``Resource`` required, no ``Principal``."""
    try:
        return parse_policy(text, resource_policy=False, service=None, max_length=_RAW_LIMIT)
    except PolicyDocumentError as exc:
        raise MalformedPolicyDocument(f"Syntax errors in policy: {exc}") from None


def check_managed_policy(text: Any) -> dict[str, Any]:
    document = check_identity_policy(text)
    if packed_size(text) > MANAGED_POLICY_SIZE:
        raise IamLimitExceeded(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")
    return document


def check_session_policy(text: Any) -> dict[str, Any]:
    document = check_identity_policy(text)
    if packed_size(text) > SESSION_POLICY_SIZE:
        raise PackedPolicyTooLarge(f"Packed policy consumes {packed_size(text) * 100 // SESSION_POLICY_SIZE}"
                                   f"% of allotted space, please use smaller policy for session.")
    return document


def check_trust_policy(text: Any) -> dict[str, Any]:
    """A role's trust policy: a resource policy of ``sts:`` actions, with a ``Principal`` in
    every statement and no ``Resource``."""
    try:
        document = parse_policy(text, resource_policy=True, service="sts", max_length=_RAW_LIMIT)
        for statement in statements(document):
            for field in ("Resource", "NotResource"):
                if field in statement:
                    raise PolicyDocumentError(f"Has prohibited field {field}")
    except PolicyDocumentError as exc:
        raise MalformedPolicyDocument(f"Syntax errors in policy: {exc}") from None
    if packed_size(text) > TRUST_POLICY_SIZE:
        raise IamLimitExceeded(f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}")
    return document
