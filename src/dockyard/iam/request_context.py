"""Facts about the current HTTP request that policy conditions may test (``aws:SourceIp``,
``aws:SecureTransport``), set by the front door for the duration of one request."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestInfo:
    source_ip: str | None = None
    secure_transport: bool = False
    user_agent: str | None = None
    request_id: str | None = None
    access_key_id: str | None = None


_current: ContextVar[RequestInfo] = ContextVar("dockyard_request", default=RequestInfo())


def current_request() -> RequestInfo:
    return _current.get()


def set_request(info: RequestInfo) -> None:
    """Set for the rest of the current task (each ASGI request runs in its own task)."""
    _current.set(info)
