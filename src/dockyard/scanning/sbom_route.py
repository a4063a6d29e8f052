"""``GET /dockyard/sbom/<repository>:<tag>`` (or ``@<digest>``): the SBOM of a scanned image.

``?format=cyclonedx`` (default, CycloneDX 1.6 JSON) or ``?format=spdx`` (SPDX 2.3 JSON). The
caller authenticates as docker does (``Basic AWS:<aws ecr get-login-password>``) and needs
``ecr:DescribeImageScanFindings`` on the repository. The SBOM is the inventory a scan stored; an
image never scanned answers 404 (the route never reads layers itself).
"""

from __future__ import annotations

import json
import logging
import uuid
from urllib.parse import unquote

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dockyard.errors import DockyardError, InvalidParameter
from dockyard.scanning import sbom
from dockyard.scanning.commands import parse_image_reference
from dockyard.scanning.service import ScanService, merged_inventory

PREFIX = "/dockyard/sbom/"
MEDIA_TYPES = {sbom.CYCLONEDX: "application/vnd.cyclonedx+json",
               sbom.SPDX: "application/spdx+json"}
log = logging.getLogger("dockyard.scanning")


class SbomRoute:
    def __init__(self, scanning: ScanService, authenticate_basic) -> None:  # type: ignore[no-untyped-def]
        self.scanning = scanning
        self.authenticate_basic = authenticate_basic

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await self._handle(request, scope["path"])
        except DockyardError as exc:
            response = _error(exc)
        except Exception:  # noqa: BLE001 - the edge turns anything else into a 500
            request_id = uuid.uuid4().hex
            log.exception("sbom route failed request_id=%s", request_id)
            response = Response(json.dumps({"errors": [{"code": "UNKNOWN", "message":
                                f"internal error (request id {request_id})"}]}), 500,
                                media_type="application/json")
        await response(scope, receive, send)

    async def _handle(self, request: Request, path: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise InvalidParameter("only GET is supported")
        fmt = request.query_params.get("format", sbom.CYCLONEDX)
        if fmt not in sbom.FORMATS:
            raise InvalidParameter(f"unknown format {fmt!r}: use cyclonedx or spdx")
        caller = self._caller(request)
        name, reference = parse_image_reference(unquote(path[len(PREFIX):]))
        if not name:
            raise InvalidParameter("give the image as <repository>:<tag> or <repository>@<digest>")
        resolved, found = await anyio.to_thread.run_sync(
            lambda: self.scanning.inventory(caller, name, reference, build=False))
        document = sbom.render(fmt, merged_inventory(found), name, str(resolved.image_id.digest),
                               self.scanning.clock.now())
        return Response(document, 200, media_type=MEDIA_TYPES[fmt])

    def _caller(self, request: Request):  # type: ignore[no-untyped-def]
        found = self.authenticate_basic(request.headers.get("authorization"))
        return found[0] if found else None

def _error(exc: DockyardError) -> Response:
    headers = {}
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="dockyard"'
    body = {"errors": [{"code": exc.oci_code, "message": exc.message, "type": exc.aws_type}]}
    return Response(json.dumps(body), exc.http_status, headers, media_type="application/json")
