"""OCI edge plumbing: who is calling (Basic ``AWS:<password>``), and errors in the spec's format."""

from __future__ import annotations

import json
import logging
import uuid

from starlette.requests import Request
from starlette.responses import Response

from dockyard.domain.models import Principal
from dockyard.errors import DockyardError, RangeNotSatisfiable
from dockyard.iam.identity import IdentityService

log = logging.getLogger("dockyard.oci")
API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}
PRINCIPAL_KEY = "dockyard.principal"  # (caller, access key id), kept on the ASGI scope


def caller(request: Request, identity: IdentityService) -> Principal | None:
    """The authenticated principal, or None for an anonymous request."""
    found = identity.authenticate_basic(request.headers.get("authorization"))
    if found is None:
        return None
    request.scope[PRINCIPAL_KEY] = found
    return found[0]


def error_response(exc: DockyardError, realm: str) -> Response:
    body = {"errors": [{"code": exc.oci_code, "message": exc.message, "detail": exc.detail or {}}]}
    headers = dict(API_VERSION)
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = f'Basic realm="{realm}/",service="ecr.amazonaws.com"'
    if exc.http_status == 416 and isinstance(exc.detail, dict) and "size" in exc.detail:
        size = exc.detail["size"]
        if isinstance(exc, RangeNotSatisfiable):
            headers["Content-Range"] = f"bytes */{size}"
        else:
            headers["Range"] = f"0-{max(size - 1, 0)}"
    return Response(json.dumps(body), exc.http_status, headers, media_type="application/json")


def internal_error(exc: BaseException) -> Response:
    request_id = uuid.uuid4().hex
    log.error("unhandled error request_id=%s", request_id, exc_info=exc)
    body = {"errors": [{"code": "UNKNOWN", "message": f"internal error (request id {request_id})",
                        "detail": {}}]}
    return Response(json.dumps(body), 500, API_VERSION, media_type="application/json")
