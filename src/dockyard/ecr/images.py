"""ECR image operations: ListImages, DescribeImages, BatchGetImage, BatchDeleteImage, PutImage,
ListImageReferrers."""

from __future__ import annotations

from typing import Any

from dockyard.ecr import shapes
from dockyard.ecr.context import Call
from dockyard.errors import InvalidParameter
from dockyard.registry.image_catalog import ANY

_TAG_STATUSES = ("TAGGED", "UNTAGGED", "ANY")


def _tag_status(call: Call) -> str:
    status = call.optional("filter", dict, {}).get("tagStatus", ANY)
    if status not in _TAG_STATUSES:
        raise InvalidParameter(
            "Invalid parameter at 'filter.tagStatus' failed to satisfy constraint: "
            "'Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]'")
    return status


def _image_ids(call: Call) -> list[Any]:
    ids = call.required("imageIds", list)
    if not 1 <= len(ids) <= 100:
        raise InvalidParameter("Invalid parameter at 'imageIds': give 1-100 image ids")
    return ids


def _with_token(result: dict[str, Any], token: str | None) -> dict[str, Any]:
    if token:
        result["nextToken"] = token
    return result


def list_images(call: Call) -> dict[str, Any]:
    call.check_registry()
    ids, token = call.services.catalog.list_images(
        call.caller, call.required("repositoryName"), tag_status=_tag_status(call),
        next_token=call.optional("nextToken"), limit=call.max_results(100))
    return _with_token({"imageIds": [i.shape() for i in ids]}, token)


def describe_images(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    image_ids = call.optional("imageIds", list)
    if image_ids is not None and (call.params.get("maxResults") or call.params.get("nextToken")):
        raise InvalidParameter("Invalid parameter: maxResults and nextToken cannot be used with imageIds")
    records, token = call.services.catalog.describe_images(
        call.caller, name, image_ids=image_ids, tag_status=_tag_status(call),
        next_token=call.optional("nextToken"), limit=call.max_results(100))
    registry_id = call.services.identity.registry.registry_id
    scans = call.services.catalog.scan_summaries(name, [r.digest for r in records])
    return _with_token({"imageDetails": [shapes.image_detail(r, name, registry_id, scans.get(r.digest))
                                         for r in records]}, token)


def batch_get_image(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    images, failures = call.services.catalog.batch_get_image(
        call.caller, name, _image_ids(call), call.optional("acceptedMediaTypes", list))
    registry_id = call.services.identity.registry.registry_id
    return {
        "images": [{"registryId": registry_id, "repositoryName": name,
                    "imageId": i.image_id.shape(), "imageManifest": i.manifest.decode(),
                    "imageManifestMediaType": i.media_type} for i in images],
        "failures": [f.shape() for f in failures],
    }


def batch_delete_image(call: Call) -> dict[str, Any]:
    call.check_registry()
    deleted, failures = call.services.images.batch_delete(
        call.caller, call.required("repositoryName"), _image_ids(call))
    return {"imageIds": [i.shape() for i in deleted], "failures": [f.shape() for f in failures]}


def put_image(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    manifest = call.required("imageManifest")
    tag = call.optional("imageTag")
    result = call.services.images.put_image(
        call.caller, name, manifest.encode(), media_type=call.optional("imageManifestMediaType"),
        tag=tag, digest=call.optional("imageDigest"))
    image_id = {"imageDigest": result.digest, **({"imageTag": tag} if tag else {})}
    return {"image": {"registryId": call.services.identity.registry.registry_id,
                      "repositoryName": name, "imageId": image_id, "imageManifest": manifest,
                      "imageManifestMediaType": result.media_type}}


def list_image_referrers(call: Call) -> dict[str, Any]:
    call.check_registry()
    subject = call.required("subjectId", dict).get("imageDigest")
    if not isinstance(subject, str):
        raise InvalidParameter("Invalid parameter at 'subjectId.imageDigest': a digest is required")
    artifact_types = call.optional("filter", dict, {}).get("artifactTypes")
    rows, token = call.services.catalog.referrers(
        call.caller, call.required("repositoryName"), subject, artifact_types=artifact_types,
        next_token=call.optional("nextToken"), limit=call.max_results(50, 50))
    referrers = []
    for row in rows:
        entry = {"digest": row["digest"], "mediaType": row["media_type"], "size": row["size"],
                 "artifactStatus": "ACTIVE"}
        if row["artifact_type"]:
            entry["artifactType"] = row["artifact_type"]
        if row["annotations"]:
            entry["annotations"] = row["annotations"]
        referrers.append(entry)
    return _with_token({"referrers": referrers}, token)
