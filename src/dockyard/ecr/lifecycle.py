"""ECR lifecycle policy operations: PutLifecyclePolicy, GetLifecyclePolicy, DeleteLifecyclePolicy,
StartLifecyclePolicyPreview, GetLifecyclePolicyPreview."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dockyard.ecr import shapes
from dockyard.ecr.context import Call
from dockyard.errors import InvalidParameter
from dockyard.lifecycle.service import LifecycleService
from dockyard.metadata.lifecycle_store import COMPLETE, StoredPolicy

_TAG_STATUSES = ("TAGGED", "UNTAGGED", "ANY")


def _lifecycle(call: Call) -> LifecycleService:
    service = call.services.lifecycle
    assert service is not None, "the composition root always builds the lifecycle service"
    return service


def _head(call: Call, name: str, text: str) -> dict[str, Any]:
    return {"registryId": call.services.identity.registry.registry_id, "repositoryName": name,
            "lifecyclePolicyText": text}


def _policy(call: Call, name: str, stored: StoredPolicy) -> dict[str, Any]:
    shape = _head(call, name, stored.text)
    if stored.last_evaluated_at is not None:
        shape["lastEvaluatedAt"] = shapes.timestamp(stored.last_evaluated_at)
    return shape


def put_lifecycle_policy(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    text = call.required("lifecyclePolicyText")
    _lifecycle(call).put_policy(call.caller, name, text)
    return _head(call, name, text)


def get_lifecycle_policy(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    return _policy(call, name, _lifecycle(call).get_policy(call.caller, name))


def delete_lifecycle_policy(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    return _policy(call, name, _lifecycle(call).delete_policy(call.caller, name))


def start_lifecycle_policy_preview(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    preview = _lifecycle(call).start_preview(call.caller, name,
                                                    call.optional("lifecyclePolicyText"))
    return {**_head(call, name, preview.text), "status": preview.status}


def get_lifecycle_policy_preview(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    image_ids = call.optional("imageIds", list)
    if image_ids is not None:
        if call.params.get("maxResults") is not None or call.params.get("nextToken"):
            raise InvalidParameter(
                "Invalid parameter: maxResults and nextToken cannot be used with imageIds")
        if not 1 <= len(image_ids) <= 100:
            raise InvalidParameter("Invalid parameter at 'imageIds': give 1-100 image ids")
    limit = call.optional("maxResults", int, 100)
    if not 1 <= limit <= 100:
        raise InvalidParameter(
            "Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must have "
            "value less than or equal to 100 and greater than or equal to 1'")
    tag_status = call.optional("filter", dict, {}).get("tagStatus", "ANY")
    if tag_status not in _TAG_STATUSES:
        raise InvalidParameter(
            "Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: "
            "'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]'")
    page = _lifecycle(call).get_preview(
        call.caller, name, image_ids=image_ids, tag_status=tag_status,
        next_token=call.optional("nextToken"), limit=limit)
    result: dict[str, Any] = {**_head(call, name, page.preview.text),
                              "status": page.preview.status,
                              "previewResults": [_result(r) for r in page.results]}
    if page.preview.status == COMPLETE:
        result["summary"] = {"expiringImageTotalCount": page.total}
    if page.next_token:
        result["nextToken"] = page.next_token
    return result


def _result(stored: dict[str, Any]) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "imageDigest": stored["imageDigest"],
        "imagePushedAt": shapes.timestamp(datetime.fromisoformat(stored["imagePushedAt"])),
        "action": {"type": "EXPIRE"},
        "appliedRulePriority": stored["appliedRulePriority"],
        "storageClass": "STANDARD",
    }
    if stored["imageTags"]:
        shape["imageTags"] = stored["imageTags"]
    return shape
