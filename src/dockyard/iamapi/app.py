"""ASGI app for the IAM and STS query APIs on ``POST /`` (form bodies with ``Action``/``Version``):
SigV4 authentication (credential scope ``iam`` or ``sts``), dispatch, XML responses and errors as
AWS sends them, and one audit record per call."""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dockyard.audit.log import ALLOW, DENY
from dockyard.errors import (
    AccessDenied,
    DockyardError,
    ExpiredToken,
    IncompleteSignature,
    InvalidParameter,
    InvalidSignature,
    NotFound,
    SizeInvalid,
    Unauthenticated,
    UnrecognizedClient,
    ValidationError,
)
from dockyard.iam.request_context import RequestInfo, set_request
from dockyard.iamapi.call import QueryCall
from dockyard.iamapi.operations import IAM_OPERATIONS, STS_OPERATIONS
from dockyard.iamapi.query import (
    IAM_VERSION,
    SERVICES,
    nest,
    parse_form,
    render_error,
    render_result,
)
from dockyard.services import Services

log = logging.getLogger("dockyard.iamapi")
CONTENT_TYPE = "text/xml"
MAX_BODY = 1024 * 1024
_OPERATIONS = {"iam": IAM_OPERATIONS, "sts": STS_OPERATIONS}
# IAM error codes that keep their own name and status on the query protocol.
_QUERY_CODES = {
    "NoSuchEntity": 404, "EntityAlreadyExists": 409, "DeleteConflict": 409, "LimitExceeded": 409,
    "MalformedPolicyDocument": 400, "InvalidInput": 400, "PasswordPolicyViolation": 400,
    "PackedPolicyTooLarge": 400, "InvalidUserType": 400,
}


class QueryError(Exception):
    """A protocol-level error (no such action, missing action) with its code and status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def query_error(exc: DockyardError, service: str) -> tuple[str, int]:
    """The query protocol's ``(Code, HTTP status)`` for one of Dockyard's errors."""
    if exc.aws_type in _QUERY_CODES:
        return exc.aws_type, _QUERY_CODES[exc.aws_type]
    for kind, code, status in (
            (ExpiredToken, "ExpiredToken", 403),
            (UnrecognizedClient, "InvalidClientTokenId", 403),
            (InvalidSignature, "SignatureDoesNotMatch", 403),
            (IncompleteSignature, "IncompleteSignature", 400),
            (Unauthenticated, "MissingAuthenticationToken", 403),
            (AccessDenied, "AccessDenied", 403),
            (ValidationError, "ValidationError", 400),
            (NotFound, "NoSuchEntity", 404),
            (InvalidParameter, "InvalidInput" if service == "iam" else "InvalidParameterValue",
             400)):
        if isinstance(exc, kind):
            return code, status
    return ("ServiceFailure" if service == "iam" else "InternalFailure"), 500


def _audit_resource(account: str, service: str, params: dict[str, Any]) -> str | None:
    for field in ("PolicyArn", "RoleArn"):
        if isinstance(params.get(field), str):
            return params[field]
    for field, kind in (("RoleName", "role"), ("GroupName", "group"), ("UserName", "user")):
        if isinstance(params.get(field), str):
            return f"arn:aws:iam::{account}:{kind}/{params[field]}"
    if isinstance(params.get("PolicyName"), str) and service == "iam":
        return f"arn:aws:iam::{account}:policy/{params['PolicyName']}"
    return None


class IamQueryApp:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        request_id = str(uuid.uuid4())
        client = scope.get("client")
        info = RequestInfo(client[0] if client else None, scope.get("scheme") == "https",
                           request.headers.get("user-agent"), request_id)
        set_request(info)
        state: dict[str, Any] = {"service": "iam", "version": IAM_VERSION, "params": {}}
        try:
            response = await self._handle(request, scope, request_id, state)
        except (DockyardError, QueryError) as exc:
            if isinstance(exc, QueryError):
                code, status, message = exc.code, exc.status, exc.message
            else:
                code, status = query_error(exc, state["service"])
                message = exc.message
            state["error"] = code
            response = Response(render_error(code, message, status, request_id, state["version"]),
                                status, media_type=CONTENT_TYPE)
        except Exception:  # noqa: BLE001 - the edge turns anything else into a 500
            log.exception("unhandled error request_id=%s", request_id)
            state["error"] = "ServiceFailure"
            response = Response(render_error("ServiceFailure",
                                             f"internal error (request id {request_id})", 500,
                                             request_id, state["version"]),
                                500, media_type=CONTENT_TYPE)
        response.headers["x-amzn-RequestId"] = request_id
        self._audit(state, info, request_id)
        await response(scope, receive, send)

    async def _handle(self, request: Request, scope: Scope, request_id: str,
                      state: dict[str, Any]) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise SizeInvalid(f"request body exceeds {MAX_BODY} bytes")
        flat = parse_form(bytes(body))
        action, version = flat.pop("Action", None), flat.pop("Version", None)
        state["action"] = action
        if version in SERVICES:
            state["service"], state["version"] = SERVICES[version], version
        if not action:
            raise QueryError("MissingAction", "Missing Action")
        if version not in SERVICES:
            raise QueryError("InvalidAction",
                             f"Could not find operation {action} for version {version or 'NO_VERSION_SPECIFIED'}")
        service = state["service"]
        operation = _OPERATIONS[service].get(action)
        if operation is None:
            raise QueryError("InvalidAction", f"Could not find operation {action} for version "
                                              f"{version}")
        params = nest(flat)
        state["params"] = params
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        if "authorization" not in headers:
            raise Unauthenticated("Request is missing Authentication Token")
        identity = self.services.identity
        principal, access_key_id = await run_in_threadpool(
            lambda: identity.authenticate_sigv4(
                method=request.method,
                raw_path=scope.get("raw_path", b"/").decode("latin-1").split("?")[0] or "/",
                raw_query=scope.get("query_string", b"").decode("latin-1"), headers=headers,
                payload_sha256=hashlib.sha256(body).hexdigest(), service=service))
        state["principal"], state["access_key_id"] = principal.arn, access_key_id
        call = QueryCall(principal, access_key_id, self.services, params)
        result = await run_in_threadpool(operation, call)
        return Response(render_result(action, version, result, request_id), 200,
                        media_type=CONTENT_TYPE)

    def _audit(self, state: dict[str, Any], info: RequestInfo, request_id: str) -> None:
        audit = getattr(self.services, "audit", None)
        if audit is None or not state.get("action"):
            return
        error = state.get("error")
        denied = error in ("AccessDenied", "InvalidClientTokenId", "SignatureDoesNotMatch",
                           "MissingAuthenticationToken", "IncompleteSignature", "ExpiredToken")
        service = state["service"]
        try:
            account = self.services.identity.registry.registry_id
        except Exception:  # noqa: BLE001 - no registry yet: record without an account
            account = ""
        audit.record(action=f"{service}:{state['action']}", decision=DENY if denied else ALLOW,
                     event_source=f"{service}.amazonaws.com",
                     principal_arn=state.get("principal"), access_key_id=state.get("access_key_id"),
                     source_ip=info.source_ip, user_agent=info.user_agent,
                     resource=_audit_resource(account, service, state["params"]) or (
                         state.get("principal") if state["action"] == "ChangePassword" else None),
                     error_code=error, request_id=request_id)
