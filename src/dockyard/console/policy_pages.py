"""A repository's lifecycle policy (rule builder, JSON, preview) and its permissions (the
repository policy, edited as JSON with validation)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from dockyard.console.forms import lines
from dockyard.console.repository_pages import find, repository_url, repository_values
from dockyard.console.web import Ctx
from dockyard.errors import AccessDenied, DockyardError, InvalidParameter, NotFound

COUNT_TYPES = ("imageCountMoreThan", "sinceImagePushed", "sinceImagePulled")
TAG_STATUSES = ("untagged", "tagged", "any")


def _json_problem(text: str) -> str:
    try:
        json.loads(text)
    except ValueError as exc:
        return f"The policy is not valid JSON: {exc}"
    return ""


# --- lifecycle ----------------------------------------------------------------------------------
def build_rule(ctx: Ctx) -> dict[str, Any]:
    """One lifecycle rule from the rule builder's fields."""
    try:
        priority = int(ctx.field("priority"))
        count = int(ctx.field("count_number"))
    except ValueError:
        raise InvalidParameter("Rule priority and count must be whole numbers.") from None
    status = ctx.field("tag_status", "untagged")
    count_type = ctx.field("count_type", "imageCountMoreThan")
    selection: dict[str, Any] = {"tagStatus": status}
    if status == "tagged":
        match = lines(ctx.field("tag_values"))
        key = "tagPatternList" if ctx.field("tag_match") == "pattern" else "tagPrefixList"
        selection[key] = match
    selection["countType"] = count_type
    if count_type != "imageCountMoreThan":
        selection["countUnit"] = "days"
    selection["countNumber"] = count
    rule: dict[str, Any] = {"rulePriority": priority}
    if ctx.field("description").strip():
        rule["description"] = ctx.field("description").strip()
    rule.update(selection=selection, action={"type": "expire"})
    return rule


def _policy_text(ctx: Ctx, name: str) -> str:
    lifecycle = ctx.services.lifecycle
    if lifecycle is None:
        return ""
    try:
        return lifecycle.get_policy(ctx.principal, name).text
    except NotFound:
        return ""


def lifecycle(ctx: Ctx, *, text: str | None = None, error: str = "", status: int = 200,
              builder: dict[str, str] | None = None) -> Response:
    repo = find(ctx)
    service = ctx.services.lifecycle
    saved, preview, preview_error = "", None, ""
    if service is not None:
        try:
            saved = _policy_text(ctx, repo.name)
        except AccessDenied as exc:
            preview_error = exc.message
        try:
            preview = service.get_preview(ctx.principal, repo.name, limit=100)
        except NotFound:
            preview = None
        except AccessDenied as exc:
            preview_error = preview_error or exc.message
    if text is None:
        text = _pretty(saved) if saved else ""
    return ctx.render(
        "lifecycle.html", status, title=f"Lifecycle policy of {repo.name}", text=text, saved=saved,
        error=error, preview=preview, preview_error=preview_error, count_types=COUNT_TYPES,
        tag_statuses=TAG_STATUSES, builder=builder or {}, available=service is not None,
        can_edit=ctx.can("ecr:PutLifecyclePolicy", repo.name),
        can_preview=ctx.can("ecr:StartLifecyclePolicyPreview", repo.name),
        can_delete_policy=ctx.can("ecr:DeleteLifecyclePolicy", repo.name) and bool(saved),
        **repository_values(ctx, repo, "lifecycle"))


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


