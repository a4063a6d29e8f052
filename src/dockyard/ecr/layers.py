"""ECR layer operations: BatchCheckLayerAvailability, InitiateLayerUpload, UploadLayerPart,
CompleteLayerUpload, GetDownloadUrlForLayer."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from typing import Any

from dockyard.domain.digest import Digest
from dockyard.ecr.context import Call
from dockyard.errors import DockyardError, InvalidParameter
from dockyard.registry.uploads import ByteRange

PART_SIZE = 10 * 1024 * 1024  # what InitiateLayerUpload advertises, as ECR does
MAX_PART = 20 * 1024 * 1024  # botocore's LayerPartBlob limit


def batch_check_layer_availability(call: Call) -> dict[str, Any]:
    call.check_registry()
    raw = call.required("layerDigests", list)
    if not 1 <= len(raw) <= 100:
        raise InvalidParameter("Invalid parameter at 'layerDigests': give 1-100 digests")
    failures, digests = [], []
    for text in raw:
        try:
            digests.append(Digest.parse(text))
        except DockyardError:
            failures.append({"layerDigest": text, "failureCode": "InvalidLayerDigest",
                             "failureReason": "Invalid layer digest"})
    sizes = call.services.blobs.check_layers(call.caller, call.required("repositoryName"), digests)
    layers = []
    for digest, size in sizes.items():
        layer: dict[str, Any] = {"layerDigest": digest,
                                 "layerAvailability": "AVAILABLE" if size is not None else "UNAVAILABLE"}
        if size is not None:
            layer["layerSize"] = size
            layer["mediaType"] = "application/vnd.docker.image.rootfs.diff.tar.gzip"
        layers.append(layer)
    return {"layers": layers, "failures": failures}


def initiate_layer_upload(call: Call) -> dict[str, Any]:
    call.check_registry()
    upload = call.services.uploads.start(call.caller, call.required("repositoryName"))
    return {"uploadId": upload.id, "partSize": PART_SIZE}


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def upload_layer_part(call: Call) -> dict[str, Any]:
    call.check_registry()
    name, upload_id = call.required("repositoryName"), call.required("uploadId")
    first, last = call.required("partFirstByte", int), call.required("partLastByte", int)
    try:
        data = base64.b64decode(call.required("layerPartBlob"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter("Invalid parameter at 'layerPartBlob': not valid base64") from None
    if not data or len(data) > MAX_PART:
        raise InvalidParameter(f"Invalid parameter at 'layerPartBlob': parts hold 1-{MAX_PART} bytes")
    if first < 0 or last < first:
        raise InvalidParameter("Invalid parameter: partLastByte must not be before partFirstByte")
    upload = await call.services.uploads.append(call.caller, name, upload_id, _one(data),
                                                ByteRange(first, last))
    return {"registryId": call.services.identity.registry.registry_id, "repositoryName": name,
            "uploadId": upload_id, "lastByteReceived": upload.size - 1}


async def complete_layer_upload(call: Call) -> dict[str, Any]:
    call.check_registry()
    name, upload_id = call.required("repositoryName"), call.required("uploadId")
    digests = call.required("layerDigests", list)
    if len(digests) != 1:
        raise InvalidParameter("Invalid parameter at 'layerDigests': give exactly one digest")
    digest = await call.services.uploads.complete_layer(call.caller, name, upload_id,
                                                        Digest.parse(digests[0]))
    return {"registryId": call.services.identity.registry.registry_id, "repositoryName": name,
            "uploadId": upload_id, "layerDigest": str(digest)}


def get_download_url_for_layer(call: Call) -> dict[str, Any]:
    call.check_registry()
    digest = Digest.parse(call.required("layerDigest"))
    url = call.services.blobs.download_url(call.caller, call.required("repositoryName"), digest)
    if url.startswith("/"):  # a path on this endpoint (no presigned URL of the blob store)
        url = call.services.settings.endpoint + url
    return {"downloadUrl": url, "layerDigest": str(digest)}
