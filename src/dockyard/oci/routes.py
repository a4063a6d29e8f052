"""The ``/v2/`` dispatcher: repository names contain slashes, so paths are matched from the end."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from dockyard.errors import (
    DockyardError,
    NameInvalid,
    RouteUnknown,
    Unauthenticated,
    Unsupported,
)
from dockyard.domain.audit import ALLOW, DENY
from dockyard.iam.request_context import RequestInfo, set_request
from dockyard.oci import blob_routes as blobs
from dockyard.oci import manifest_routes as manifests
from dockyard.oci.http import (
    API_VERSION,
    PRINCIPAL_KEY,
    caller,
    error_response,
    internal_error,
)
from dockyard.services import Services

Handler = Callable[..., Awaitable[Response]]
_NAME = r"(?P<name>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
_ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = [
    (re.compile(rf"^{_NAME}/manifests/(?P<ref>[^/]+)$"), {
        "GET": lambda r, s, name, ref: manifests.get_manifest(r, s, name, ref, head=False),
        "HEAD": lambda r, s, name, ref: manifests.get_manifest(r, s, name, ref, head=True),
        "PUT": manifests.put_manifest,
        "DELETE": manifests.delete_manifest,
    }),
    (re.compile(rf"^{_NAME}/blobs/uploads/?$"), {"POST": blobs.start_upload}),
    (re.compile(rf"^{_NAME}/blobs/uploads/(?P<upload_id>[^/]+)$"), {
        "PATCH": blobs.patch_upload,
        "PUT": blobs.put_upload,
        "GET": blobs.upload_status,
        "DELETE": blobs.cancel_upload,
    }),
    (re.compile(rf"^{_NAME}/blobs/(?P<ref>[^/]+)$"), {
        "GET": lambda r, s, name, ref: blobs.get_blob(r, s, name, ref, head=False),
        "HEAD": lambda r, s, name, ref: blobs.get_blob(r, s, name, ref, head=True),
        "DELETE": blobs.delete_blob,
    }),
    (re.compile(rf"^{_NAME}/tags/list$"), {"GET": manifests.list_tags}),
    (re.compile(rf"^{_NAME}/referrers/(?P<ref>[^/]+)$"), {"GET": manifests.referrers}),
]
_AUDITED_MANIFEST = {"GET": "ecr:BatchGetImage", "PUT": "ecr:PutImage",
                     "DELETE": "ecr:BatchDeleteImage"}
_SHAPES = re.compile(r"^(?P<name>.+)/(?:manifests/[^/]+|blobs/.*|tags/list|referrers/[^/]+)$")


class OciApp:
    """ASGI app for everything under ``/v2/``."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.realm = services.settings.endpoint
        self.audit = services.audit
        self.arn_prefix = services.repositories.address.repository_arn("")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        client = scope.get("client")
        set_request(RequestInfo(client[0] if client else None, scope.get("scheme") == "https"))
        error: str | None = None
        try:
            response = await self._dispatch(request, scope["path"][4:])
        except DockyardError as exc:
            error = exc.oci_code
            response = error_response(exc, self.realm)
        except Exception as exc:  # noqa: BLE001 - the edge turns anything else into a 500
            error = "UNKNOWN"
            response = internal_error(exc)
        if self.audit is not None:
            self._audit(request, scope["path"][4:], response.status_code, error)
        await response(scope, receive, send)

    def _audit(self, request: Request, path: str, status: int, error: str | None) -> None:
        """Record pushes, pulls and deletes (manifest PUT, GET, DELETE; blob DELETE)."""
        method = request.method
        if "/manifests/" in path:
            name = path.rsplit("/manifests/", 1)[0]
            action = _AUDITED_MANIFEST.get(method)
        elif method == "DELETE" and "/blobs/" in path and "/uploads/" not in path:
            name, action = path.rsplit("/blobs/", 1)[0], "ecr:BatchDeleteImage"
        else:
            return
        if action is None:
            return
        principal, access_key_id = request.scope.get(PRINCIPAL_KEY, (None, None))
        client = request.scope.get("client")
        self.audit.defer(
            action=action, decision=DENY if status in (401, 403) else ALLOW,
            event_source="registry", principal_arn=principal.arn if principal else None,
            access_key_id=access_key_id, source_ip=client[0] if client else None,
            user_agent=request.headers.get("user-agent"), resource=f"{self.arn_prefix}{name}",
            error_code=error)

    async def _dispatch(self, request: Request, path: str) -> Response:
        method = request.method
        if path == "":
            if method not in ("GET", "HEAD"):
                raise Unsupported("the API base supports GET and HEAD")
            if caller(request, self.services.identity) is None:
                raise Unauthenticated("authentication required")
            return Response(b"{}", 200, API_VERSION, media_type="application/json")
        if path == "_catalog":
            if method != "GET":
                raise Unsupported("the catalog supports GET")
            return await manifests.catalog(request, self.services)
        for pattern, handlers in _ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            handler = handlers.get(method)
            if handler is None:
                raise Unsupported(f"{method} is not supported on this endpoint")
            return await handler(request, self.services, **match.groupdict())
        if _SHAPES.match(path):
            raise NameInvalid("invalid repository name", {"path": path})
        raise RouteUnknown(f"no OCI endpoint at /v2/{path}", {"path": path})

