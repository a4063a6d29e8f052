"""IAM for administrators: users (access keys, console password, groups, attached policies) and
groups. Every call goes through the IAM directory, which checks ``iam:*`` for the caller."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from dockyard.console.web import PREFIX, Ctx
from dockyard.domain.iam import USER
from dockyard.errors import AccessDenied, DockyardError, NotFound, ServerError
from dockyard.iam.aws_managed import AWS_MANAGED
from dockyard.iam.directory import Directory


def _directory(ctx: Ctx) -> Directory:
    if ctx.services.directory is None:
        raise ServerError("IAM is not available on this registry")
    return ctx.services.directory


def user_url(name: str) -> str:
    return f"{PREFIX}/iam/users/{name}"


def users(ctx: Ctx, *, errors: dict[str, str] | None = None, status: int = 200,
          values: dict[str, str] | None = None) -> Response:
    directory = _directory(ctx)
    error, found = "", []
    try:
        found = directory.list_users(ctx.principal)
    except AccessDenied as exc:
        error = exc.message
    return ctx.render("iam_users.html", status, title="IAM users", users=found, error=error,
                      errors=errors or {}, values=values or {}, user_url=user_url,
                      can_create=ctx.can_iam("iam:CreateUser"))


def create_user(ctx: Ctx) -> Response:
    name = ctx.field("user_name").strip()
    try:
        _directory(ctx).create_user(ctx.principal, name)
    except DockyardError as exc:
        return users(ctx, errors={"user_name": exc.message}, values={"user_name": name},
                     status=403 if isinstance(exc, AccessDenied) else 400)
    return ctx.redirect(user_url(name), f"Created user {name}.")


def user(ctx: Ctx, *, new_key: Any = None, error: str = "", status: int = 200) -> Response:
    directory = _directory(ctx)
    name = ctx.params["user"]
    found = directory.get_user(ctx.principal, name)
    sections: dict[str, Any] = {}
    problems: dict[str, str] = {}

    def section(key: str, read: Any) -> None:
        try:
            sections[key] = read()
        except AccessDenied as exc:
            problems[key] = exc.message
        except NotFound:
            sections[key] = None

    section("keys", lambda: directory.list_access_keys(ctx.principal, name)[1])
    section("groups", lambda: directory.list_groups_for_user(ctx.principal, name))
    section("profile", lambda: directory.get_login_profile(ctx.principal, name))
    section("all_groups", lambda: directory.list_groups(ctx.principal))
    if ctx.services.permissions is not None:
        section("policies", lambda: ctx.services.permissions.list_attached(ctx.principal, USER,
                                                                           name))
    return ctx.render("iam_user.html", status, title=f"User {name}", user=found,
                      sections=sections, problems=problems, new_key=new_key, error=error,
                      managed=sorted(AWS_MANAGED.items(), key=lambda i: i[1].name),
                      user_url=user_url, can_manage=ctx.can_iam("iam:CreateAccessKey", found.arn))


def _user_action(ctx: Ctx, run: Any, done: str) -> Response:
    name = ctx.params["user"]
    try:
        result = run(_directory(ctx), name)
    except NotFound as exc:
        if "user with name" in exc.message and name in exc.message:
            raise
        return user(ctx, error=exc.message, status=400)
    except DockyardError as exc:
        return user(ctx, error=exc.message, status=403 if isinstance(exc, AccessDenied) else 400)
    if result is not None:
        return user(ctx, new_key=result)
    return ctx.redirect(user_url(name), done)


def create_access_key(ctx: Ctx) -> Response:
    return _user_action(ctx, lambda d, n: d.create_access_key(ctx.principal, n), "")


def access_key_action(ctx: Ctx) -> Response:
    key = ctx.params["key"]
    action = ctx.field("action")

    def run(d: Directory, n: str) -> None:
        if action == "delete":
            d.delete_access_key(ctx.principal, key, n)
        else:
            d.update_access_key(ctx.principal, key, "Active" if action == "activate" else
                                "Inactive", n)

    return _user_action(ctx, run, f"Access key {key} {action}d.")


def login_profile_action(ctx: Ctx) -> Response:
    action = ctx.field("action")
    password = ctx.field("password")
    reset = ctx.checked("reset_required")

    def run(d: Directory, n: str) -> None:
        if action == "delete":
            d.delete_login_profile(ctx.principal, n)
        elif action == "update":
            d.update_login_profile(ctx.principal, n, password, reset)
        else:
            d.create_login_profile(ctx.principal, n, password, reset)

    return _user_action(ctx, run, "Console password removed." if action == "delete" else
                        "Console password set.")


def user_groups_action(ctx: Ctx) -> Response:
    action = ctx.field("action")
    group = ctx.field("group")
    policy = ctx.field("policy_arn")

    def run(d: Directory, n: str) -> None:
        permissions = ctx.services.permissions
        if action == "add":
            d.add_user_to_group(ctx.principal, group, n)
        elif action == "remove":
            d.remove_user_from_group(ctx.principal, group, n)
        elif action in ("attach", "detach") and permissions is not None:
            (permissions.attach if action == "attach" else permissions.detach)(
                ctx.principal, USER, n, policy)

    return _user_action(ctx, run, "Saved.")


def groups(ctx: Ctx, *, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    directory = _directory(ctx)
    error, found = "", []
    try:
        found = [directory.get_group(ctx.principal, g.name) for g in
                 directory.list_groups(ctx.principal)]
    except AccessDenied as exc:
        error = exc.message
    return ctx.render("iam_groups.html", status, title="IAM groups", groups=found, error=error,
                      errors=errors or {}, user_url=user_url,
                      can_create=ctx.can_iam("iam:CreateGroup"))


def create_group(ctx: Ctx) -> Response:
    name = ctx.field("group_name").strip()
    try:
        _directory(ctx).create_group(ctx.principal, name)
    except DockyardError as exc:
        return groups(ctx, errors={"group_name": exc.message},
                      status=403 if isinstance(exc, AccessDenied) else 400)
    return ctx.redirect(PREFIX + "/iam/groups", f"Created group {name}.")
