"""Scanning's administration commands: ``dockyard vulndb import PATH``, ``dockyard vulndb status``
and ``dockyard sbom REPO:TAG`` (registered on the ``dockyard`` command in ``cli.py``)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from dockyard.settings import Settings


def _services():  # type: ignore[no-untyped-def]
    from dockyard.app import bootstrap, build_services

    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    bootstrap(settings)
    return build_services(settings)


@click.group()
def vulndb() -> None:
    """The vulnerability database that image scans match against (OSV advisories)."""


@vulndb.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def import_command(paths: tuple[Path, ...]) -> None:
    """Import OSV advisories: JSON/YAML files, directories of them, or .zip exports (such as
    osv.dev's <ecosystem>/all.zip). Re-run to update; unchanged records are skipped, and
    CONTINUOUS_SCAN repositories are re-matched by a background job."""
    services = _services()
    for path in paths:
        report = services.scanning.import_vulndb(
            path, progress=lambda n: click.echo(f"\r{n} records read", nl=False, err=True))
        click.echo("", err=True)
        ecosystems = ", ".join(f"{k} {v}" for k, v in sorted(report.ecosystems.items()))
        click.echo(f"{report.source}: {report.records} records ({report.changed} new or changed, "
                   f"{report.unchanged} unchanged, {report.withdrawn} withdrawn, "
                   f"{report.invalid} unreadable); affected packages by ecosystem: {ecosystems or '-'}")
        for problem in report.problems[:10]:
            click.echo(f"  skipped: {problem}", err=True)


@vulndb.command("status")
def status_command() -> None:
    """Show the imported sources, their import times and the number of advisories."""
    services = _services()
    store = services.scanning.store
    click.echo(f"{store.advisory_count()} advisories")
    for source in store.sources():
        click.echo(f"{source['imported_at'].isoformat()}  {source['records']:>7} records  "
                   f"{source['source']}")


def parse_image_reference(text: str) -> tuple[str, str]:
    """``repo:tag`` / ``repo@sha256:...`` -> (repository, tag or digest)."""
    if "@" in text:
        name, _, digest = text.partition("@")
        return name, digest
    slash = text.rfind("/")
    colon = text.rfind(":")
    if colon > slash:
        return text[:colon], text[colon + 1:]
    return text, "latest"


@click.command("sbom")
@click.argument("image")
@click.option("--format", "fmt", type=click.Choice(["cyclonedx", "spdx"]), default="cyclonedx",
              show_default=True, help="The SBOM document format (CycloneDX 1.6 or SPDX 2.3 JSON).")
@click.option("--output", "-o", type=click.Path(path_type=Path), help="Write to a file, not stdout.")
@click.option("--user", default="admin", show_default=True, help="The IAM user to act as.")
def sbom_command(image: str, fmt: str, output: Path | None, user: str) -> None:
    """Print the SBOM of IMAGE (REPO:TAG or REPO@DIGEST); inventories the image if no scan did."""
    from dockyard.errors import DockyardError
    from dockyard.scanning import sbom
    from dockyard.scanning.service import merged_inventory

    services = _services()
    caller = services.identity.store.principal_by_name("user", user)
    if caller is None:
        raise click.ClickException(f"no IAM user {user!r}")
    resolver = getattr(services.identity, "resolver", None)  # the user's policies, as at sign-in
    if resolver is not None:
        caller = resolver.user(caller)
    name, reference = parse_image_reference(image)
    try:
        resolved, found = services.scanning.inventory(caller, name, reference, build=True)
    except DockyardError as exc:
        raise click.ClickException(exc.message) from None
    document = sbom.render(fmt, merged_inventory(found), name, str(resolved.image_id.digest),
                           services.scanning.clock.now())
    if output is not None:
        output.write_text(document + "\n")
    else:
        sys.stdout.write(document + "\n")
