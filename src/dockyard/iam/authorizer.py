"""The policy decision every service asks before it acts: may this caller do this action here?"""

from __future__ import annotations

from dockyard.domain.models import Principal
from dockyard.errors import AccessDenied, Unauthenticated
from dockyard.iam.policy import decide


class Authorizer:
    def allowed(self, caller: Principal | None, action: str, resource: str) -> bool:
        return caller is not None and decide(caller.policies, action, resource)

    def check(self, caller: Principal | None, action: str, resource: str) -> None:
        if caller is None:
            raise Unauthenticated("authentication required")
        if not decide(caller.policies, action, resource):
            raise AccessDenied(
                f"User: {caller.arn} is not authorized to perform: {action} on resource: "
                f"{resource} because no identity-based policy allows the {action} action"
            )
