"""Sign-in and sign-out pages, and "Change password" (where a login profile that requires a
reset leads after sign-in)."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import quote

from starlette.responses import Response

from dockyard.audit.log import ALLOW, DENY
from dockyard.console.sessions import (
    LOGIN_COOKIE,
    PASSWORD,
    SESSION_COOKIE,
    SESSION_SECONDS,
)
from dockyard.console.signin import Authenticator, SignedIn, TooManyAttempts
from dockyard.console.web import PREFIX, Ctx
from dockyard.errors import (
    AccessDenied,
    DockyardError,
    IncorrectPassword,
    PasswordPolicyViolation,
    ServerError,
    Unauthenticated,
)
from dockyard.iamapi.app import query_error

LOGIN_COOKIE_SECONDS = 3600
CHANGE_PASSWORD = "/change-password"


def _authenticator(ctx: Ctx) -> Authenticator:
    console = ctx.request.scope.get("dockyard.console")
    if console is not None:
        return console.auth  # type: ignore[no-any-return]
    raise RuntimeError("console not attached to the request")


def _next(ctx: Ctx, value: str) -> str:
    """Only a path inside the console (never another site)."""
    if value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/repositories"


def _login_token(ctx: Ctx, nonce: str) -> str:
    return ctx.codec.csrf_token("login:" + nonce)


def signin_form(ctx: Ctx, *, status: int = 200, error: str = "", method: str = "",
                values: dict[str, str] | None = None) -> Response:
    if ctx.principal is not None and not error:
        return ctx.redirect(_next(ctx, ctx.arg("next")))
    nonce = ctx.request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(18)
    auth = _authenticator(ctx)
    response = ctx.render(
        "signin.html", status, title="Sign in", error=error, login_csrf=_login_token(ctx, nonce),
        method=method or ctx.arg("method", "key"), values=values or {},
        next=_next(ctx, ctx.arg("next") or (values or {}).get("next", "")),
        passwords=auth.passwords_enabled)
    ctx.set_cookie(response, LOGIN_COOKIE, nonce, LOGIN_COOKIE_SECONDS)
    return response


def signin(ctx: Ctx) -> Response:
    nonce = ctx.request.cookies.get(LOGIN_COOKIE, "")
    method = "password" if ctx.field("method") == "password" else "key"
    values = {"access_key_id": ctx.field("access_key_id"), "user_name": ctx.field("user_name"),
              "next": ctx.field("next")}
    if not nonce or not hmac.compare_digest(ctx.field("csrf").encode(),
                                            _login_token(ctx, nonce).encode()):
        return signin_form(ctx, status=403, method=method, values=values,
                           error="The sign-in form expired. Please try again.")
    auth = _authenticator(ctx)
    try:
        if method == "password":
            signed = auth.sign_in_with_password(ctx.client, ctx.field("user_name"),
                                                ctx.field("password"))
        else:
            signed = auth.sign_in_with_key(ctx.client, ctx.field("access_key_id"),
                                           ctx.field("secret_access_key"))
    except TooManyAttempts as exc:
        _audit(ctx, None, "Failure", "TooManyAttempts")
        response = signin_form(ctx, status=429, method=method, values=values, error=exc.message)
        response.headers["retry-after"] = str(exc.wait)
        return response
    except Unauthenticated as exc:
        _audit(ctx, None, "Failure", "Unauthenticated")
        return signin_form(ctx, status=401, method=method, values=values, error=exc.message)
    _audit(ctx, signed.principal.arn, "Success", None,
           signed.subject if method == "key" else None)
    target = _next(ctx, values["next"])
    if signed.password_reset_required:  # choose a new password before anything else
        target = f"{PREFIX}{CHANGE_PASSWORD}?next={quote(target, safe='/')}"
    response = ctx.redirect(target)
    _start_session(ctx, response, signed)
    ctx.delete_cookie(response, LOGIN_COOKIE)
    return response


def _start_session(ctx: Ctx, response: Response, signed: SignedIn) -> None:
    _, cookie = ctx.codec.issue(signed.method, signed.subject, signed.principal.id,
                                int(ctx.services.identity.clock.now().timestamp()),
                                signed.binding)
    ctx.set_cookie(response, SESSION_COOKIE, cookie, SESSION_SECONDS)


def change_password_form(ctx: Ctx, *, errors: dict[str, str] | None = None,
                         status: int = 200) -> Response:
    return ctx.render("change_password.html", status, title="Change password",
                      forced=ctx.password_reset_required, errors=errors or {},
                      next=_next(ctx, ctx.arg("next") or ctx.field("next")))


def change_password(ctx: Ctx) -> Response:
    """``iam:ChangePassword`` for the signed-in IAM user. A password session is bound to the
    password hash, so it is replaced by a fresh one: the user stays signed in."""
    directory = ctx.services.directory
    if directory is None or ctx.principal is None:
        raise ServerError("IAM is not available on this registry")
    old, new = ctx.field("old_password"), ctx.field("new_password")
    errors: dict[str, str] = {}
    if not old:
        errors["old_password"] = "Enter your current password."
    if new != ctx.field("confirm_password"):
        errors["confirm_password"] = "The new passwords do not match."
    if errors:
        return change_password_form(ctx, errors=errors, status=400)
    try:
        directory.change_password(ctx.principal, old, new)
    except DockyardError as exc:
        _audit_change(ctx, exc)
        if isinstance(exc, IncorrectPassword):
            errors["old_password"] = exc.message
        elif isinstance(exc, PasswordPolicyViolation):
            errors["new_password"] = exc.message
        else:
            errors["form"] = exc.message
        return change_password_form(ctx, errors=errors,
                                    status=403 if isinstance(exc, AccessDenied) else 400)
    _audit_change(ctx, None)
    response = ctx.redirect(_next(ctx, ctx.field("next")), "Your password has been changed.")
    if ctx.session is not None and ctx.session.method == PASSWORD:
        signed = _authenticator(ctx).password_session(ctx.principal)
        if signed is not None:
            _start_session(ctx, response, signed)
    return response


def _audit_change(ctx: Ctx, error: DockyardError | None) -> None:
    audit = ctx.services.audit
    if audit is None or ctx.principal is None:
        return
    audit.record(action="iam:ChangePassword", decision=DENY if isinstance(
                     error, (AccessDenied, Unauthenticated)) else ALLOW,
                 event_source="iam.amazonaws.com", principal_arn=ctx.principal.arn,
                 source_ip=ctx.client, user_agent=ctx.request.headers.get("user-agent"),
                 resource=ctx.principal.arn,
                 error_code=query_error(error, "iam")[0] if error else None,
                 request_id=ctx.request_id)


def signout(ctx: Ctx) -> Response:
    response = ctx.redirect(PREFIX + "/signin", "You are signed out.")
    ctx.delete_cookie(response, SESSION_COOKIE)
    return response


def _audit(ctx: Ctx, arn: str | None, outcome: str, error: str | None,
           access_key_id: str | None = None) -> None:
    """Console sign-ins go to the audit trail (as AWS records ``signin:ConsoleLogin``)."""
    audit = ctx.services.audit
    if audit is None:
        return
    audit.record(action="signin:ConsoleLogin", decision=ALLOW if outcome == "Success" else DENY,
                 event_source="signin.amazonaws.com", principal_arn=arn,
                 access_key_id=access_key_id, source_ip=ctx.client,
                 user_agent=ctx.request.headers.get("user-agent"), error_code=error,
                 request_id=ctx.request_id)
