"""STS with boto3 and the aws CLI against a live server: GetCallerIdentity, AssumeRole with trust
policies that allow and refuse, temporary credentials on every API until they expire."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from starlette.testclient import TestClient

from dockyard.app import DockyardApp, bootstrap, build_services
from dockyard.errors import ExpiredToken
from e2e.clients import aws

from .conftest import REGION, make_settings
from .iam_server import (  # noqa: F401 - fixtures
    Aws,
    Keys,
    account,
    admin,
    allow,
    deny,
    error_code,
    new_user,
    policy,
    server,
    status,
)

READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"


def trust(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trusting(principal: str | dict, *, action: str | list[str] = "sts:AssumeRole",
             effect: str = "Allow", condition: dict | None = None) -> dict:
    statement = {"Effect": effect, "Principal": principal if isinstance(principal, (str, dict))
                 else principal, "Action": action}
    if isinstance(principal, str) and principal != "*":
        statement["Principal"] = {"AWS": principal}
    if condition:
        statement["Condition"] = condition
    return statement


def session(base: Aws, credentials: dict) -> Aws:
    return Aws(base.server, Keys(credentials["AccessKeyId"], credentials["SecretAccessKey"],
                                 credentials["SessionToken"]))


def make_role(admin: Aws, name: str, trust_text: str, *policies: str,
              max_session: int | None = None) -> str:
    params = {"MaxSessionDuration": max_session} if max_session else {}
    arn = admin.iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_text,
                                **params)["Role"]["Arn"]
    for policy_arn in policies:
        admin.iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return arn


# --- GetCallerIdentity ----------------------------------------------------------------------------
def test_get_caller_identity_needs_no_permission(admin: Aws, account: str) -> None:
    me = admin.sts.get_caller_identity()
    assert me["Account"] == account and me["Arn"] == f"arn:aws:iam::{account}:user/admin"
    assert me["UserId"].startswith("AIDA")
    nobody = new_user(admin, "nopolicies")
    assert nobody.sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{account}:user/nopolicies"


# --- AssumeRole: trust ----------------------------------------------------------------------------
def test_assumed_role_credentials_work_on_every_api(admin: Aws, account: str) -> None:
    bob = new_user(admin, "bob")
    role_arn = make_role(admin, "reader", trust(trusting(f"arn:aws:iam::{account}:user/bob")),
                         READ_ONLY)
    before = datetime.now(timezone.utc)
    result = bob.sts.assume_role(RoleArn=role_arn, RoleSessionName="build-42",
                                 DurationSeconds=900)
    credentials = result["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["AccessKeyId"]) == 20
    assert timedelta(seconds=895) <= credentials["Expiration"] - before <= timedelta(seconds=905)
    assumed = f"arn:aws:sts::{account}:assumed-role/reader/build-42"
    assert result["AssumedRoleUser"]["Arn"] == assumed
    role_id = admin.iam.get_role(RoleName="reader")["Role"]["RoleId"]
    assert result["AssumedRoleUser"]["AssumedRoleId"] == f"{role_id}:build-42"

    temporary = session(bob, credentials)
    me = temporary.sts.get_caller_identity()
    assert me == {**me, "Arn": assumed, "UserId": f"{role_id}:build-42", "Account": account}
    temporary.ecr.describe_repositories()  # the role's policies, not bob's (he has none)
    with pytest.raises(ClientError):
        bob.ecr.describe_repositories()
    with pytest.raises(ClientError) as exc:
        temporary.ecr.create_repository(repositoryName="sts/denied")
    assert error_code(exc) == "AccessDeniedException"
    assert assumed in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        temporary.iam.list_users()
    assert error_code(exc) == "AccessDenied"
    assert admin.iam.get_role(RoleName="reader")["Role"]["RoleLastUsed"].get("LastUsedDate")


def test_a_trust_policy_naming_someone_else_refuses(admin: Aws, account: str) -> None:
    new_user(admin, "trusted")
    mallory = new_user(admin, "mallory", policies=("arn:aws:iam::aws:policy/AdministratorAccess",))
    role_arn = make_role(admin, "private", trust(trusting(f"arn:aws:iam::{account}:user/trusted")),
                         FULL_ACCESS)
    for caller in (mallory, admin):  # not even an administrator, when the trust names only one
        with pytest.raises(ClientError) as exc:
            caller.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")
        assert error_code(exc) == "AccessDenied" and status(exc) == 403
        assert f"is not authorized to perform: sts:AssumeRole on resource: {role_arn}" in \
            exc.value.response["Error"]["Message"]


def test_a_missing_role_is_refused_like_an_untrusted_one(admin: Aws, account: str) -> None:
    with pytest.raises(ClientError) as exc:
        admin.sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/ghost", RoleSessionName="s1")
    assert error_code(exc) == "AccessDenied"
    with pytest.raises(ClientError) as exc:
        admin.sts.assume_role(RoleArn="arn:aws:iam::999999999999:role/elsewhere",
                              RoleSessionName="s1")
    assert error_code(exc) == "AccessDenied"


def test_trusting_the_account_delegates_to_identity_policies(admin: Aws, account: str) -> None:
    role_arn = make_role(admin, "delegated", trust(trusting(f"arn:aws:iam::{account}:root")),
                         READ_ONLY)
    plain = new_user(admin, "plain")
    with pytest.raises(ClientError) as exc:
        plain.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")
    assert error_code(exc) == "AccessDenied"
    allowed = new_user(admin, "mayassume", inline=policy(allow("sts:AssumeRole", role_arn)))
    allowed.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")
    admin.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")  # AdministratorAccess
    number_role = make_role(admin, "delegated-number", trust(trusting(account)))
    with pytest.raises(ClientError):
        plain.sts.assume_role(RoleArn=number_role, RoleSessionName="s1")
    allowed_number = new_user(admin, "mayassume2", inline=policy(allow("sts:AssumeRole")))
    allowed_number.sts.assume_role(RoleArn=number_role, RoleSessionName="s1")


def test_explicit_denies_win(admin: Aws, account: str) -> None:
    user_arn = f"arn:aws:iam::{account}:user/denied1"
    denied = new_user(admin, "denied1")
    role_arn = make_role(admin, "denying", trust(
        trusting(f"arn:aws:iam::{account}:root"), trusting(user_arn),
        trusting(user_arn, effect="Deny")))
    with pytest.raises(ClientError) as exc:
        denied.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")
    assert error_code(exc) == "AccessDenied"

    self_denied = new_user(admin, "denied2", inline=policy(deny("sts:AssumeRole")))
    role2 = make_role(admin, "trusting2", trust(trusting(f"arn:aws:iam::{account}:user/denied2")))
    with pytest.raises(ClientError):
        self_denied.sts.assume_role(RoleArn=role2, RoleSessionName="s1")


def test_trust_conditions_see_the_request(admin: Aws, account: str) -> None:
    user_arn = f"arn:aws:iam::{account}:user/conditional"
    user = new_user(admin, "conditional")
    external = make_role(admin, "external", trust(trusting(
        user_arn, condition={"StringEquals": {"sts:ExternalId": "s3cret"}})))
    with pytest.raises(ClientError):
        user.sts.assume_role(RoleArn=external, RoleSessionName="s1")
    with pytest.raises(ClientError):
        user.sts.assume_role(RoleArn=external, RoleSessionName="s1", ExternalId="wrong")
    user.sts.assume_role(RoleArn=external, RoleSessionName="s1", ExternalId="s3cret")

    local = make_role(admin, "local-only", trust(trusting(
        user_arn, condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})))
    user.sts.assume_role(RoleArn=local, RoleSessionName="s1")
    remote = make_role(admin, "remote-only", trust(trusting(
        user_arn, condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})))
    with pytest.raises(ClientError):
        user.sts.assume_role(RoleArn=remote, RoleSessionName="s1")


def test_session_tags_need_tag_session_and_become_principal_tags(admin: Aws,
                                                                 account: str) -> None:
    user_arn = f"arn:aws:iam::{account}:user/tagger"
    user = new_user(admin, "tagger")
    tagged_only = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "ecr:DescribeRepositories", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/project": "apollo"}}}]})
    no_tagging = make_role(admin, "notagging", trust(trusting(user_arn)))
    with pytest.raises(ClientError) as exc:
        user.sts.assume_role(RoleArn=no_tagging, RoleSessionName="s1",
                             Tags=[{"Key": "project", "Value": "apollo"}])
    assert error_code(exc) == "AccessDenied"
    role_arn = make_role(admin, "tagging", trust(trusting(
        user_arn, action=["sts:AssumeRole", "sts:TagSession"])))
    admin.iam.put_role_policy(RoleName="tagging", PolicyName="tagged", PolicyDocument=tagged_only)
    untagged = session(user, user.sts.assume_role(RoleArn=role_arn,
                                                  RoleSessionName="s1")["Credentials"])
    with pytest.raises(ClientError):
        untagged.ecr.describe_repositories()
    result = user.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1",
                                  Tags=[{"Key": "project", "Value": "apollo"}])
    assert result["PackedPolicySize"] >= 1
    session(user, result["Credentials"]).ecr.describe_repositories()


# --- AssumeRole: durations ------------------------------------------------------------------------
def test_duration_bounds(admin: Aws, account: str) -> None:
    role_arn = make_role(admin, "durations", trust(trusting(f"arn:aws:iam::{account}:root")),
                         max_session=7200)
    unchecked = admin.client("sts", parameter_validation=False)
    for seconds in (899, 7201):
        with pytest.raises(ClientError) as exc:
            unchecked.assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=seconds)
        assert error_code(exc) == "ValidationError" and status(exc) == 400
    now = datetime.now(timezone.utc)
    long = admin.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", DurationSeconds=7200)
    assert long["Credentials"]["Expiration"] - now > timedelta(seconds=7100)
    default = admin.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")
    assert timedelta(seconds=3500) < default["Credentials"]["Expiration"] - now < \
        timedelta(seconds=3700)

    # role chaining: a session assuming a role gets at most one hour
    chained_arn = make_role(admin, "chained", trust(trusting(role_arn)))
    first = session(admin, long["Credentials"])
    with pytest.raises(ClientError) as exc:
        first.sts.assume_role(RoleArn=chained_arn, RoleSessionName="c1", DurationSeconds=3601)
    assert error_code(exc) == "ValidationError"
    chained = first.sts.assume_role(RoleArn=chained_arn, RoleSessionName="c1")
    assert chained["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/chained/c1"


def test_invalid_session_names_are_refused(admin: Aws, account: str) -> None:
    unchecked = admin.client("sts", parameter_validation=False)
    with pytest.raises(ClientError) as exc:
        unchecked.assume_role(RoleArn=f"arn:aws:iam::{account}:role/x", RoleSessionName="a b")
    assert error_code(exc) == "ValidationError"


# --- temporary credentials ------------------------------------------------------------------------
def test_the_session_token_is_required_and_checked(admin: Aws, account: str) -> None:
    role_arn = make_role(admin, "tokens", trust(trusting(f"arn:aws:iam::{account}:root")),
                         READ_ONLY)
    credentials = admin.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1")["Credentials"]
    good = session(admin, credentials)
    good.sts.get_caller_identity()
    for token in (None, credentials["SessionToken"][:-4] + "AAAA"):
        wrong = Aws(admin.server, Keys(credentials["AccessKeyId"], credentials["SecretAccessKey"],
                                       token))
        with pytest.raises(ClientError) as exc:
            wrong.sts.get_caller_identity()
        assert error_code(exc) == "InvalidClientTokenId" and status(exc) == 403
        with pytest.raises(ClientError) as exc:
            wrong.ecr.describe_repositories()
        assert error_code(exc) == "UnrecognizedClientException"
    long_term = Aws(admin.server, Keys(admin.keys.access_key_id, admin.keys.secret_access_key,
                                       credentials["SessionToken"]))
    with pytest.raises(ClientError) as exc:  # a token with long-term keys is refused too
        long_term.sts.get_caller_identity()
    assert error_code(exc) == "InvalidClientTokenId"


def test_a_session_logs_docker_in_and_ends_with_its_role(admin: Aws, account: str) -> None:
    role_arn = make_role(admin, "puller", trust(trusting(f"arn:aws:iam::{account}:root")),
                         READ_ONLY)
    credentials = admin.sts.assume_role(RoleArn=role_arn, RoleSessionName="ci",
                                        DurationSeconds=900)["Credentials"]
    temporary = session(admin, credentials)
    data = temporary.ecr.get_authorization_token()["authorizationData"][0]
    assert data["expiresAt"] <= credentials["Expiration"] + timedelta(seconds=1)
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    assert httpx.get(admin.server.endpoint + "/v2/", headers={"Authorization": auth}
                     ).status_code == 200

    admin.iam.detach_role_policy(RoleName="puller", PolicyArn=READ_ONLY)
    admin.iam.delete_role(RoleName="puller")
    with pytest.raises(ClientError) as exc:
        temporary.sts.get_caller_identity()
    assert error_code(exc) == "InvalidClientTokenId"
    deadline = time.monotonic() + 10  # a node caches a good password check for up to 5 s
    while httpx.get(admin.server.endpoint + "/v2/", headers={"Authorization": auth}
                    ).status_code != 401:
        assert time.monotonic() < deadline, "the password outlived its role"
        time.sleep(0.5)


def test_a_session_policy_narrows_the_role(admin: Aws, account: str) -> None:
    role_arn = make_role(admin, "narrowed", trust(trusting(f"arn:aws:iam::{account}:root")),
                         FULL_ACCESS)
    credentials = admin.sts.assume_role(
        RoleArn=role_arn, RoleSessionName="s1",
        Policy=policy(allow("ecr:DescribeRepositories")))["Credentials"]
    narrowed = session(admin, credentials)
    narrowed.ecr.describe_repositories()
    with pytest.raises(ClientError):
        narrowed.ecr.create_repository(repositoryName="sts/narrowed")


def test_malformed_session_policies_are_refused(admin: Aws, account: str) -> None:
    role_arn = make_role(admin, "sessionpolicy", trust(trusting(f"arn:aws:iam::{account}:root")))
    with pytest.raises(ClientError) as exc:
        admin.sts.assume_role(RoleArn=role_arn, RoleSessionName="s1", Policy="{not json")
    assert error_code(exc) == "MalformedPolicyDocument"


def test_aws_cli_assume_role_and_get_caller_identity(server, admin: Aws,  # noqa: F811
                                                     account: str) -> None:
    role_arn = make_role(admin, "clirole", trust(trusting(f"arn:aws:iam::{account}:root")),
                         READ_ONLY)
    env = server.env()
    result = json.loads(aws(env, "sts", "assume-role", "--role-arn", role_arn,
                            "--role-session-name", "cli", "--duration-seconds", "900").stdout)
    credentials = result["Credentials"]
    session_env = {**server.env(credentials["AccessKeyId"], credentials["SecretAccessKey"]),
                   "AWS_SESSION_TOKEN": credentials["SessionToken"]}
    me = json.loads(aws(session_env, "sts", "get-caller-identity").stdout)
    assert me["Arn"] == f"arn:aws:sts::{account}:assumed-role/clirole/cli"
    aws(session_env, "ecr", "describe-repositories")


# --- expiry, with the server's clock moved forward (in-process, nothing mocked but the clock) -----
class MovableClock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


def _signed(client: TestClient, service: str, body: str, credentials: dict,
            headers: dict[str, str]) -> httpx.Response:
    request = AWSRequest("POST", "http://testserver/", data=body, headers=headers)
    SigV4Auth(Credentials(credentials["AccessKeyId"], credentials["SecretAccessKey"],
                          credentials["SessionToken"]), service, REGION).add_auth(request)
    return client.post("/", content=body, headers=dict(request.headers))


def test_temporary_credentials_expire(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    bootstrap(settings)
    clock = MovableClock()
    services = build_services(settings, clock)
    admin = services.identity.resolver.user(services.identity.store.principal_by_name("user",
                                                                                    "admin"))
    account = services.identity.registry.registry_id
    services.directory.create_role(admin, "expiring", trust(trusting(
        f"arn:aws:iam::{account}:root")))
    services.permissions.attach(admin, "role", "expiring", READ_ONLY)
    issued = services.sts.assume_role(admin, f"arn:aws:iam::{account}:role/expiring", "s1",
                                      duration=900)
    credentials = {"AccessKeyId": issued.session.access_key_id,
                   "SecretAccessKey": issued.secret_access_key,
                   "SessionToken": issued.session_token}
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    ecr = {"Content-Type": "application/x-amz-json-1.1",
           "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories"}
    identity_body = "Action=GetCallerIdentity&Version=2011-06-15"
    with TestClient(DockyardApp(services)) as client:
        assert _signed(client, "sts", identity_body, credentials, form).status_code == 200
        assert _signed(client, "ecr", "{}", credentials, ecr).status_code == 200
        password = services.identity.password(services.identity.issue_password(
            services.identity.resolver.session(
                services.identity.iam_store.session(issued.session.access_key_id),
                services.identity.iam_store.role("expiring")),
            issued.session.access_key_id))
        assert services.identity.authenticate_password(password).role_arn

        # one second before the end, however long the steps above took on a busy machine
        clock.offset = issued.session.expires_at - timedelta(seconds=1) - datetime.now(timezone.utc)
        assert _signed(client, "sts", identity_body, credentials, form).status_code == 200
        clock.offset = timedelta(seconds=901)
        expired = _signed(client, "sts", identity_body, credentials, form)
        assert expired.status_code == 403
        assert "<Code>ExpiredToken</Code>" in expired.text
        assert "The security token included in the request is expired" in expired.text
        expired = _signed(client, "ecr", "{}", credentials, ecr)
        assert expired.json()["__type"] == "ExpiredTokenException"
        services.identity._token_cache.clear()
        with pytest.raises(ExpiredToken):  # the registry password ends with the session
            services.identity.authenticate_password(password)
