"""OCI blob endpoints: GET/HEAD/DELETE blobs, and the upload protocol (POST, PATCH, PUT, GET, DELETE)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse

from dockyard.domain.digest import Digest
from dockyard.errors import DigestInvalid, RangeInvalid, RangeNotSatisfiable, SizeInvalid
from dockyard.oci.http import API_VERSION, caller
from dockyard.services import Services
from dockyard.registry.blobs import CHECK, DOWNLOAD
from dockyard.registry.uploads import ByteRange

_CONTENT_RANGE = re.compile(r"^(?:bytes )?(\d+)-(\d+)(?:/(?:\d+|\*))?$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
SMALL_BLOB = 1024 * 1024  # monolithic uploads up to this size are verified in memory


def _empty(status: int, headers: dict[str, str]) -> Response:
    return Response(b"", status, {**API_VERSION, **headers})


def _upload_headers(name: str, upload_id: str, size: int) -> dict[str, str]:
    return {
        "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
        "Range": f"0-{max(size - 1, 0)}",
        "Docker-Upload-UUID": upload_id,
    }


def _content_range(request: Request) -> ByteRange | None:
    header = request.headers.get("content-range")
    if header is None:
        return None
    match = _CONTENT_RANGE.match(header.strip())
    if match is None:
        raise RangeInvalid(f"malformed Content-Range {header!r}: expected <start>-<end>")
    start, end = int(match[1]), int(match[2])
    if end < start:
        raise RangeInvalid(f"Content-Range {header!r} ends before it starts")
    return ByteRange(start, end)


def _digest_param(request: Request) -> Digest:
    value = request.query_params.get("digest")
    if not value:
        raise DigestInvalid("the digest query parameter is required to complete an upload")
    return Digest.parse(value)


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        try:
            return int(length) > 0
        except ValueError:
            raise SizeInvalid(f"invalid Content-Length {length!r}") from None
    return "chunked" in request.headers.get("transfer-encoding", "")


async def get_blob(request: Request, services: Services, name: str, ref: str, head: bool) -> Response:
    digest = Digest.parse(ref)
    params = request.query_params
    if "signature" in params and "authorization" not in request.headers:
        size = services.blobs.stat_signed(name, digest, params.get("expires", ""), params["signature"])
    else:
        who = caller(request, services.identity)
        size = services.blobs.stat(who, name, digest, action=CHECK if head else DOWNLOAD)
    headers = {**API_VERSION, "Docker-Content-Digest": str(digest), "Accept-Ranges": "bytes"}
    if head:
        headers["Content-Length"] = str(size)
        return Response(b"", 200, headers, media_type="application/octet-stream")
    redirect = services.blobs.redirect_url(digest)
    if redirect is not None:  # the client fetches the bytes from the blob store (S3) directly
        return Response(b"", 307, {**API_VERSION, "Location": redirect,
                                   "Docker-Content-Digest": str(digest)})
    path = services.blobs.local_path(digest)
    if path is not None:
        _check_range(request, size)
        return FileResponse(path, headers=headers, media_type="application/octet-stream",
                            stat_result=None)
    return _stream_blob(request, services, digest, size, headers)


def _check_range(request: Request, size: int) -> tuple[int, int] | None:
    header = request.headers.get("range")
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    if match is None or (not match[1] and not match[2]):
        raise RangeNotSatisfiable(f"malformed Range {header!r}: expected bytes=<start>-<end>",
                                  {"size": size})
    if not match[1]:
        start, end = max(size - int(match[2]), 0), size - 1
    else:
        start, end = int(match[1]), min(int(match[2]) if match[2] else size - 1, size - 1)
    if start >= size or end < start:
        raise RangeNotSatisfiable(f"Range {header!r} not satisfiable for {size} bytes", {"size": size})
    return start, end


def _stream_blob(request: Request, services: Services, digest: Digest, size: int,
                 headers: dict[str, str]) -> Response:
    byte_range = _check_range(request, size)
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(services.blobs.read(digest), 200, headers,
                                 media_type="application/octet-stream")
    start, end = byte_range
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    return StreamingResponse(services.blobs.read(digest, start, end + 1), 206, headers,
                             media_type="application/octet-stream")


async def delete_blob(request: Request, services: Services, name: str, ref: str) -> Response:
    services.blobs.delete(caller(request, services.identity), name, Digest.parse(ref))
    return _empty(202, {})


async def start_upload(request: Request, services: Services, name: str) -> Response:
    who = caller(request, services.identity)
    params = request.query_params
    if "mount" in params:
        digest = Digest.parse(params["mount"])
        upload = services.uploads.mount(who, name, digest, params.get("from"))
        if upload is None:
            return _empty(201, {"Location": f"/v2/{name}/blobs/{digest}",
                                "Docker-Content-Digest": str(digest)})
        return _empty(202, _upload_headers(name, upload.id, 0))
    if "digest" in params:
        digest = _digest_param(request)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) <= SMALL_BLOB:
            await services.uploads.put_small(who, name, digest, await request.body())
        else:
            upload = services.uploads.start(who, name)
            await services.uploads.complete(who, name, upload.id, digest, _stream(request))
        return _empty(201, {"Location": f"/v2/{name}/blobs/{digest}",
                            "Docker-Content-Digest": str(digest)})
    upload = services.uploads.start(who, name)
    return _empty(202, _upload_headers(name, upload.id, 0))


async def _stream(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def patch_upload(request: Request, services: Services, name: str, upload_id: str) -> Response:
    who = caller(request, services.identity)
    upload = await services.uploads.append(who, name, upload_id, _stream(request),
                                           _content_range(request))
    return _empty(202, _upload_headers(name, upload.id, upload.size))


async def put_upload(request: Request, services: Services, name: str, upload_id: str) -> Response:
    who = caller(request, services.identity)
    digest = _digest_param(request)
    content_range = _content_range(request)
    length = request.headers.get("content-length")
    if content_range is None and length is not None and length.isdigit() and \
            0 < int(length) <= SMALL_BLOB:  # POST then PUT with the whole (small) blob
        await services.uploads.complete_small(who, name, upload_id, digest, await request.body())
    else:
        chunks = _stream(request) if _has_body(request) else None
        await services.uploads.complete(who, name, upload_id, digest, chunks, content_range)
    return _empty(201, {"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": str(digest)})


async def upload_status(request: Request, services: Services, name: str, upload_id: str) -> Response:
    upload = services.uploads.status(caller(request, services.identity), name, upload_id)
    return _empty(204, _upload_headers(name, upload.id, upload.size))


async def cancel_upload(request: Request, services: Services, name: str, upload_id: str) -> Response:
    services.uploads.cancel(caller(request, services.identity), name, upload_id)
    return _empty(204, {})

