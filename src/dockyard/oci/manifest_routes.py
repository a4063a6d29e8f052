"""OCI manifest endpoints and content discovery: manifests, tags list, referrers, catalog."""

from __future__ import annotations

import json
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from dockyard.domain.digest import Digest
from dockyard.domain.manifest import INDEX_MEDIA_TYPES, MAX_MANIFEST_BYTES, OCI_INDEX
from dockyard.errors import ManifestTooLarge, ManifestUnknown, PaginationInvalid
from dockyard.oci.http import API_VERSION, caller
from dockyard.registry.images import Reference
from dockyard.services import Services

MAX_PAGE = 10_000


def _accepts(request: Request, media_type: str) -> bool:
    accept = ",".join(request.headers.getlist("accept"))  # clients send one line per type
    if not accept:
        return True
    offered = {part.split(";", 1)[0].strip().lower() for part in accept.split(",")}
    return media_type in offered or "*/*" in offered or "" in offered


async def get_manifest(request: Request, services: Services, name: str, ref: str,
                       head: bool) -> Response:
    who = caller(request, services.identity)
    found = services.images.manifest(who, name, Reference.parse(ref), with_body=not head)
    if found.media_type in INDEX_MEDIA_TYPES and not _accepts(request, found.media_type):
        raise ManifestUnknown(
            f"{found.media_type} found, but the Accept header does not allow it")
    headers = {**API_VERSION, "Docker-Content-Digest": found.digest, "Content-Type": found.media_type,
               "ETag": f'"{found.digest}"'}
    if head:
        headers["Content-Length"] = str(found.size)
        return Response(b"", 200, headers)
    return Response(found.body, 200, headers)


async def put_manifest(request: Request, services: Services, name: str, ref: str) -> Response:
    who = caller(request, services.identity)
    reference = Reference.parse(ref)
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge(f"manifest is {length} bytes; the limit is {MAX_MANIFEST_BYTES}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_MANIFEST_BYTES:
            raise ManifestTooLarge(f"manifest exceeds the limit of {MAX_MANIFEST_BYTES} bytes")
    result = services.images.put(who, name, reference, bytes(body), request.headers.get("content-type"))
    headers = {**API_VERSION, "Location": f"/v2/{name}/manifests/{result.digest}",
               "Docker-Content-Digest": result.digest}
    if result.subject:
        headers["OCI-Subject"] = result.subject
    return Response(b"", 201, headers)


async def delete_manifest(request: Request, services: Services, name: str, ref: str) -> Response:
    services.images.delete(caller(request, services.identity), name, Reference.parse(ref))
    return Response(b"", 202, API_VERSION)


def _page(request: Request) -> tuple[str | None, int | None]:
    n_text, last = request.query_params.get("n"), request.query_params.get("last")
    if n_text is None:
        return last, None
    if not n_text.isdigit() or int(n_text) > MAX_PAGE:
        raise PaginationInvalid(f"invalid number of results requested: n must be 0-{MAX_PAGE}",
                                {"n": n_text})
    return last, int(n_text)


def _paged(request: Request, items: list[str], n: int | None, path: str) -> tuple[list[str], dict]:
    headers = dict(API_VERSION)
    if n is not None and len(items) > n:
        items = items[:n]
        headers["Link"] = f'<{path}?last={quote(items[-1])}&n={n}>; rel="next"' if items else ""
    return items, headers


async def list_tags(request: Request, services: Services, name: str) -> Response:
    who = caller(request, services.identity)
    last, n = _page(request)
    if n == 0:
        return _json({"name": name, "tags": []}, API_VERSION)
    tags = services.images.tags(who, name, last=last, n=None if n is None else n + 1)
    tags, headers = _paged(request, tags, n, f"/v2/{name}/tags/list")
    return _json({"name": name, "tags": tags}, headers)


async def catalog(request: Request, services: Services) -> Response:
    who = caller(request, services.identity)
    last, n = _page(request)
    if n == 0:
        return _json({"repositories": []}, API_VERSION)
    repos, _ = services.repositories.describe(
        who, max_results=MAX_PAGE if n is None else n + 1, after=last, deny_if_none=False)
    names, headers = _paged(request, [r.name for r in repos], n, "/v2/_catalog")
    return _json({"repositories": names}, headers)


async def referrers(request: Request, services: Services, name: str, ref: str) -> Response:
    who = caller(request, services.identity)
    artifact_type = request.query_params.get("artifactType")
    body = services.images.referrers(who, name, Digest.parse(ref), artifact_type)
    headers = dict(API_VERSION)
    if artifact_type is not None:
        headers["OCI-Filters-Applied"] = "artifactType"
    return Response(body, 200, headers, media_type=OCI_INDEX)


def _json(doc: object, headers: dict[str, str]) -> Response:
    return Response(json.dumps(doc), 200, {k: v for k, v in headers.items() if v},
                    media_type="application/json")
