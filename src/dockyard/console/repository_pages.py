"""Repositories: the list (private and public), create, settings, delete, push commands."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from dockyard.console.formatting import path
from dockyard.console.forms import errors_for, lines
from dockyard.console.push_commands import push_commands
from dockyard.console.web import PREFIX, Ctx
from dockyard.domain.immutability import MODES, WITH_EXCLUSION
from dockyard.domain.models import Repository
from dockyard.errors import AccessDenied, DockyardError, InvalidParameter
from dockyard.registry.repositories import ENCRYPTION_TYPES

MAX_LISTED = 10_000
CREATE_FIELDS = {"repositoryName": "name", "imageTagMutability": "mutability",
                 "imageTagMutabilityExclusionFilters": "exclusions", "encryptionType": "encryption",
                 "kmsKey": "kms_key", "tags": "tags"}
SETTINGS_FIELDS = {"imageTagMutability": "mutability",
                   "imageTagMutabilityExclusionFilters": "exclusions"}


def repository_url(name: str, page: str = "images") -> str:
    return f"{PREFIX}/repositories/{path(name)}/-/{page}"


def home(ctx: Ctx) -> Response:
    return ctx.redirect(PREFIX + "/repositories")


def repository_home(ctx: Ctx) -> Response:
    return ctx.redirect(repository_url(ctx.params["name"]))


# --- list ---------------------------------------------------------------------------------------
def _all_repositories(ctx: Ctx) -> list[Repository]:
    found: list[Repository] = []
    token: str | None = None
    while len(found) < MAX_LISTED:
        page, token = ctx.services.repositories.describe(ctx.principal, next_token=token,
                                                         max_results=1000)
        found += page
        if token is None:
            break
    return found


def _is_public(repo: Repository) -> bool:
    return bool(getattr(repo, "public", False))


def repositories(ctx: Ctx) -> Response:
    tab = "public" if ctx.arg("tab") == "public" else "private"
    q = ctx.arg("q").strip().lower()
    error = ""
    rows: list[dict[str, Any]] = []
    counts = {"private": 0, "public": 0}
    try:
        repos = _all_repositories(ctx)
    except AccessDenied as exc:
        repos, error = [], exc.message
    usage = {}
    if repos and ctx.services.usage is not None:
        usage = {u.name: u for u in ctx.services.usage.repositories([r.name for r in repos])}
    address = ctx.services.repositories.address
    for repo in repos:
        public = _is_public(repo)
        counts["public" if public else "private"] += 1
        if public != (tab == "public") or (q and q not in repo.name):
            continue
        used = usage.get(repo.name)
        rows.append({"repo": repo, "uri": address.repository_uri(repo.name),
                     "images": used.images if used else None,
                     "size": used.stored_bytes if used else None})
    return ctx.render("repositories.html", title="Repositories", rows=rows, tab=tab, q=q,
                      counts=counts, error=error, can_create=ctx.can("ecr:CreateRepository", "*"),
                      repository_url=repository_url)


# --- create -------------------------------------------------------------------------------------
def new_repository(ctx: Ctx, *, errors: dict[str, str] | None = None,
                   values: dict[str, Any] | None = None, status: int = 200) -> Response:
    defaults = {"name": "", "visibility": "private", "mutability": "MUTABLE", "exclusions": "",
                "scan_on_push": False,
                "encryption": "AES256", "kms_key": "", "tags": ""}
    return ctx.render("repository_new.html", status, title="Create repository",
                      values={**defaults, **(values or {})}, errors=errors or {}, modes=MODES,
                      with_exclusion=WITH_EXCLUSION, encryption_types=ENCRYPTION_TYPES,
                      host=ctx.services.repositories.address.host,
                      can_create=ctx.can("ecr:CreateRepository", "*"))


def exclusion_filters(mode: str, text: str) -> list[dict[str, str]] | None:
    filters = lines(text)
    if not filters and mode not in WITH_EXCLUSION:
        return None
    return [{"filterType": "WILDCARD", "filter": f} for f in filters]


def parse_tags(text: str) -> list[dict[str, str]]:
    tags = []
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise InvalidParameter(f"Invalid parameter at 'tags': write each tag as key=value "
                                   f"(got {line.strip()!r})")
        tags.append({"Key": key.strip(), "Value": value.strip()})
    return tags


def create_repository(ctx: Ctx) -> Response:
    values = {"name": ctx.field("name").strip(),
              "visibility": "public" if ctx.field("visibility") == "public" else "private",
              "mutability": ctx.field("mutability", "MUTABLE"),
              "exclusions": ctx.field("exclusions"), "scan_on_push": ctx.checked("scan_on_push"),
              "encryption": ctx.field("encryption", "AES256"),
              "kms_key": ctx.field("kms_key").strip(), "tags": ctx.field("tags")}
    try:
        if not values["name"]:
            raise InvalidParameter("Invalid parameter at 'repositoryName': enter a name")
        repo = ctx.services.repositories.create(
            ctx.principal, values["name"], tag_mutability=values["mutability"],
            mutability_exclusions=exclusion_filters(values["mutability"], values["exclusions"]),
            scan_on_push=values["scan_on_push"], encryption_type=values["encryption"],
            kms_key=values["kms_key"] or None, tags=parse_tags(values["tags"]))
    except AccessDenied:
        raise
    except DockyardError as exc:
        return new_repository(ctx, errors=errors_for(exc, CREATE_FIELDS, "form"), values=values,
                              status=400)
    if values["visibility"] == "public":
        try:
            ctx.services.repository_settings.set_public(ctx.principal, repo.name, True)
        except DockyardError as exc:
            return ctx.redirect(repository_url(repo.name, "settings"),
                                f"Created repository {repo.name}, but it stays private: "
                                f"{exc.message}", "error")
    return ctx.redirect(repository_url(repo.name),
                        f"Created {values['visibility']} repository {repo.name}.")


# --- one repository -----------------------------------------------------------------------------
def find(ctx: Ctx) -> Repository:
    """The repository of the URL, described with the caller's right to see it."""
    repos, _ = ctx.services.repositories.describe(ctx.principal, names=[ctx.params["name"]])
    return repos[0]


