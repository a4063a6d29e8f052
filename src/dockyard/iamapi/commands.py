"""``dockyard iam ...``: administer IAM from the registry host (as the account's root user)."""

from __future__ import annotations

import click

from dockyard.domain.iam import USER
from dockyard.domain.models import Principal
from dockyard.iam.aws_managed import ADMINISTRATOR_ACCESS_ARN, AWS_MANAGED


def _open():  # type: ignore[no-untyped-def]
    from dockyard.app import bootstrap, open_identity
    from dockyard.iam.directory import Directory
    from dockyard.iam.permissions import Permissions
    from dockyard.ports import SystemClock
    from dockyard.settings import Settings

    settings = Settings()
    bootstrap(settings)
    _, identity, authz = open_identity(settings)
    clock = SystemClock()

    def account() -> str:
        return identity.registry.registry_id

    directory = Directory(identity.iam_store, identity, authz, clock, account)
    root = Principal("root", USER, "root", f"arn:aws:iam::{account()}:root",
                     (AWS_MANAGED[ADMINISTRATOR_ACCESS_ARN].document,), account=account())
    return root, directory, Permissions(identity.iam_store, directory, authz, clock, account)


@click.group("iam")
def iam() -> None:
    """Users, access keys and policies (the same as `aws iam ...` against the endpoint)."""


@iam.command("create-user")
@click.argument("name")
@click.option("--policy", "policies", multiple=True, metavar="NAME_OR_ARN",
              help="Attach a managed policy, e.g. AmazonEC2ContainerRegistryReadOnly (repeatable).")
@click.option("--group", "groups", multiple=True, help="Add the user to this group (repeatable).")
@click.option("--access-key/--no-access-key", default=False,
              help="Also create an access key and print its secret once.")
def create_user(name: str, policies: tuple[str, ...], groups: tuple[str, ...],
                access_key: bool) -> None:
    """Create an IAM user, attach managed policies to it, and optionally give it a key."""
    root, directory, permissions = _open()
    arns = [permissions.managed_policy_arn(p) for p in policies]  # fail before creating anything
    user = directory.create_user(root, name)
    for arn in arns:
        permissions.attach(root, USER, name, arn)
    for group in groups:
        directory.add_user_to_group(root, group, name)
    click.echo(f"Created {user.arn}")
    for arn in arns:
        click.echo(f"Attached {arn}")
    if access_key:
        key = directory.create_access_key(root, name)
        click.echo(f"AccessKeyId: {key.access_key_id}\nSecretAccessKey: {key.secret_access_key}")


@iam.command("attach-policy")
@click.argument("user")
@click.argument("policy", metavar="NAME_OR_ARN")
def attach_policy(user: str, policy: str) -> None:
    """Attach a managed policy to a user."""
    root, _, permissions = _open()
    arn = permissions.managed_policy_arn(policy)
    permissions.attach(root, USER, user, arn)
    click.echo(f"Attached {arn} to {user}")


@iam.command("list-users")
def list_users() -> None:
    """Users with their attached policies."""
    root, directory, permissions = _open()
    for user in directory.list_users(root):
        attached = ", ".join(p.name for p in permissions.list_attached(root, USER, user.name))
        click.echo(f"{user.name:<24} {user.arn}  [{attached}]")
