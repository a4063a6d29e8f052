"""ECR repository operations: CreateRepository, DescribeRepositories, DeleteRepository."""

from __future__ import annotations

from typing import Any

from dockyard.ecr import shapes
from dockyard.ecr.context import Call
from dockyard.errors import InvalidParameter


def create_repository(call: Call) -> dict[str, Any]:
    call.check_registry()
    encryption = call.optional("encryptionConfiguration", dict, {})
    repo = call.services.repositories.create(
        call.caller,
        call.required("repositoryName"),
        tag_mutability=call.optional("imageTagMutability", str, "MUTABLE"),
        mutability_exclusions=call.optional("imageTagMutabilityExclusionFilters", list),
        scan_on_push=call.scan_on_push(),
        encryption_type=encryption.get("encryptionType", "AES256"),
        kms_key=encryption.get("kmsKey"),
        tags=call.optional("tags", list, []),
    )
    return {"repository": shapes.repository(repo, call.services.repositories.address)}


def describe_repositories(call: Call) -> dict[str, Any]:
    call.check_registry()
    names = call.optional("repositoryNames", list)
    if names is not None and ("maxResults" in call.params or call.params.get("nextToken")):
        raise InvalidParameter(
            "Invalid parameter: maxResults and nextToken cannot be used with repositoryNames")
    if names is not None and not 1 <= len(names) <= 100:
        raise InvalidParameter("Invalid parameter at 'repositoryNames': give 1-100 names")
    repos, token = call.services.repositories.describe(
        call.caller, names=names, next_token=call.optional("nextToken"),
        max_results=call.max_results(1000))
    address = call.services.repositories.address
    result: dict[str, Any] = {"repositories": [shapes.repository(r, address) for r in repos]}
    if token:
        result["nextToken"] = token
    return result


def delete_repository(call: Call) -> dict[str, Any]:
    call.check_registry()
    repo, _ = call.services.repositories.delete(call.caller, call.required("repositoryName"),
                                                force=call.optional("force", bool, False))
    return {"repository": shapes.repository(repo, call.services.repositories.address)}
