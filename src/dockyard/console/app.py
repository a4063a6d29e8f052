"""The web console: the fourth front door, server-rendered, at ``/`` and ``/console``.

It calls the core services with the signed-in principal, so every check the APIs make applies
here too. Routing is a small table of regular expressions (repository names contain slashes, so
every page of a repository sits after a ``/-/`` separator that no repository name can contain).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from dockyard.console import auth_pages, iam_pages, image_pages, policy_pages, repository_pages
from dockyard.console.sessions import (
    FLASH_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SessionCodec,
)
from dockyard.console.signin import Authenticator
from dockyard.console.web import PREFIX, STATIC, Ctx, FormTooLarge, make_environment, parse_form
from dockyard.errors import (
    AccessDenied,
    DockyardError,
    NotFound,
    Unauthenticated,
)
from dockyard.services import Services

log = logging.getLogger("dockyard.console")
Handler = Callable[[Ctx], Response]

_PARTS = {
    # ECR's name pattern: no path component can be "-", which is what separates the pages
    "name": r"(?P<name>[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*)",
    "digest": r"(?P<digest>[a-z0-9+._-]+:[a-zA-Z0-9=_-]+)",
    "user": r"(?P<user>[\w+=,.@-]+)",
    "group": r"(?P<group>[\w+=,.@-]+)",
    "key": r"(?P<key>[A-Z0-9]+)",
}


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    public: bool = False


def route(method: str, template: str, handler: Handler, public: bool = False) -> Route:
    regex = re.escape(PREFIX + template)
    for part, expression in _PARTS.items():
        regex = regex.replace(re.escape("{" + part + "}"), expression)
    return Route(method, re.compile(f"^{regex}$"), handler, public)


REPO = "/repositories/{name}/-"
ROUTES = [
    route("GET", "/signin", auth_pages.signin_form, public=True),
    route("POST", "/signin", auth_pages.signin, public=True),
    route("POST", "/signout", auth_pages.signout, public=True),
    route("GET", auth_pages.CHANGE_PASSWORD, auth_pages.change_password_form),
    route("POST", auth_pages.CHANGE_PASSWORD, auth_pages.change_password),
    route("GET", "/", repository_pages.home),
    route("GET", "/repositories", repository_pages.repositories),
    route("GET", "/repositories/new", repository_pages.new_repository),
    route("POST", "/repositories/new", repository_pages.create_repository),
    route("GET", "/repositories/{name}", repository_pages.repository_home),
    route("GET", REPO + "/images", image_pages.images),
    route("POST", REPO + "/images/delete", image_pages.delete_images),
    route("GET", REPO + "/images/{digest}", image_pages.image),
    route("POST", REPO + "/images/{digest}/scan", image_pages.scan),
    route("GET", REPO + "/push-commands", repository_pages.push_commands_page),
    route("GET", REPO + "/settings", repository_pages.settings_form),
    route("POST", REPO + "/settings", repository_pages.save_settings),
    route("GET", REPO + "/delete", repository_pages.delete_form),
    route("POST", REPO + "/delete", repository_pages.delete_repository),
    route("GET", REPO + "/lifecycle", policy_pages.lifecycle),
    route("POST", REPO + "/lifecycle", policy_pages.lifecycle_action),
    route("GET", REPO + "/permissions", policy_pages.permissions),
    route("POST", REPO + "/permissions", policy_pages.permissions_action),
    route("GET", "/iam/users", iam_pages.users),
    route("POST", "/iam/users", iam_pages.create_user),
    route("GET", "/iam/users/{user}", iam_pages.user),
    route("POST", "/iam/users/{user}/access-keys", iam_pages.create_access_key),
    route("POST", "/iam/users/{user}/access-keys/{key}", iam_pages.access_key_action),
    route("POST", "/iam/users/{user}/login-profile", iam_pages.login_profile_action),
    route("POST", "/iam/users/{user}/groups", iam_pages.user_groups_action),
    route("GET", "/iam/groups", iam_pages.groups),
    route("POST", "/iam/groups", iam_pages.create_group),
]
# what a session whose password must be reset may still open
_RESET_PAGES = (auth_pages.change_password_form, auth_pages.change_password)


class ConsoleApp:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.env = make_environment()
        self.auth = Authenticator(services)
        self.static = StaticFiles(directory=str(STATIC))
        self._codec: SessionCodec | None = None

    @property
    def codec(self) -> SessionCodec:
        if self._codec is None:
            identity = self.services.identity
            found = identity.store.registry()
            assert found is not None, "the registry is bootstrapped before the app is built"
            self._codec = SessionCodec(identity.box.decrypt(found[1]))
        return self._codec

    def _now(self) -> int:
        return int(self.services.identity.clock.now().timestamp())

    def _secure(self, scope: Scope) -> bool:
        return scope.get("scheme") == "https" or self.services.settings.endpoint.startswith(
            "https://")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path in ("/", PREFIX):
            await RedirectResponse(PREFIX + "/", 307 if scope["method"] != "GET" else 302)(
                scope, receive, send)
            return
        if path.startswith(PREFIX + "/static/"):
            await self.static({**scope, "path": path[len(PREFIX + "/static"):],
                               "root_path": ""}, receive, send)
            return
        scope["dockyard.console"] = self
        request = Request(scope, receive)
        ctx = Ctx(request, self.services, self.env, self.codec, self._secure(scope),
                  params={})
        response = await self._handle(ctx, scope)
        await response(scope, receive, send)

    async def _handle(self, ctx: Ctx, scope: Scope) -> Response:
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        found = None
        allowed = False
        for candidate in ROUTES:
            match = candidate.pattern.match(scope["path"])
            if match:
                allowed = True
                if candidate.method == method:
                    found = (candidate, match)
                    break
        if found is None:
            if allowed:
                return ctx.finish(PlainTextResponse("method not allowed\n", 405))
            return self._not_found(ctx)
        entry, match = found
        ctx.params = {k: v for k, v in match.groupdict().items() if v is not None}
        request = ctx.request
        ctx.session = self.codec.verify(request.cookies.get(SESSION_COOKIE), self._now())
        if ctx.session is not None:
            resolved = self.auth.resolve(ctx.session)
            ctx.principal = resolved.principal
            ctx.password_reset_required = resolved.password_reset_required
            if ctx.principal is None:
                ctx.session = None
        ctx.flash = self.codec.unsign("flash", request.cookies.get(FLASH_COOKIE))
        if method == "POST":
            if not _same_origin(request):
                return self._forbidden(ctx, "The request came from another site.")
            try:
                ctx.form = parse_form(await request.body())
            except FormTooLarge:
                return ctx.finish(PlainTextResponse("form too large\n", 413))
        if not entry.public:
            if ctx.principal is None:
                return self._to_signin(ctx, method)
            if method == "POST" and not self.codec.check_csrf(
                    ctx.session.nonce if ctx.session else None, ctx.field("csrf")):
                return self._forbidden(ctx, "The form expired or did not come from this console "
                                            "(CSRF check failed). Reload the page and try again.")
            if ctx.password_reset_required and entry.handler not in _RESET_PAGES:
                return self._to_password_change(ctx, method)
        elif method == "POST" and entry.handler is not auth_pages.signin:
            if ctx.session is not None and not self.codec.check_csrf(ctx.session.nonce,
                                                                     ctx.field("csrf")):
                return self._forbidden(ctx, "The form did not come from this console "
                                            "(CSRF check failed).")
        try:
            return entry.handler(ctx)
        except Unauthenticated:
            return self._to_signin(ctx, method)
        except AccessDenied as exc:
            return ctx.render("error.html", 403, title="Access denied", message=exc.message)
        except NotFound as exc:
            return ctx.render("error.html", 404, title="Not found", message=exc.message)
        except DockyardError as exc:
            return ctx.render("error.html", exc.http_status if 400 <= exc.http_status < 500 else 400,
                              title="Request failed", message=exc.message)
        except Exception:
            log.exception("console error request_id=%s path=%s", ctx.request_id, scope["path"])
            return ctx.render("error.html", 500, title="Something went wrong",
                              message=f"An unexpected error occurred (request id "
                                      f"{ctx.request_id}). It has been logged.")

    def _to_signin(self, ctx: Ctx, method: str) -> Response:
        target = ctx.request.url.path
        if ctx.request.url.query:
            target += "?" + ctx.request.url.query
        next_url = target if method == "GET" else ""
        url = PREFIX + "/signin" + (f"?next={_quote(next_url)}" if next_url else "")
        response = ctx.redirect(url)
        if ctx.request.cookies.get(SESSION_COOKIE):
            ctx.delete_cookie(response, SESSION_COOKIE)
        return response

    def _to_password_change(self, ctx: Ctx, method: str) -> Response:
        """A login profile that requires a reset: nothing else until a new password is chosen."""
        target = ctx.request.url.path
        if ctx.request.url.query:
            target += "?" + ctx.request.url.query
        query = f"?next={_quote(target)}" if method == "GET" else ""
        return ctx.redirect(PREFIX + auth_pages.CHANGE_PASSWORD + query)

    def _forbidden(self, ctx: Ctx, message: str) -> Response:
        return ctx.render("error.html", 403, title="Request refused", message=message)

    def _not_found(self, ctx: Ctx) -> Response:
        return ctx.render("error.html", 404, title="Not found",
                          message="There is no such page in the console.")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")


def _same_origin(request: Request) -> bool:
    """A browser's Origin (or Referer) must name the host the request came to."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if not origin or origin == "null":
        return origin != "null"
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


__all__ = ["ConsoleApp", "LOGIN_COOKIE"]
