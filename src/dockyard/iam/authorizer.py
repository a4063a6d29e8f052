"""The policy decision every service asks before it acts: may this caller do this action here?

The Authorizer gathers what AWS evaluates for a request: the caller's identity policies (resolved
on the Principal at authentication), the resource policy of the repository the resource ARN names
(plus the registry policy), a public repository's implicit anonymous-pull grant, and the request
context for conditions (source IP, transport, time, principal and resource tags).

Resource facts are cached per node for ``CACHE_SECONDS``; a node forgets its cache entry as soon
as it changes a policy itself, so only other nodes may lag, by at most that long.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from dockyard.domain.models import Principal
from dockyard.errors import AccessDenied, Unauthenticated
from dockyard.iam.policy import ANONYMOUS, Caller, Decision, Request, evaluate
from dockyard.iam.request_context import current_request
from dockyard.metadata.access_store import RepositoryAccess, SqlAccessStore
from dockyard.ports import Clock, SystemClock

CACHE_SECONDS = 2.0
# what anyone may do in a public repository, signed in or not: pull, and list its tags (the
# OCI tag list, which `skopeo inspect` and `crane ls` read), as in ECR Public
PUBLIC_PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                       "ecr:BatchCheckLayerAvailability", "ecr:ListImages")
PUBLIC_PULL_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "PublicPull", "Effect": "Allow", "Principal": "*",
                   "Action": list(PUBLIC_PULL_ACTIONS)}],
}
_MISSING = RepositoryAccess()


class Authorizer:
    def __init__(self, access: SqlAccessStore | None = None, account: Callable[[], str] = str,
                 clock: Clock | None = None) -> None:
        self.access = access
        self._account = account
        self.clock = clock or SystemClock()
        self._repositories: dict[str, tuple[float, RepositoryAccess]] = {}
        self._registry_policy: tuple[float, dict[str, Any] | None] = (0.0, None)

    # --- decisions --------------------------------------------------------------------------------
    def decide(self, caller: Principal | None, action: str, resource: str, *,
               request_tags: Mapping[str, str] | None = None) -> Decision:
        account = self._account()
        repository = _repository_name(resource)
        facts = self._repository(repository) if repository else _MISSING
        resource_policies: list[dict[str, Any]] = []
        if facts.policy:
            resource_policies.append(facts.policy)
        if facts.public:
            resource_policies.append(PUBLIC_PULL_POLICY)
        if resource.startswith("arn:aws:ecr:"):
            registry_policy = self._registry()
            if registry_policy:
                resource_policies.append(registry_policy)
        # built only if a policy reads it (a Condition, a ${variable}): most requests match
        # plain Action/Resource statements and never do
        request = Request(action, resource, account, _LazyContext(
            lambda: self._context(caller, facts.tags, request_tags or {}, account)))
        who = ANONYMOUS if caller is None else _caller(caller, account)
        return evaluate(request, who, identity_policies=caller.policies if caller else (),
                        resource_policies=resource_policies,
                        session_policies=caller.session_policies if caller else ())

    def allowed(self, caller: Principal | None, action: str, resource: str) -> bool:
        return self.decide(caller, action, resource).allowed

    def check(self, caller: Principal | None, action: str, resource: str, *,
              request_tags: Mapping[str, str] | None = None) -> None:
        decision = self.decide(caller, action, resource, request_tags=request_tags)
        if decision.allowed:
            return
        if caller is None:
            raise Unauthenticated("authentication required")
        why = ("with an explicit deny in a policy" if decision.explicit_deny else
               f"because no identity-based policy allows the {action} action")
        raise AccessDenied(
            f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} {why}")

    def forget(self, repository: str | None = None) -> None:
        """Drop cached resource facts after this node changed a policy, tag or visibility."""
        if repository is None:
            self._repositories.clear()
            self._registry_policy = (0.0, None)
        else:
            self._repositories.pop(repository, None)

    # --- inputs -----------------------------------------------------------------------------------
    def _repository(self, name: str) -> RepositoryAccess:
        if self.access is None:
            return _MISSING
        now = time.monotonic()
        cached = self._repositories.get(name)
        if cached is not None and cached[0] > now:
            return cached[1]
        facts = self.access.repository(name) or _MISSING
        if len(self._repositories) > 50_000:
            self._repositories.clear()
        self._repositories[name] = (now + CACHE_SECONDS, facts)
        return facts

    def _registry(self) -> dict[str, Any] | None:
        if self.access is None:
            return None
        now = time.monotonic()
        if self._registry_policy[0] > now:
            return self._registry_policy[1]
        policy = self.access.registry_policy()
        self._registry_policy = (now + CACHE_SECONDS, policy)
        return policy

    def _context(self, caller: Principal | None, resource_tags: Mapping[str, str],
                 request_tags: Mapping[str, str], account: str) -> dict[str, list[str]]:
        info = current_request()
        now: datetime = self.clock.now()
        context: dict[str, list[str]] = {
            "aws:currenttime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
            "aws:epochtime": [str(int(now.timestamp()))],
            "aws:securetransport": ["true" if info.secure_transport else "false"],
        }
        if info.source_ip:
            context["aws:sourceip"] = [info.source_ip]
        if info.user_agent:
            context["aws:useragent"] = [info.user_agent]
        if caller is not None:
            context["aws:principalarn"] = [caller.role_arn or caller.arn]
            context["aws:principalaccount"] = [caller.account or account]
            context["aws:principaltype"] = ["AssumedRole" if caller.role_arn else "User"]
            context["aws:userid"] = [f"{caller.id}:{caller.session_name}" if caller.session_name
                                     else caller.id]
            if not caller.role_arn:
                context["aws:username"] = [caller.name]
            for key, value in caller.tags.items():
                context[f"aws:principaltag/{key.lower()}"] = [value]
        for key, value in resource_tags.items():
            context[f"aws:resourcetag/{key.lower()}"] = [value]
            context[f"ecr:resourcetag/{key.lower()}"] = [value]
        for key, value in request_tags.items():
            context[f"aws:requesttag/{key.lower()}"] = [value]
        if request_tags:
            context["aws:tagkeys"] = list(request_tags)
        return context


class _LazyContext(Mapping[str, list[str]]):
    """The request context, built on first read."""

    __slots__ = ("_build", "_built")

    def __init__(self, build: Callable[[], dict[str, list[str]]]) -> None:
        self._build = build
        self._built: dict[str, list[str]] | None = None

    def _data(self) -> dict[str, list[str]]:
        if self._built is None:
            self._built = self._build()
        return self._built

    def __getitem__(self, key: str) -> list[str]:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())


def _caller(principal: Principal, account: str) -> Caller:
    own = principal.account or account
    names = {principal.arn, f"arn:aws:iam::{own}:root"}
    if principal.role_arn:
        names.add(principal.role_arn)
    return Caller(own, frozenset(names))


def _repository_name(resource: str) -> str | None:
    # arn:aws:ecr:<region>:<account>:repository/<name>
    marker = ":repository/"
    index = resource.find(marker)
    if not resource.startswith("arn:aws:ecr:") or index < 0:
        return None
    return resource[index + len(marker):]
