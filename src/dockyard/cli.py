"""The ``dockyard`` command: serve, and administration of access keys and the database."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click

from dockyard.settings import Settings


def _settings() -> Settings:
    return Settings()


@click.group()
def main() -> None:
    """Dockyard: a self-hosted, open-source Amazon ECR."""


@main.command()
@click.option("--host", help="Address to listen on [DOCKYARD_HOST, default 127.0.0.1].")
@click.option("--port", type=int, help="Port to listen on [DOCKYARD_PORT, default 5000].")
@click.option("--data-dir", type=click.Path(path_type=Path),
              help="Where metadata and blobs live [DOCKYARD_DATA_DIR, default ./data].")
@click.option("--workers", type=int, help="Worker processes [DOCKYARD_WORKERS, default 1].")
def serve(host: str | None, port: int | None, data_dir: Path | None, workers: int | None) -> None:
    """Run the registry (OCI Distribution API, aws ecr API) on one port."""
    for name, value in (("HOST", host), ("PORT", port), ("DATA_DIR", data_dir), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"DOCKYARD_{name}"] = str(value)
    settings = _settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from dockyard.app import bootstrap, open_identity

    created = bootstrap(settings)
    db, identity, _ = open_identity(settings)
    info = identity.registry
    # Granian forks the workers: an SQLite connection open across fork leaves a worker believing
    # it holds file locks it does not, and another process (a CLI command) may then checkpoint and
    # delete the WAL under it, losing its writes. Close every connection before serving.
    db.dispose()
    if created is not None:
        _print_first_start(settings, info.registry_id, created.access_key_id,
                           None if settings.admin_secret_access_key else created.secret_access_key)
    click.echo(f"Dockyard registry {info.registry_id} ({info.region}) serving on {settings.endpoint}",
               err=True)
    from dockyard.server import serve as run_server

    run_server(settings)  # until SIGTERM/SIGINT; requests in progress finish (docs/deployment.md)


def _print_first_start(settings: Settings, registry_id: str, key_id: str, secret: str | None) -> None:
    region, endpoint = settings.region, settings.endpoint
    secret_line = (f"  aws configure set aws_secret_access_key {secret}" if secret else
                   "  aws configure set aws_secret_access_key <DOCKYARD_ADMIN_SECRET_ACCESS_KEY>")
    click.echo("\n".join([
        f"Created registry {registry_id} in {region} with an administrator access key.",
        "The secret access key is shown only this once; store it now:",
        f"  aws configure set aws_access_key_id {key_id}",
        secret_line,
        f"  aws configure set region {region}",
        f"  export AWS_ENDPOINT_URL={endpoint}",
        "Then log docker in:",
        f"  aws ecr get-login-password --region {region} | "
        f"docker login --username AWS --password-stdin {settings.registry_host}",
        f"The web console is at {endpoint}/console/ (sign in with this access key).",
        "",
    ]))


@main.group("access-key")
def access_key() -> None:
    """Create, list, rotate, deactivate and delete access keys."""


def _identity():  # type: ignore[no-untyped-def]
    from dockyard.app import bootstrap, open_identity

    settings = _settings()
    bootstrap(settings)
    return open_identity(settings)[1]


@access_key.command("create")
@click.option("--user", default="admin", show_default=True, help="The IAM user that owns the key.")
def create_key(user: str) -> None:
    """Create an access key; its secret is printed once."""
    key = _identity().create_access_key(user)
    click.echo(f"AccessKeyId: {key.access_key_id}\nSecretAccessKey: {key.secret_access_key}")


@access_key.command("list")
def list_keys() -> None:
    """List access keys (never their secrets)."""
    for key, principal in _identity().list_access_keys():
        used = key.last_used_at.isoformat() if key.last_used_at else "never"
        owner = principal.name if principal else "?"
        click.echo(f"{key.access_key_id}  {owner:<16} {key.status:<8} created "
                   f"{key.created_at.isoformat()}  last used {used}")


@access_key.command("rotate")
@click.argument("access_key_id")
def rotate_key(access_key_id: str) -> None:
    """Create a new key for the same user and deactivate the old one."""
    key = _identity().rotate_access_key(access_key_id)
    click.echo(f"AccessKeyId: {key.access_key_id}\nSecretAccessKey: {key.secret_access_key}\n"
               f"{access_key_id} is now Inactive; delete it once nothing uses it.")


@access_key.command("deactivate")
@click.argument("access_key_id")
def deactivate_key(access_key_id: str) -> None:
    _identity().set_access_key_status(access_key_id, "Inactive")
    click.echo(f"{access_key_id} is now Inactive")


@access_key.command("activate")
@click.argument("access_key_id")
def activate_key(access_key_id: str) -> None:
    _identity().set_access_key_status(access_key_id, "Active")
    click.echo(f"{access_key_id} is now Active")


@access_key.command("delete")
@click.argument("access_key_id")
def delete_key(access_key_id: str) -> None:
    """Delete an access key; registry passwords issued with it stop working."""
    _identity().delete_access_key(access_key_id)
    click.echo(f"{access_key_id} deleted")


@main.command()
def worker() -> None:
    """Run background jobs (scans, lifecycle, GC) in this process; pair with
    DOCKYARD_JOBS_IN_SERVER=false on the servers when jobs should not run there."""
    import asyncio

    from dockyard.app import bootstrap, build_services

    settings = _settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    bootstrap(settings)
    services = build_services(settings)
    click.echo(f"worker {services.runner.owner} running jobs: {', '.join(services.runner.handlers)}",
               err=True)
    asyncio.run(services.runner.run_forever())


def _add_scanning_commands() -> None:
    from dockyard.scanning.commands import sbom_command, vulndb

    main.add_command(vulndb)
    main.add_command(sbom_command)


_add_scanning_commands()


def _add_lifecycle_and_gc_commands() -> None:
    from dockyard.gc.commands import gc_command, quota, storage
    from dockyard.lifecycle.commands import lifecycle

    for command in (lifecycle, gc_command, storage, quota):
        main.add_command(command)


_add_lifecycle_and_gc_commands()


def _add_iam_and_audit_commands() -> None:
    from dockyard.audit.commands import audit
    from dockyard.iamapi.commands import iam

    for command in (iam, audit):
        main.add_command(command)


_add_iam_and_audit_commands()


def _add_scale_out_commands() -> None:
    from dockyard.storage_migration import migrate_storage

    main.add_command(migrate_storage)


_add_scale_out_commands()


@main.group("repository")
def repository() -> None:
    """Repositories as the local operator (the account root) sees them."""


def _operator_services():  # type: ignore[no-untyped-def]
    from dockyard.app import bootstrap, build_services
    from dockyard.domain.models import Principal
    from dockyard.iam.policy import ADMINISTRATOR_ACCESS

    settings = _settings()
    bootstrap(settings)
    services = build_services(settings)
    account = services.identity.registry.registry_id
    root = Principal(id=account, kind="user", name="root", arn=f"arn:aws:iam::{account}:root",
                     policies=(ADMINISTRATOR_ACCESS,), account=account)
    return services, root


@repository.command("list")
def list_repositories() -> None:
    """Name, visibility, tag mutability and URI of every repository."""
    services, root = _operator_services()
    token = None
    while True:
        repos, token = services.repositories.describe(root, next_token=token, max_results=1000,
                                                      deny_if_none=False)
        for repo in repos:
            click.echo(f"{repo.name:<40} {'public' if repo.public else 'private':<8} "
                       f"{repo.tag_mutability:<26} {services.repositories.address.repository_uri(repo.name)}")
        if not token:
            return


@repository.command("visibility")
@click.argument("name")
@click.argument("visibility", type=click.Choice(["public", "private"]))
def set_visibility(name: str, visibility: str) -> None:
    """Make a repository public (anyone may pull it without logging in) or private."""
    services, root = _operator_services()
    services.repository_settings.set_public(root, name, visibility == "public")
    click.echo(f"{name} is now {visibility}")


@main.command()
def migrate() -> None:
    """Apply database migrations (also done on every start)."""
    from dockyard.metadata.engine import make_engine
    from dockyard.metadata.migrate import upgrade

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(make_engine(settings.sqlalchemy_url))
    click.echo("database is at the latest schema")