def lifecycle_action(ctx: Ctx) -> Response:
    name = ctx.params["name"]
    service = ctx.services.lifecycle
    if service is None:
        return ctx.redirect(repository_url(name, "lifecycle"), "Lifecycle policies are not "
                            "available on this registry.", "error")
    action = ctx.field("action")
    text = ctx.field("policy").strip()
    builder = {k: ctx.field(k) for k in ("priority", "description", "tag_status", "tag_match",
                                         "tag_values", "count_type", "count_number")}
    try:
        if action == "add_rule":
            document = json.loads(text) if text else {"rules": []}
            if not isinstance(document, dict) or not isinstance(document.get("rules", []), list):
                raise InvalidParameter('The policy must be an object with a "rules" list.')
            document.setdefault("rules", []).append(build_rule(ctx))
            document["rules"].sort(key=lambda r: r.get("rulePriority", 0)
                                   if isinstance(r, dict) else 0)
            priorities = [r.get("rulePriority") for r in document["rules"] if isinstance(r, dict)]
            following = max([p for p in priorities if isinstance(p, int)], default=0) + 1
            return lifecycle(ctx, text=json.dumps(document, indent=2),
                             builder={"priority": str(following)})
        if action == "delete":
            service.delete_policy(ctx.principal, name)
            return ctx.redirect(repository_url(name, "lifecycle"), "Lifecycle policy deleted.")
        problem = _json_problem(text)
        if problem:
            return lifecycle(ctx, text=text, error=problem, status=400, builder=builder)
        if action == "preview":
            service.start_preview(ctx.principal, name, text)
            return ctx.redirect(repository_url(name, "lifecycle"),
                                "Preview started; the results appear below.")
        service.put_policy(ctx.principal, name, text)
        return ctx.redirect(repository_url(name, "lifecycle"), "Lifecycle policy saved.")
    except ValueError as exc:
        return lifecycle(ctx, text=text, error=f"The policy is not valid JSON: {exc}", status=400,
                         builder=builder)
    except AccessDenied as exc:
        return lifecycle(ctx, text=text, error=exc.message, status=403, builder=builder)
    except NotFound as exc:
        if "repository" in type(exc).__name__.lower():
            raise
        return lifecycle(ctx, text=text, error=exc.message, status=400, builder=builder)
    except DockyardError as exc:
        return lifecycle(ctx, text=text, error=exc.message, status=400, builder=builder)


# --- permissions (the repository policy) --------------------------------------------------------
def _example(ctx: Ctx, name: str) -> str:
    account = ctx.services.repositories.address.registry_id
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowPull", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                   "ecr:BatchCheckLayerAvailability"]}]}, indent=2)


def permissions(ctx: Ctx, *, text: str | None = None, error: str = "",
                status: int = 200) -> Response:
    repo = find(ctx)
    saved, read_error = "", ""
    try:
        saved = ctx.services.policies.get_repository_policy(ctx.principal, repo.name)
    except NotFound:
        saved = ""
    except AccessDenied as exc:
        read_error = exc.message
    return ctx.render(
        "permissions.html", status, title=f"Permissions of {repo.name}",
        text=text if text is not None else (_pretty(saved) if saved else ""), saved=saved,
        error=error, read_error=read_error, example=_example(ctx, repo.name),
        can_edit=ctx.can("ecr:SetRepositoryPolicy", repo.name),
        can_delete_policy=bool(saved) and ctx.can("ecr:DeleteRepositoryPolicy", repo.name),
        **repository_values(ctx, repo, "permissions"))


def permissions_action(ctx: Ctx) -> Response:
    name = ctx.params["name"]
    text = ctx.field("policy").strip()
    try:
        if ctx.field("action") == "delete":
            ctx.services.policies.delete_repository_policy(ctx.principal, name)
            return ctx.redirect(repository_url(name, "permissions"), "Repository policy deleted.")
        problem = _json_problem(text) if text else "Enter a policy document."
        if problem:
            return permissions(ctx, text=text, error=problem, status=400)
        ctx.services.policies.set_repository_policy(ctx.principal, name, text,
                                                    force=ctx.checked("force"))
    except AccessDenied as exc:
        return permissions(ctx, text=text, error=exc.message, status=403)
    except DockyardError as exc:
        if isinstance(exc, NotFound) and "Repository" in type(exc).__name__ and \
                "Policy" not in type(exc).__name__:
            raise
        return permissions(ctx, text=text, error=exc.message, status=400)
    return ctx.redirect(repository_url(name, "permissions"), "Repository policy saved.")
