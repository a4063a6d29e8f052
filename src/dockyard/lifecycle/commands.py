"""``dockyard lifecycle run [REPO] [--dry-run]`` and ``dockyard lifecycle history``."""

from __future__ import annotations

import json

import click

from dockyard.errors import DockyardError


def _lifecycle():  # type: ignore[no-untyped-def]
    from dockyard.app import bootstrap, build_services
    from dockyard.settings import Settings

    settings = Settings()
    bootstrap(settings)
    service = build_services(settings).lifecycle
    assert service is not None
    return service


@click.group("lifecycle")
def lifecycle() -> None:
    """Run lifecycle policies on demand and show what they expired."""


@lifecycle.command("run")
@click.argument("repository", required=False)
@click.option("--dry-run", is_flag=True, help="Show what would expire; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def run(repository: str | None, dry_run: bool, as_json: bool) -> None:
    """Apply the lifecycle policy of REPOSITORY (default: of every repository with one)."""
    try:
        report = _lifecycle().run(repository, dry_run=dry_run)
    except DockyardError as exc:
        raise click.ClickException(exc.message) from None
    if as_json:
        click.echo(json.dumps({
            "runId": report.run_id, "dryRun": dry_run, "repositories": report.repositories,
            "expired": [{"repositoryName": repo, "imageDigest": e.digest, "imageTags": list(e.tags),
                         "appliedRulePriority": e.rule_priority, "reason": e.reason,
                         "unit": e.unit} for repo, e in report.expired],
            "skipped": [{"repositoryName": repo, "imageDigest": e.digest}
                        for repo, e in report.skipped],
            "errors": report.errors}, indent=2))
    else:
        verb = "would expire" if dry_run else "expired"
        for repo, item in report.expired:
            tags = ",".join(item.tags) or "<untagged>"
            why = f"rule {item.rule_priority}" + ("" if item.reason == "rule" else
                                                  f", {item.reason} of {item.unit[:19]}")
            click.echo(f"{verb} {repo}@{item.digest} {tags} ({why})")
        for repo, item in report.skipped:
            click.echo(f"skipped {repo}@{item.digest}: changed since it was evaluated")
        for repo, error in report.errors.items():
            click.echo(f"error in {repo}: {error}", err=True)
        click.echo(f"{len(report.expired)} images {verb} in {len(report.repositories)} "
                   f"repositories (run {report.run_id})", err=True)
    if report.errors:
        raise SystemExit(1)


@lifecycle.command("history")
@click.argument("repository", required=False)
@click.option("--limit", default=50, show_default=True, help="How many expiries to show.")
def history(repository: str | None, limit: int) -> None:
    """Show recorded expiries, newest first: what, which rule, when."""
    for row in _lifecycle().store.expiries(repository, limit=limit):
        tags = ",".join(row["image_tags"]) or "<untagged>"
        click.echo(f"{row['expired_at'].isoformat()} {row['repository_name']}@{row['image_digest']} "
                   f"{tags} rule {row['rule_priority']} ({row['reason']}) run {row['run_id']}")
