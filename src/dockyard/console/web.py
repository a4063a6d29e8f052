"""The console's request context: who is signed in, the form, rendering, redirects, flashes and
the security headers every response carries."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from dockyard.console.formatting import FILTERS, IMAGE_CONFIGS, SEVERITIES
from dockyard.console.sessions import (
    COOKIE_PATH,
    FLASH_COOKIE,
    Session,
    SessionCodec,
)
from dockyard.domain.models import Principal
from dockyard.services import Services

PREFIX = "/console"
TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
MAX_FORM_BYTES = 256 * 1024

SECURITY_HEADERS = {
    "content-security-policy": ("default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; form-action 'self'; base-uri 'none'; "
                                "frame-ancestors 'none'; connect-src 'self'"),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}


def make_environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(FILTERS)
    env.globals.update(SEVERITIES=SEVERITIES, PREFIX=PREFIX, IMAGE_CONFIGS=IMAGE_CONFIGS)
    return env


class FormTooLarge(Exception):
    pass


def parse_form(body: bytes) -> dict[str, list[str]]:
    if len(body) > MAX_FORM_BYTES:
        raise FormTooLarge()
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


@dataclass
class Ctx:
    """One console request, as a page handler sees it."""

    request: Request
    services: Services
    env: Environment
    codec: SessionCodec
    secure: bool
    params: dict[str, str] = field(default_factory=dict)
    form: dict[str, list[str]] = field(default_factory=dict)
    session: Session | None = None
    principal: Principal | None = None
    password_reset_required: bool = False  # a password session that must choose a new password
    flash: dict[str, str] | None = None
    request_id: str = field(default_factory=lambda: secrets.token_hex(8))
    _set_flash: dict[str, str] | None = None

    # --- input ------------------------------------------------------------------------------------
    def arg(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)

    def field(self, name: str, default: str = "") -> str:
        values = self.form.get(name)
        return values[0] if values else default

    def fields(self, name: str) -> list[str]:
        return list(self.form.get(name, []))

    def checked(self, name: str) -> bool:
        return self.field(name) in ("on", "true", "1", "yes")

    @property
    def client(self) -> str:
        client = self.request.scope.get("client")
        return str(client[0]) if client else "unknown"

    # --- permissions (hide what would fail; the services still decide) -----------------------------
    def can(self, action: str, repository: str | None = None) -> bool:
        if self.principal is None:
            return False
        address = self.services.repositories.address
        resource = address.repository_arn(repository) if repository else \
            f"arn:aws:ecr:{address.region}:{address.registry_id}:*"
        return self.services.repositories.authz.allowed(self.principal, action, resource)

    def can_iam(self, action: str, resource: str = "*") -> bool:
        if self.principal is None:
            return False
        return self.services.repositories.authz.allowed(self.principal, action, resource)

    # --- output -----------------------------------------------------------------------------------
    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        info = self.services.identity.registry
        csrf = self.codec.csrf_token(self.session.nonce) if self.session else ""
        html = self.env.get_template(template).render(
            ctx=self, principal=self.principal, registry=info, csrf=csrf, flash=self.flash,
            endpoint=self.services.settings.endpoint, request_id=self.request_id, **values)
        return self.finish(HTMLResponse(html, status))

    def redirect(self, url: str, message: str | None = None, kind: str = "ok") -> Response:
        if message:
            self._set_flash = {"m": message[:500], "k": kind}
        return self.finish(RedirectResponse(url, 303))

    def finish(self, response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if self._set_flash is not None:
            self.set_cookie(response, FLASH_COOKIE, self.codec.sign("flash", self._set_flash), 120)
        elif self.flash is not None:
            self.delete_cookie(response, FLASH_COOKIE)
        return response

    def set_cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, secure=self.secure,
                            httponly=True, samesite="lax")

    def delete_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path=COOKIE_PATH, secure=self.secure, httponly=True,
                               samesite="lax")
