"""STS operations: AssumeRole and GetCallerIdentity."""

from __future__ import annotations

from typing import Any

from dockyard.errors import ValidationError
from dockyard.iamapi.call import QueryCall


def assume_role(call: QueryCall) -> dict[str, Any]:
    arns = []
    for item in call.structures("PolicyArns"):
        arn = item.get("arn")
        if not isinstance(arn, str):
            raise ValidationError("1 validation error detected: Value at 'policyArns' failed to "
                                  "satisfy constraint: Member must have an arn")
        arns.append(arn)
    issued = call.services.sts.assume_role(
        call.caller, call.required("RoleArn"), call.required("RoleSessionName"),
        duration=call.integer("DurationSeconds"), policy=call.optional("Policy"),
        policy_arns=arns, tags=call.tags(), external_id=call.optional("ExternalId"),
        source_identity=call.optional("SourceIdentity"))
    result: dict[str, Any] = {
        "Credentials": {
            "AccessKeyId": issued.session.access_key_id,
            "SecretAccessKey": issued.secret_access_key,
            "SessionToken": issued.session_token,
            "Expiration": issued.session.expires_at,
        },
        "AssumedRoleUser": {"AssumedRoleId": issued.assumed_role_id, "Arn": issued.arn},
    }
    if issued.packed_policy_percent is not None:
        result["PackedPolicySize"] = issued.packed_policy_percent
    if issued.session.source_identity:
        result["SourceIdentity"] = issued.session.source_identity
    return result


def get_caller_identity(call: QueryCall) -> dict[str, Any]:
    return call.services.sts.caller_identity(call.caller)
