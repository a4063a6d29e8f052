"""Who a caller is, as the Authorizer needs it: a user or a role session with every identity
policy that applies (inline and attached, the user's groups', the role's), tags and ids."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from dockyard.domain.iam import ROLE, USER, IamRole, StsSession
from dockyard.domain.models import Principal
from dockyard.iam.aws_managed import AWS_MANAGED
from dockyard.metadata.iam_store import SqlIamStore

ASSUMED_ROLE = "assumed-role"


@lru_cache(maxsize=4096)
def _parsed(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def session_arn(account: str, role_name: str, session_name: str) -> str:
    return f"arn:aws:sts::{account}:{ASSUMED_ROLE}/{role_name}/{session_name}"


class PrincipalResolver:
    def __init__(self, store: SqlIamStore, account: Callable[[], str]) -> None:
        self.store = store
        self._account = account

    def documents(self, kind: str, entity_id: str) -> tuple[dict[str, Any], ...]:
        texts, arns = self.store.identity_documents(kind, entity_id)
        return tuple(_parsed(t) for t in texts) + self.managed_documents(arns)

    def managed_documents(self, arns: Sequence[str]) -> tuple[dict[str, Any], ...]:
        customer = self.store.default_documents([a for a in arns if a not in AWS_MANAGED])
        found: list[dict[str, Any]] = []
        for arn in arns:
            if arn in AWS_MANAGED:
                found.append(AWS_MANAGED[arn].document)
            elif arn in customer:
                found.append(_parsed(customer[arn]))
        return tuple(found)

    def user(self, row: Principal) -> Principal:
        """The full principal for a user row of the identity store."""
        tags = dict(self.store.tags(USER, row.id))
        return Principal(row.id, USER, row.name, row.arn, self.documents(USER, row.id),
                         account=self._account(), tags=tags, username=row.name, user_id=row.id)

    def session(self, session: StsSession, role: IamRole) -> Principal:
        session_policies: list[dict[str, Any]] = []
        if session.session_policy:
            session_policies.append(_parsed(session.session_policy))
        session_policies.extend(self.managed_documents(session.policy_arns))
        tags = dict(role.tags)
        tags.update(dict(session.tags))
        account = self._account()
        return Principal(role.id, ASSUMED_ROLE, role.name,
                         session_arn(account, role.name, session.session_name),
                         self.documents(ROLE, role.id), account=account, tags=tags,
                         role_arn=role.arn, session_name=session.session_name,
                         user_id=f"{role.id}:{session.session_name}",
                         session_policies=tuple(session_policies))
