"""ASGI app for the AWS JSON 1.1 protocol on ``POST /``: SigV4 authentication, dispatch, errors."""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dockyard.ecr.context import Call
from dockyard.ecr.operations import IMPLEMENTED, PENDING
from dockyard.errors import (
    DockyardError,
    SizeInvalid,
    Unauthenticated,
    UnknownOperation,
    ValidationError,
)
from dockyard.domain.audit import ALLOW, DENY
from dockyard.iam.request_context import RequestInfo, current_request, set_request
from dockyard.services import Services

log = logging.getLogger("dockyard.ecr")
TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_BODY = 32 * 1024 * 1024


class EcrApp:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        request_id = str(uuid.uuid4())
        client = scope.get("client")
        set_request(RequestInfo(client[0] if client else None, scope.get("scheme") == "https",
                                request.headers.get("user-agent"), request_id))
        seen: dict[str, Any] = {}
        error: str | None = None
        try:
            response = await self._handle(request, scope, seen)
        except DockyardError as exc:
            error = exc.aws_type
            response = _error(exc.aws_type, exc.message, exc.aws_status)
        except Exception:  # noqa: BLE001 - the edge turns anything else into a ServerException
            log.exception("unhandled error request_id=%s", request_id)
            error = "ServerException"
            response = _error("ServerException", f"internal error (request id {request_id})", 500)
        response.headers["x-amzn-RequestId"] = request_id
        if self.services.audit is not None:
            self._audit(seen, error, request, request_id)
        await response(scope, receive, send)

    def _audit(self, seen: dict[str, Any], error: str | None, request: Request,
               request_id: str) -> None:
        principal = seen.get("principal")
        name = seen.get("repository")
        address = self.services.repositories.address
        denied = error in ("AccessDeniedException", "InvalidSignatureException",
                           "UnrecognizedClientException", "MissingAuthenticationTokenException",
                           "IncompleteSignatureException", "ExpiredTokenException")
        self.services.audit.defer(  # type: ignore[union-attr]
            action=f"ecr:{seen.get('operation', 'Unknown')}", decision=DENY if denied else ALLOW,
            event_source="ecr.amazonaws.com", principal_arn=principal.arn if principal else None,
            access_key_id=seen.get("access_key_id"), source_ip=current_request().source_ip,
            user_agent=request.headers.get("user-agent"),
            resource=address.repository_arn(name) if isinstance(name, str) else None,
            error_code=error, request_id=request_id)

    async def _handle(self, request: Request, scope: Scope, seen: dict[str, Any]) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise SizeInvalid(f"request body exceeds {MAX_BODY} bytes")
        headers = {}
        for name, value in request.headers.items():
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        target = headers.get("x-amz-target", "")
        seen["operation"] = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else target
        if "authorization" not in headers:
            raise Unauthenticated("Missing Authentication Token")
        principal, access_key_id = self.services.identity.authenticate_sigv4(
            method=request.method, raw_path=scope.get("raw_path", b"/").decode("latin-1").split("?")[0]
            or "/", raw_query=scope.get("query_string", b"").decode("latin-1"), headers=headers,
            payload_sha256=hashlib.sha256(body).hexdigest())
        seen.update(principal=principal, access_key_id=access_key_id)
        if not target.startswith(TARGET_PREFIX):
            raise UnknownOperation(f"Unknown operation {target!r}")
        name = target[len(TARGET_PREFIX):]
        operation = IMPLEMENTED.get(name)
        if operation is None:
            detail = f" (planned in issue #{PENDING[name]})" if name in PENDING else ""
            raise UnknownOperation(f"Operation {name} is not supported by this registry{detail}")
        try:
            params = json.loads(body) if body else {}
        except (ValueError, RecursionError):
            raise ValidationError("Request body is not valid JSON") from None
        if not isinstance(params, dict):
            raise ValidationError("Request body must be a JSON object")
        seen["repository"] = params.get("repositoryName")
        result = operation(Call(principal, access_key_id, self.services, params))
        if inspect.isawaitable(result):
            result = await result
        return Response(json.dumps(result), 200, media_type=CONTENT_TYPE)


def _error(aws_type: str, message: str, status: int) -> Response:
    return Response(json.dumps({"__type": aws_type, "message": message}), status,
                    {"x-amzn-ErrorType": aws_type}, media_type=CONTENT_TYPE)



