"""ECR repository settings: PutImageTagMutability, PutImageScanningConfiguration, and the
resource tags of repositories (TagResource, UntagResource, ListTagsForResource)."""

from __future__ import annotations

from typing import Any

from dockyard.ecr.context import Call


def put_image_tag_mutability(call: Call) -> dict[str, Any]:
    call.check_registry()
    repo = call.services.repository_settings.put_tag_mutability(
        call.caller, call.required("repositoryName"), call.required("imageTagMutability"),
        call.optional("imageTagMutabilityExclusionFilters", list))
    result: dict[str, Any] = {
        "registryId": call.services.repositories.address.registry_id,
        "repositoryName": repo.name,
        "imageTagMutability": repo.tag_mutability,
    }
    if repo.mutability_exclusions:
        result["imageTagMutabilityExclusionFilters"] = [dict(f) for f in repo.mutability_exclusions]
    return result


def put_image_scanning_configuration(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    call.required("imageScanningConfiguration", dict)
    scan_on_push = call.scan_on_push()
    repo = call.services.repository_settings.put_scanning_configuration(call.caller, name,
                                                                         scan_on_push)
    return {
        "registryId": call.services.repositories.address.registry_id,
        "repositoryName": repo.name,
        "imageScanningConfiguration": {"scanOnPush": repo.scan_on_push},
    }


def tag_resource(call: Call) -> dict[str, Any]:
    call.services.repository_settings.tag(call.caller, call.required("resourceArn"),
                                          call.required("tags", list))
    return {}


def untag_resource(call: Call) -> dict[str, Any]:
    call.services.repository_settings.untag(call.caller, call.required("resourceArn"),
                                            call.required("tagKeys", list))
    return {}


def list_tags_for_resource(call: Call) -> dict[str, Any]:
    tags = call.services.repository_settings.list_tags(call.caller, call.required("resourceArn"))
    return {"tags": [dict(t) for t in tags]}
