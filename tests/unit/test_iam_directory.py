"""IAM services in process: identity-policy resolution, console passwords (hashes, lock-out),
the 0006 migration of the old per-principal policies, and the AssumeRole trust rules."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select

from dockyard.app import bootstrap, build_services
from dockyard.domain.models import Principal
from dockyard.errors import (
    AccessDenied,
    ExpiredToken,
    IamLimitExceeded,
    IncorrectPassword,
    Unauthenticated,
)
from dockyard.iam.aws_managed import ADMINISTRATOR_ACCESS_ARN, AWS_MANAGED
from dockyard.iam.passwords import LOCK_AFTER
from dockyard.metadata.engine import make_engine
from dockyard.metadata.migrate import alembic_config, upgrade
from dockyard.metadata.tables import (
    iam_attachments,
    iam_inline_policies,
    iam_login_profiles,
    principals,
)
from dockyard.services import Services
from dockyard.settings import Settings

READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
PULL_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(tmp_path: Path, clock: Clock) -> Services:
    settings = Settings(data_dir=tmp_path / "data", database_url="", region="us-east-1",
                        admin_access_key_id="AKIAUNITTESTADMIN001",
                        admin_secret_access_key="unitTestSecretKey/0123456789abcdefghijKL",
                        secret_key=None, jobs_in_server=False)
    bootstrap(settings)
    return build_services(settings, clock)


@pytest.fixture
def root(services: Services) -> Principal:
    identity = services.identity
    row = identity.store.principal_by_name("user", "admin")
    assert row is not None
    return identity.resolver.user(row)


def _user(services: Services, name: str) -> Principal:
    row = services.identity.store.principal_by_name("user", name)
    assert row is not None
    return services.identity.resolver.user(row)


def _doc(*actions: str, effect: str = "Allow") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": effect, "Action": list(actions), "Resource": "*"}]})


# --- resolution -----------------------------------------------------------------------------------
def test_the_administrator_holds_administrator_access_as_an_attachment(services: Services,
                                                                      root: Principal) -> None:
    assert services.identity.iam_store.attached("user", root.id) == [ADMINISTRATOR_ACCESS_ARN]
    assert root.policies == (AWS_MANAGED[ADMINISTRATOR_ACCESS_ARN].document,)
    assert root.username == "admin" and root.user_id == root.id and root.account


def test_a_users_policies_include_its_groups_and_managed_default_versions(
        services: Services, root: Principal) -> None:
    directory, permissions = services.directory, services.permissions
    directory.create_user(root, "dev", tags=[("team", "blue")])
    permissions.put_inline(root, "user", "dev", "own", _doc("ecr:ListImages"))
    permissions.attach(root, "user", "dev", PULL_ONLY)
    directory.create_group(root, "devs")
    directory.add_user_to_group(root, "devs", "dev")
    permissions.put_inline(root, "group", "devs", "group-inline", _doc("ecr:DescribeImages"))
    managed = permissions.create_policy(root, "custom", _doc("ecr:TagResource"))
    permissions.attach(root, "group", "devs", managed.arn)
    permissions.create_policy_version(root, managed.arn, _doc("ecr:UntagResource"),
                                      set_as_default=True)

    dev = _user(services, "dev")
    actions = sorted(a for d in dev.policies for s in d["Statement"] for a in s["Action"])
    assert actions == sorted(["ecr:ListImages", "ecr:DescribeImages", "ecr:UntagResource",
                              *AWS_MANAGED[PULL_ONLY].document["Statement"][0]["Action"]])
    assert dev.tags == {"team": "blue"} and dev.username == "dev"

    directory.remove_user_from_group(root, "devs", "dev")
    actions = {a for d in _user(services, "dev").policies for s in d["Statement"]
               for a in s["Action"]}
    assert "ecr:DescribeImages" not in actions and "ecr:UntagResource" not in actions


def test_iam_operations_check_their_own_action(services: Services, root: Principal) -> None:
    services.directory.create_user(root, "limited")
    services.permissions.put_inline(root, "user", "limited", "p", _doc("iam:GetUser"))
    limited = _user(services, "limited")
    assert services.directory.get_user(limited, "admin").name == "admin"
    with pytest.raises(AccessDenied, match="iam:ListUsers"):
        services.directory.list_users(limited)
    with pytest.raises(AccessDenied, match="iam:CreateUser"):
        services.directory.create_user(limited, "other")
    with pytest.raises(Unauthenticated):
        services.directory.get_user(None, "admin")


# --- console passwords ----------------------------------------------------------------------------
def test_console_passwords_are_stored_as_argon2_hashes(services: Services, root: Principal) -> None:
    services.directory.create_user(root, "webuser")
    services.directory.create_login_profile(root, "webuser", "a long console password")
    with services.identity.store.db.read() as c:
        stored = c.execute(select(iam_login_profiles.c.password_hash)).scalar()
    assert stored.startswith("$argon2id$") and "a long console password" not in stored
    assert services.directory.authenticate_console("webuser", "a long console password").name \
        == "webuser"


def test_console_sign_in_locks_after_repeated_failures(services: Services, root: Principal,
                                                       clock: Clock) -> None:
    services.directory.create_user(root, "target")
    services.directory.create_login_profile(root, "target", "the right password")
    for _ in range(LOCK_AFTER):
        with pytest.raises(Unauthenticated):
            services.directory.authenticate_console("target", "guess")
    with pytest.raises(Unauthenticated):  # locked: even the right password is refused
        services.directory.authenticate_console("target", "the right password")
    clock.moment += timedelta(minutes=16)
    assert services.directory.authenticate_console("target", "the right password").name == "target"
    with pytest.raises(Unauthenticated):
        services.directory.authenticate_console("nobody", "the right password")


def test_change_password_counts_wrong_old_passwords_towards_the_lock_out(
        services: Services, root: Principal, clock: Clock) -> None:
    directory = services.directory
    directory.create_user(root, "changer")
    directory.create_login_profile(root, "changer", "the right password", reset_required=True)
    changer = _user(services, "changer")
    for _ in range(LOCK_AFTER):
        with pytest.raises(IncorrectPassword):
            directory.change_password(changer, "a guess", "a new password")
    with pytest.raises(IamLimitExceeded):  # locked: the right password is refused too
        directory.change_password(changer, "the right password", "a new password")
    with pytest.raises(Unauthenticated):  # and so is the console sign-in
        directory.authenticate_console("changer", "the right password")
    clock.moment += timedelta(minutes=16)
    directory.change_password(changer, "the right password", "a new password")
    profile = directory.get_login_profile(root, "changer")
    assert profile.password_reset_required is False and profile.failed_attempts == 0
    assert directory.authenticate_console("changer", "a new password").name == "changer"


def test_an_explicit_deny_overrides_the_reset_grant_of_change_password(
        services: Services, root: Principal) -> None:
    directory = services.directory
    directory.create_user(root, "denied")
    services.permissions.put_inline(root, "user", "denied", "no",
                                    _doc("iam:ChangePassword", effect="Deny"))
    directory.create_login_profile(root, "denied", "the right password", reset_required=True)
    with pytest.raises(AccessDenied):
        directory.change_password(_user(services, "denied"), "the right password", "new one 1")
    assert directory.get_login_profile(root, "denied").password_reset_required is True


# --- AssumeRole trust -----------------------------------------------------------------------------
def _trust(principal: object, effect: str = "Allow", action: object = "sts:AssumeRole") -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": effect, "Principal": principal, "Action": action}]})


def test_trust_rules(services: Services, root: Principal) -> None:
    account = root.account
    directory, sts = services.directory, services.sts
    directory.create_user(root, "named")
    directory.create_user(root, "other")
    named_arn = f"arn:aws:iam::{account}:user/named"
    directory.create_role(root, "by-name", _trust({"AWS": named_arn}))
    directory.create_role(root, "by-account", _trust({"AWS": account}))
    directory.create_role(root, "anyone", _trust("*"))
    directory.create_role(root, "service", _trust({"Service": "ec2.amazonaws.com"}))
    role = f"arn:aws:iam::{account}:role/"
    named, other = _user(services, "named"), _user(services, "other")

    assert sts.assume_role(named, role + "by-name", "s1").role.name == "by-name"
    for caller, target in ((other, "by-name"), (named, "by-account"), (other, "service"),
                           (root, "by-name"), (root, "service")):
        with pytest.raises(AccessDenied):
            sts.assume_role(caller, role + target, "s1")
    assert sts.assume_role(root, role + "by-account", "s1")  # identity policy allows
    assert sts.assume_role(other, role + "anyone", "s1")


def test_sessions_expire_and_resolve_to_the_role(services: Services, root: Principal,
                                                 clock: Clock) -> None:
    account = root.account
    services.directory.create_role(root, "r", _trust({"AWS": f"arn:aws:iam::{account}:root"},
                                                     action=["sts:AssumeRole", "sts:TagSession"]),
                                   tags=[("env", "prod")])
    services.permissions.attach(root, "role", "r", READ_ONLY)
    issued = services.sts.assume_role(root, f"arn:aws:iam::{account}:role/r", "sess",
                                      duration=900, tags=[("env", "dev")])
    identity = services.identity
    session, role = identity._session(issued.session.access_key_id, issued.session_token)
    principal = identity.resolver.session(session, role)
    assert principal.arn == f"arn:aws:sts::{account}:assumed-role/r/sess"
    assert principal.role_arn == role.arn and principal.session_name == "sess"
    assert principal.user_id == f"{role.id}:sess" and principal.username is None
    assert principal.tags == {"env": "dev"}  # session tags override the role's
    assert principal.policies == (AWS_MANAGED[READ_ONLY].document,)
    assert session.token_sha256 != issued.session_token  # only a hash is stored
    clock.moment += timedelta(seconds=901)
    with pytest.raises(ExpiredToken):
        identity._session(issued.session.access_key_id, issued.session_token)


# --- migration 0006 -------------------------------------------------------------------------------
def test_migration_moves_principal_policies_to_attachments_and_inline(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0003")
    admin_doc = {"Version": "2012-10-17",
                 "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    other_doc = {"Version": "2012-10-17",
                 "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}
    now = datetime.now(timezone.utc)
    with engine.begin() as c:
        c.execute(principals.insert().values(id="AIDAOLD", kind="user", name="admin",
                                             arn="arn:aws:iam::1:user/admin",
                                             policies=[admin_doc, other_doc], created_at=now))
    upgrade(engine)
    with engine.connect() as c:
        assert c.execute(select(principals.c.policies, principals.c.path)).one() == ([], "/")
        assert c.execute(select(iam_attachments.c.policy_arn)).scalars().all() == [
            ADMINISTRATOR_ACCESS_ARN]
        inline = c.execute(select(iam_inline_policies.c.name,
                                  iam_inline_policies.c.document)).one()
        assert inline.name == "Policy2" and json.loads(inline.document) == other_doc
