"""Images of a repository: the list (sort, filter, delete selected) and one image (layers,
platforms, referrers, scan findings, manual scan)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from dockyard.console.formatting import SEVERITIES, path
from dockyard.console.repository_pages import find, repository_url, repository_values
from dockyard.console.web import Ctx
from dockyard.domain.models import ManifestRecord
from dockyard.errors import AccessDenied, DockyardError, NotFound

SORTS = {
    "pushed": lambda r: (r.pushed_at, r.digest),
    "size": lambda r: (r.image_size, r.digest),
    "tag": lambda r: (r.tags[0] if r.tags else "\uffff", r.digest),
    "pulled": lambda r: (r.last_pulled_at.timestamp() if r.last_pulled_at else 0.0, r.digest),
    "digest": lambda r: r.digest,
}
MAX_IMAGES = 10_000


def image_url(name: str, digest: str) -> str:
    return f"{repository_url(name)}/{path(digest)}"


def _all_images(ctx: Ctx, name: str) -> list[ManifestRecord]:
    found: list[ManifestRecord] = []
    token: str | None = None
    while len(found) < MAX_IMAGES:
        page, token = ctx.services.catalog.describe_images(ctx.principal, name, next_token=token,
                                                           limit=1000)
        found += page
        if token is None:
            break
    return found


def images(ctx: Ctx) -> Response:
    repo = find(ctx)
    sort = ctx.arg("sort", "pushed") if ctx.arg("sort", "pushed") in SORTS else "pushed"
    order = "asc" if ctx.arg("order") == "asc" else "desc"
    q = ctx.arg("q").strip()
    tagged = ctx.arg("tagged") if ctx.arg("tagged") in ("tagged", "untagged") else ""
    error = ""
    try:
        records = _all_images(ctx, repo.name)
    except AccessDenied as exc:
        records, error = [], exc.message
    total = len(records)
    if tagged:
        records = [r for r in records if bool(r.tags) == (tagged == "tagged")]
    if q:
        records = [r for r in records if q in r.digest or any(q in t for t in r.tags)]
    records.sort(key=SORTS[sort], reverse=order == "desc")
    scans = ctx.services.catalog.scan_summaries(repo.name, [r.digest for r in records])
    return ctx.render(
        "images.html", title=f"{repo.name} images", records=records, scans=scans, total=total,
        error=error, sort=sort, order=order, q=q, tagged=tagged, image_url=image_url,
        query={"q": q, "sort": sort, "order": order, "tagged": tagged},
        can_delete=ctx.can("ecr:BatchDeleteImage", repo.name),
        **repository_values(ctx, repo, "images"))


def delete_images(ctx: Ctx) -> Response:
    name = ctx.params["name"]
    digests = [d for d in ctx.fields("image") if d]
    if not digests:
        return ctx.redirect(repository_url(name), "Select the images to delete first.", "error")
    try:
        deleted, failures = ctx.services.images.batch_delete(
            ctx.principal, name, [{"imageDigest": d} for d in digests])
    except AccessDenied as exc:
        return ctx.redirect(repository_url(name), exc.message, "error")
    gone = len({i.digest for i in deleted})
    message = f"Deleted {gone} image{'s' if gone != 1 else ''}."
    if failures:
        message += " Not deleted: " + "; ".join(
            f"{f.image_id.get('imageDigest', '?')[:19]}: {f.reason}" for f in failures)
    return ctx.redirect(repository_url(name), message, "error" if failures else "ok")


def _manifest(ctx: Ctx, name: str, digest: str) -> tuple[dict[str, Any] | None, str]:
    """The manifest document (for layers and platforms), or why it cannot be shown."""
    try:
        scanning = ctx.services.scanning
        if scanning is not None:
            body = scanning.resolve(ctx.principal, name, {"imageDigest": digest},
                                    "ecr:BatchGetImage").body
        else:
            found, _ = ctx.services.catalog.batch_get_image(ctx.principal, name,
                                                            [{"imageDigest": digest}])
            if not found:
                return None, "The manifest could not be read."
            body = found[0].manifest
    except AccessDenied as exc:
        return None, exc.message
    try:
        document = json.loads(body)
    except ValueError:
        return None, "The manifest is not JSON."
    return (document if isinstance(document, dict) else None), ""


def image(ctx: Ctx) -> Response:
    repo = find(ctx)
    digest = ctx.params["digest"]
    records, _ = ctx.services.catalog.describe_images(ctx.principal, repo.name,
                                                      image_ids=[{"imageDigest": digest}])
    record = records[0]
    document, manifest_error = _manifest(ctx, repo.name, digest)
    present = {r.digest for r in ctx.services.catalog.describe_images(
        ctx.principal, repo.name, limit=1000)[0]} if document and "manifests" in document else set()
    referrers: list[dict[str, Any]] = []
    referrers_error = ""
    try:
        referrers, _ = ctx.services.catalog.referrers(ctx.principal, repo.name, digest, limit=100)
    except AccessDenied as exc:
        referrers_error = exc.message
    scan, findings, scan_error = None, [], ""
    severity = ctx.arg("severity").upper()
    if ctx.services.scanning is not None:
        try:
            _, scan = ctx.services.scanning.findings(ctx.principal, repo.name,
                                                     {"imageDigest": digest})
            findings = [f for f in scan.findings or [] if not severity or f["severity"] == severity]
            order = {s: i for i, s in enumerate(SEVERITIES)}
            findings.sort(key=lambda f: (order.get(f["severity"], 99), f["id"]))
        except NotFound:
            scan = None
        except AccessDenied as exc:
            scan_error = exc.message
    return ctx.render(
        "image.html", title=f"{repo.name}@{digest[:19]}", record=record, document=document,
        manifest_error=manifest_error, present=present, referrers=referrers,
        referrers_error=referrers_error, scan=scan, findings=findings, scan_error=scan_error,
        severity=severity if severity in SEVERITIES else "", image_url=image_url,
        can_scan=ctx.services.scanning is not None and ctx.can("ecr:StartImageScan", repo.name),
        can_delete=ctx.can("ecr:BatchDeleteImage", repo.name),
        **repository_values(ctx, repo, "images"))


def scan(ctx: Ctx) -> Response:
    name, digest = ctx.params["name"], ctx.params["digest"]
    if ctx.services.scanning is None:
        return ctx.redirect(image_url(name, digest), "Scanning is not configured.", "error")
    try:
        ctx.services.scanning.start_scan(ctx.principal, name, {"imageDigest": digest})
    except DockyardError as exc:
        if isinstance(exc, NotFound):
            raise
        return ctx.redirect(image_url(name, digest), exc.message, "error")
    return ctx.redirect(image_url(name, digest), "Scan started. Reload in a moment for results.")
