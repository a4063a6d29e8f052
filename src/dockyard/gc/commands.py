"""``dockyard gc``, ``dockyard storage`` and ``dockyard quota``."""

from __future__ import annotations

import json

import click

from dockyard.errors import DockyardError
from dockyard.domain.sizes import human_bytes


def _services():  # type: ignore[no-untyped-def]
    from dockyard.app import bootstrap, build_services
    from dockyard.settings import Settings

    settings = Settings()
    bootstrap(settings)
    return build_services(settings)


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="Report what would be freed; delete nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="List every blob freed.")
def gc_command(dry_run: bool, as_json: bool, verbose: bool) -> None:
    """Reclaim blobs no repository references (after the grace period) and abandoned uploads,
    while the registry keeps serving."""
    collector = _services().gc
    report = collector.collect(dry_run=dry_run)
    if as_json:
        click.echo(json.dumps({**report.as_dict(), "freed": [
            {"digest": d, "size": s} for d, s in report.freed]}, default=str, indent=2))
        return
    if verbose:
        for digest, size in report.freed:
            click.echo(f"{'would free' if dry_run else 'freed'} {digest} {human_bytes(size)}")
    click.echo(report.summary())


@click.command("storage")
@click.argument("repositories", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the usage as JSON.")
def storage(repositories: tuple[str, ...], as_json: bool) -> None:
    """Bytes stored per repository and for the registry (shared layers counted once)."""
    usage = _services().usage
    try:
        repos = usage.repositories(list(repositories) or None)
    except DockyardError as exc:
        raise click.ClickException(exc.message) from None
    total = usage.registry()
    if as_json:
        click.echo(json.dumps({
            "repositories": [{"repositoryName": u.name, "imageCount": u.images,
                              "storedBytes": u.stored_bytes, "linkedBytes": u.linked_bytes,
                              "exclusiveBytes": u.exclusive_bytes, "quotaBytes": u.max_bytes,
                              "quotaImages": u.max_images} for u in repos],
            "registry": {"repositoryCount": total.repositories, "imageCount": total.images,
                         "blobCount": total.blobs, "storedBytes": total.stored_bytes,
                         "uploadBytes": total.upload_bytes}}, indent=2))
        return
    click.echo(f"{'REPOSITORY':<40} {'IMAGES':>7} {'STORED':>11} {'EXCLUSIVE':>11} QUOTA")
    for u in repos:
        quota = " / ".join(q for q in (
            human_bytes(u.max_bytes) if u.max_bytes is not None else "",
            f"{u.max_images} images" if u.max_images is not None else "") if q) or "-"
        click.echo(f"{u.name:<40} {u.images:>7} {human_bytes(u.stored_bytes):>11} "
                   f"{human_bytes(u.exclusive_bytes):>11} {quota}")
    click.echo(f"registry: {total.repositories} repositories, {total.images} images, "
               f"{total.blobs} blobs, {human_bytes(total.stored_bytes)} stored (shared layers "
               f"once), {human_bytes(total.upload_bytes)} in uploads")


@click.group("quota")
def quota() -> None:
    """Per-repository storage quotas: pushes beyond them are refused."""


@quota.command("set")
@click.argument("repository")
@click.option("--max-bytes", help="Largest size of the repository, e.g. 10GiB, 500MB.")
@click.option("--max-images", type=int, help="Most images (manifests) the repository may hold.")
def set_quota(repository: str, max_bytes: str | None, max_images: int | None) -> None:
    from dockyard.gc.usage import parse_size

    if max_bytes is None and max_images is None:
        raise click.UsageError("give --max-bytes and/or --max-images (or use `quota clear`)")
    try:
        usage = _services().usage.set_quota(
            repository, max_bytes=parse_size(max_bytes) if max_bytes else None,
            max_images=max_images)
    except DockyardError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{repository}: quota {human_bytes(usage.max_bytes) if usage.max_bytes is not None else '-'}"
               f" / {usage.max_images if usage.max_images is not None else '-'} images; "
               f"now {human_bytes(usage.stored_bytes)} in {usage.images} images")


@quota.command("clear")
@click.argument("repository")
def clear_quota(repository: str) -> None:
    try:
        _services().usage.set_quota(repository, max_bytes=None, max_images=None)
    except DockyardError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{repository}: no quota")