def repository_values(ctx: Ctx, repo: Repository, page: str, **values: Any) -> dict[str, Any]:
    name = repo.name
    return {"repo": repo, "page": page, "uri": ctx.services.repositories.address.repository_uri(name),
            "arn": ctx.services.repositories.address.repository_arn(name),
            "public": _is_public(repo), "repository_url": repository_url,
            "can_delete_repo": ctx.can("ecr:DeleteRepository", name), **values}


def push_commands_page(ctx: Ctx) -> Response:
    repo = find(ctx)
    settings = ctx.services.settings
    docker, podman = push_commands(repository=repo.name, region=settings.region,
                                   endpoint=settings.endpoint,
                                   host=ctx.services.repositories.address.host)
    return ctx.render("push_commands.html", title=f"Push commands for {repo.name}",
                      tools=[docker, podman],
                      **repository_values(ctx, repo, "push-commands"))


def settings_form(ctx: Ctx, *, errors: dict[str, str] | None = None,
                  values: dict[str, Any] | None = None, status: int = 200) -> Response:
    repo = find(ctx)
    current = {"mutability": repo.tag_mutability,
               "exclusions": "\n".join(f["filter"] for f in repo.mutability_exclusions),
               "scan_on_push": repo.scan_on_push,
               "visibility": "public" if _is_public(repo) else "private"}
    return ctx.render("repository_settings.html", status, title=f"Settings of {repo.name}",
                      values={**current, **(values or {})}, errors=errors or {}, modes=MODES,
                      with_exclusion=WITH_EXCLUSION,
                      can_edit=ctx.can("ecr:PutImageTagMutability", repo.name)
                      or ctx.can("ecr:PutImageScanningConfiguration", repo.name),
                      can_publish=ctx.can("ecr:SetRepositoryPolicy", repo.name),
                      **repository_values(ctx, repo, "settings"))


def save_settings(ctx: Ctx) -> Response:
    repo = find(ctx)
    values = {"mutability": ctx.field("mutability", repo.tag_mutability),
              "exclusions": ctx.field("exclusions"), "scan_on_push": ctx.checked("scan_on_push"),
              "visibility": ctx.field("visibility", "public" if _is_public(repo) else "private")}
    service = ctx.services.repository_settings
    try:
        filters = exclusion_filters(values["mutability"], values["exclusions"])
        if (values["mutability"], tuple(filters or ())) != (repo.tag_mutability,
                                                             repo.mutability_exclusions):
            service.put_tag_mutability(ctx.principal, repo.name, values["mutability"], filters)
        if values["scan_on_push"] != repo.scan_on_push:
            service.put_scanning_configuration(ctx.principal, repo.name, values["scan_on_push"])
        if (values["visibility"] == "public") != _is_public(repo):
            service.set_public(ctx.principal, repo.name, values["visibility"] == "public")
    except DockyardError as exc:
        if isinstance(exc, AccessDenied):
            return settings_form(ctx, errors={"form": exc.message}, values=values, status=403)
        return settings_form(ctx, errors=errors_for(exc, SETTINGS_FIELDS, "form"), values=values,
                             status=400)
    return ctx.redirect(repository_url(repo.name, "settings"), "Settings saved.")


def delete_form(ctx: Ctx, *, error: str = "", status: int = 200) -> Response:
    repo = find(ctx)
    images = None
    if ctx.services.usage is not None:
        found = ctx.services.usage.repositories([repo.name])
        images = found[0].images if found else None
    return ctx.render("repository_delete.html", status, title=f"Delete {repo.name}", error=error,
                      images=images, **repository_values(ctx, repo, "delete"))


def delete_repository(ctx: Ctx) -> Response:
    name = ctx.params["name"]
    if ctx.field("confirm").strip() != name:
        return delete_form(ctx, status=400,
                           error=f"Type the repository name ({name}) to confirm the deletion.")
    try:
        _, count = ctx.services.repositories.delete(ctx.principal, name,
                                                    force=ctx.checked("force"))
    except AccessDenied as exc:
        return delete_form(ctx, status=403, error=exc.message)
    except DockyardError as exc:
        if isinstance(exc, InvalidParameter) or exc.http_status == 409:
            return delete_form(ctx, status=400, error=exc.message + ". Tick \"Also delete the "
                               "images\" to delete it with its images.")
        raise
    images = f" and its {count} image{'s' if count != 1 else ''}" if count else ""
    return ctx.redirect(PREFIX + "/repositories", f"Deleted repository {name}{images}.")
