"""The IAM query API with boto3 and the aws CLI against a live server: every operation's happy
path, AWS's errors, and that identities and their policies decide what a caller may do."""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from botocore.exceptions import ClientError

from e2e.clients import aws

from .iam_server import (  # noqa: F401 - fixtures
    Aws,
    Keys,
    account,
    admin,
    allow,
    deny,
    dockyard_cli,
    error_code,
    new_user,
    policy,
    server,
    status,
)

READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
PULL_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"
POWER_USER = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"
FULL_ACCESS = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"
CHANGE_PASSWORD = "arn:aws:iam::aws:policy/IAMUserChangePassword"
TRUST_ACCOUNT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"%s"},' \
                '"Action":"sts:AssumeRole"}]}'


# --- users ----------------------------------------------------------------------------------------
def test_user_lifecycle(admin: Aws, account: str) -> None:
    created = admin.iam.create_user(UserName="alice", Path="/engineering/",
                                    Tags=[{"Key": "team", "Value": "build"}])["User"]
    assert created["Arn"] == f"arn:aws:iam::{account}:user/engineering/alice"
    assert created["UserId"].startswith("AIDA") and len(created["UserId"]) == 21
    assert created["Tags"] == [{"Key": "team", "Value": "build"}]

    got = admin.iam.get_user(UserName="alice")["User"]
    assert got["UserId"] == created["UserId"] and got["Path"] == "/engineering/"
    listed = admin.iam.list_users(PathPrefix="/engineering/")["Users"]
    assert [u["UserName"] for u in listed] == ["alice"]

    admin.iam.update_user(UserName="alice", NewUserName="alice2", NewPath="/ops/")
    renamed = admin.iam.get_user(UserName="alice2")["User"]
    assert renamed["Arn"] == f"arn:aws:iam::{account}:user/ops/alice2"
    assert renamed["UserId"] == created["UserId"]
    with pytest.raises(ClientError) as exc:
        admin.iam.get_user(UserName="alice")
    assert error_code(exc) == "NoSuchEntity" and status(exc) == 404

    admin.iam.delete_user(UserName="alice2")
    assert "alice2" not in [u["UserName"] for u in admin.iam.list_users()["Users"]]


def test_get_user_without_a_name_is_the_caller(admin: Aws, account: str) -> None:
    assert admin.iam.get_user()["User"]["Arn"] == f"arn:aws:iam::{account}:user/admin"


def test_duplicate_and_missing_users(admin: Aws) -> None:
    admin.iam.create_user(UserName="dup")
    with pytest.raises(ClientError) as exc:
        admin.iam.create_user(UserName="dup")
    assert error_code(exc) == "EntityAlreadyExists" and status(exc) == 409
    assert "dup" in exc.value.response["Error"]["Message"]
    for call in (lambda: admin.iam.delete_user(UserName="ghost"),
                 lambda: admin.iam.update_user(UserName="ghost", NewPath="/x/")):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_code(exc) == "NoSuchEntity"


@pytest.mark.parametrize("name", ["bad name", "x" * 65, "slash/no"])
def test_invalid_user_names_are_validation_errors(admin: Aws, name: str) -> None:
    with pytest.raises(ClientError) as exc:
        admin.iam.create_user(UserName=name)
    assert error_code(exc) == "ValidationError" and status(exc) == 400


def test_list_users_pages_with_markers(admin: Aws) -> None:
    for i in range(5):
        admin.iam.create_user(UserName=f"page{i}", Path="/paging/")
    first = admin.iam.list_users(PathPrefix="/paging/", MaxItems=2)
    assert first["IsTruncated"] is True and len(first["Users"]) == 2
    pages = admin.iam.get_paginator("list_users").paginate(PathPrefix="/paging/",
                                                           PaginationConfig={"PageSize": 2})
    names = [u["UserName"] for page in pages for u in page["Users"]]
    assert names == [f"page{i}" for i in range(5)]


# --- access keys ----------------------------------------------------------------------------------
def test_access_key_lifecycle(admin: Aws) -> None:
    bob = new_user(admin, "keybob", policies=(READ_ONLY,))
    key_id = bob.keys.access_key_id
    assert key_id.startswith("AKIA") and len(key_id) == 20
    listed = admin.iam.list_access_keys(UserName="keybob")["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in listed] == [(key_id, "Active")]
    assert "SecretAccessKey" not in listed[0]

    never = admin.iam.get_access_key_last_used(AccessKeyId=key_id)
    assert never["UserName"] == "keybob" and "LastUsedDate" not in never["AccessKeyLastUsed"]
    bob.ecr.describe_repositories()
    used = admin.iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"]
    assert "LastUsedDate" in used

    admin.iam.update_access_key(UserName="keybob", AccessKeyId=key_id, Status="Inactive")
    with pytest.raises(ClientError) as exc:
        bob.sts.get_caller_identity()
    assert error_code(exc) == "InvalidClientTokenId" and status(exc) == 403
    with pytest.raises(ClientError) as exc:
        bob.ecr.describe_repositories()
    assert error_code(exc) == "UnrecognizedClientException"
    admin.iam.update_access_key(UserName="keybob", AccessKeyId=key_id, Status="Active")
    assert bob.sts.get_caller_identity()["Arn"].endswith(":user/keybob")

    admin.iam.delete_access_key(UserName="keybob", AccessKeyId=key_id)
    assert admin.iam.list_access_keys(UserName="keybob")["AccessKeyMetadata"] == []
    with pytest.raises(ClientError) as exc:
        admin.iam.delete_access_key(UserName="keybob", AccessKeyId=key_id)
    assert error_code(exc) == "NoSuchEntity"


def test_a_third_access_key_exceeds_the_quota(admin: Aws) -> None:
    admin.iam.create_user(UserName="twokeys")
    admin.iam.create_access_key(UserName="twokeys")
    admin.iam.create_access_key(UserName="twokeys")
    with pytest.raises(ClientError) as exc:
        admin.iam.create_access_key(UserName="twokeys")
    assert error_code(exc) == "LimitExceeded" and status(exc) == 409
    assert "AccessKeysPerUser: 2" in exc.value.response["Error"]["Message"]


def test_a_user_manages_its_own_keys_when_allowed(admin: Aws) -> None:
    own = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*AccessKey*"],' \
          '"Resource":"arn:aws:iam::*:user/${aws:username}"}]}'
    self_service = new_user(admin, "selfkeys", inline=own)
    created = self_service.iam.create_access_key()["AccessKey"]
    assert created["UserName"] == "selfkeys"
    keys = self_service.iam.list_access_keys()["AccessKeyMetadata"]
    assert {k["UserName"] for k in keys} == {"selfkeys"} and len(keys) == 2
    with pytest.raises(ClientError) as exc:
        self_service.iam.list_access_keys(UserName="admin")
    assert error_code(exc) == "AccessDenied"


# --- authorization inside IAM --------------------------------------------------------------------
def test_a_user_without_iam_permissions_is_denied(admin: Aws, account: str) -> None:
    reader = new_user(admin, "noiam", policies=(READ_ONLY,))
    for call in (lambda: reader.iam.create_user(UserName="sneaky"),
                 lambda: reader.iam.list_users(),
                 lambda: reader.iam.attach_user_policy(UserName="noiam", PolicyArn=ADMINISTRATOR),
                 lambda: reader.iam.create_access_key(UserName="admin")):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_code(exc) == "AccessDenied" and status(exc) == 403
        message = exc.value.response["Error"]["Message"]
        assert message.startswith(f"User: arn:aws:iam::{account}:user/noiam is not authorized "
                                  f"to perform: iam:")
    assert "sneaky" not in [u["UserName"] for u in admin.iam.list_users()["Users"]]


def test_iam_permissions_can_be_scoped_to_a_path(admin: Aws) -> None:
    scoped = new_user(admin, "pathadmin", inline=policy(
        allow(["iam:CreateUser", "iam:GetUser"], "arn:aws:iam::*:user/contractors/*")))
    scoped.iam.create_user(UserName="c1", Path="/contractors/")
    assert scoped.iam.get_user(UserName="c1")["User"]["Path"] == "/contractors/"
    with pytest.raises(ClientError) as exc:
        scoped.iam.create_user(UserName="e1", Path="/employees/")
    assert error_code(exc) == "AccessDenied"


def test_identity_policies_decide_ecr_access(admin: Aws) -> None:
    reader = new_user(admin, "ecrreader", policies=(READ_ONLY,))
    reader.ecr.describe_repositories()
    with pytest.raises(ClientError) as exc:
        reader.ecr.create_repository(repositoryName="reader-made")
    assert error_code(exc) == "AccessDeniedException"

    full = new_user(admin, "ecrfull", policies=(FULL_ACCESS,),
                    inline=policy(deny("ecr:DeleteRepository")))
    full.ecr.create_repository(repositoryName="iam-tests/full")
    with pytest.raises(ClientError) as exc:  # an explicit Deny beats FullAccess
        full.ecr.delete_repository(repositoryName="iam-tests/full")
    assert error_code(exc) == "AccessDeniedException"
    admin.iam.delete_user_policy(UserName="ecrfull", PolicyName="inline")
    full.ecr.delete_repository(repositoryName="iam-tests/full")


# --- groups ---------------------------------------------------------------------------------------
def test_group_lifecycle_and_membership(admin: Aws, account: str) -> None:
    group = admin.iam.create_group(GroupName="builders", Path="/ci/")["Group"]
    assert group["Arn"] == f"arn:aws:iam::{account}:group/ci/builders"
    assert group["GroupId"].startswith("AGPA")
    with pytest.raises(ClientError) as exc:
        admin.iam.create_group(GroupName="builders")
    assert error_code(exc) == "EntityAlreadyExists"

    member = new_user(admin, "builder1")
    admin.iam.add_user_to_group(GroupName="builders", UserName="builder1")
    admin.iam.add_user_to_group(GroupName="builders", UserName="builder1")  # idempotent
    got = admin.iam.get_group(GroupName="builders")
    assert [u["UserName"] for u in got["Users"]] == ["builder1"]
    assert "builders" in [g["GroupName"] for g in admin.iam.list_groups(PathPrefix="/ci/")["Groups"]]
    assert [g["GroupName"] for g in
            admin.iam.list_groups_for_user(UserName="builder1")["Groups"]] == ["builders"]

    with pytest.raises(ClientError) as exc:  # the group's policies reach its members
        member.ecr.create_repository(repositoryName="iam-tests/group-made")
    assert error_code(exc) == "AccessDeniedException"
    admin.iam.attach_group_policy(GroupName="builders", PolicyArn=POWER_USER)
    admin.iam.put_group_policy(GroupName="builders", PolicyName="create",
                               PolicyDocument=policy(allow("ecr:CreateRepository")))
    member.ecr.create_repository(repositoryName="iam-tests/group-made")

    with pytest.raises(ClientError) as exc:
        admin.iam.delete_group(GroupName="builders")
    assert error_code(exc) == "DeleteConflict" and status(exc) == 409
    with pytest.raises(ClientError) as exc:
        admin.iam.delete_user(UserName="builder1")
    assert error_code(exc) == "DeleteConflict"

    admin.iam.remove_user_from_group(GroupName="builders", UserName="builder1")
    with pytest.raises(ClientError) as exc:
        admin.iam.remove_user_from_group(GroupName="builders", UserName="builder1")
    assert error_code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:  # no longer a member: no longer allowed
        member.ecr.create_repository(repositoryName="iam-tests/group-made-2")
    assert error_code(exc) == "AccessDeniedException"

    with pytest.raises(ClientError) as exc:
        admin.iam.delete_group(GroupName="builders")
    assert error_code(exc) == "DeleteConflict"  # still has policies
    admin.iam.delete_group_policy(GroupName="builders", PolicyName="create")
    admin.iam.detach_group_policy(GroupName="builders", PolicyArn=POWER_USER)
    admin.iam.delete_group(GroupName="builders")
    with pytest.raises(ClientError) as exc:
        admin.iam.get_group(GroupName="builders")
    assert error_code(exc) == "NoSuchEntity"


# --- inline policies ------------------------------------------------------------------------------
def test_inline_policies_for_users_groups_and_roles(admin: Aws, account: str) -> None:
    admin.iam.create_user(UserName="inlineuser")
    admin.iam.create_group(GroupName="inlinegroup")
    admin.iam.create_role(RoleName="inlinerole",
                          AssumeRolePolicyDocument=TRUST_ACCOUNT % f"arn:aws:iam::{account}:root")
    document = policy(allow("ecr:DescribeRepositories"))
    for kind, name in (("user", "inlineuser"), ("group", "inlinegroup"), ("role", "inlinerole")):
        title = kind.title()
        field = f"{title}Name"
        put = getattr(admin.iam, f"put_{kind}_policy")
        put(**{field: name}, PolicyName="describe", PolicyDocument=document)
        put(**{field: name}, PolicyName="also", PolicyDocument=document)
        got = getattr(admin.iam, f"get_{kind}_policy")(**{field: name}, PolicyName="describe")
        assert got[field] == name and got["PolicyDocument"] == json.loads(document)
        names = getattr(admin.iam, f"list_{kind}_policies")(**{field: name})["PolicyNames"]
        assert names == ["also", "describe"]
        getattr(admin.iam, f"delete_{kind}_policy")(**{field: name}, PolicyName="also")
        with pytest.raises(ClientError) as exc:
            getattr(admin.iam, f"get_{kind}_policy")(**{field: name}, PolicyName="also")
        assert error_code(exc) == "NoSuchEntity"


@pytest.mark.parametrize("document", [
    '{"Version": "2012-10-17", "Statement": [',  # not JSON
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ecr:*"}]}',  # Resource
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}',
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", '
    '"Action": "*", "Resource": "*"}]}',  # an identity policy names no principal
])
def test_malformed_policy_documents_are_refused(admin: Aws, document: str) -> None:
    with pytest.raises(ClientError) as exc:
        admin.iam.put_user_policy(UserName="admin", PolicyName="bad", PolicyDocument=document)
    assert error_code(exc) == "MalformedPolicyDocument" and status(exc) == 400
    with pytest.raises(ClientError) as exc:
        admin.iam.create_policy(PolicyName="bad", PolicyDocument=document)
    assert error_code(exc) == "MalformedPolicyDocument"


def test_inline_policies_share_a_size_quota(admin: Aws) -> None:
    admin.iam.create_user(UserName="bigpolicies")
    resources = [f"arn:aws:ecr:us-east-1:123456789012:repository/r{i:04d}" for i in range(40)]
    big = policy(allow("ecr:BatchGetImage", resources))  # ~2 KB without whitespace
    with pytest.raises(ClientError) as exc:
        admin.iam.put_user_policy(UserName="bigpolicies", PolicyName="big", PolicyDocument=big)
    assert error_code(exc) == "LimitExceeded"


# --- managed policies -----------------------------------------------------------------------------
def test_aws_managed_ecr_policies_are_built_in(admin: Aws) -> None:
    listed = {p["PolicyName"]: p for p in admin.iam.list_policies(Scope="AWS")["Policies"]}
    for name in ("AmazonEC2ContainerRegistryReadOnly", "AmazonEC2ContainerRegistryPullOnly",
                 "AmazonEC2ContainerRegistryPowerUser", "AmazonEC2ContainerRegistryFullAccess",
                 "AdministratorAccess"):
        assert listed[name]["Arn"] == f"arn:aws:iam::aws:policy/{name}"
    pull = admin.iam.get_policy(PolicyArn=PULL_ONLY)["Policy"]
    version = admin.iam.get_policy_version(PolicyArn=PULL_ONLY,
                                           VersionId=pull["DefaultVersionId"])["PolicyVersion"]
    assert version["IsDefaultVersion"] is True
    assert version["Document"]["Statement"][0]["Action"] == [
        "ecr:GetAuthorizationToken", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
        "ecr:BatchImportUpstreamImage"]
    read_only = admin.iam.get_policy_version(PolicyArn=READ_ONLY, VersionId="v3")["PolicyVersion"]
    assert "ecr:PutImage" not in read_only["Document"]["Statement"][0]["Action"]
    assert admin.iam.get_policy(PolicyArn=ADMINISTRATOR)["Policy"]["AttachmentCount"] >= 1
    with pytest.raises(ClientError) as exc:
        admin.iam.delete_policy(PolicyArn=READ_ONLY)
    assert error_code(exc) == "InvalidInput"


def test_customer_managed_policy_lifecycle(admin: Aws, account: str) -> None:
    describe = policy(allow("ecr:DescribeRepositories"))
    created = admin.iam.create_policy(PolicyName="describe-only", Path="/ecr/",
                                      PolicyDocument=describe, Description="describe")["Policy"]
    arn = created["Arn"]
    assert arn == f"arn:aws:iam::{account}:policy/ecr/describe-only"
    assert created["DefaultVersionId"] == "v1" and created["AttachmentCount"] == 0
    with pytest.raises(ClientError) as exc:
        admin.iam.create_policy(PolicyName="describe-only", PolicyDocument=describe)
    assert error_code(exc) == "EntityAlreadyExists"
    assert [p["Arn"] for p in admin.iam.list_policies(Scope="Local",
                                                      PathPrefix="/ecr/")["Policies"]] == [arn]

    user = new_user(admin, "managed1", policies=(arn,))
    user.ecr.describe_repositories()
    with pytest.raises(ClientError):
        user.ecr.create_repository(repositoryName="iam-tests/managed")
    assert admin.iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    assert arn in [p["Arn"] for p in admin.iam.list_policies(Scope="Local",
                                                             OnlyAttached=True)["Policies"]]

    # a new default version changes what every attached identity may do
    wider = policy(allow(["ecr:DescribeRepositories", "ecr:CreateRepository"]))
    v2 = admin.iam.create_policy_version(PolicyArn=arn, PolicyDocument=wider,
                                         SetAsDefault=True)["PolicyVersion"]
    assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"] is True
    user.ecr.create_repository(repositoryName="iam-tests/managed")
    versions = admin.iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert sorted((v["VersionId"], v["IsDefaultVersion"]) for v in versions) == [
        ("v1", False), ("v2", True)]
    assert admin.iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"][
        "Document"] == json.loads(describe)
    admin.iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    with pytest.raises(ClientError):
        user.ecr.create_repository(repositoryName="iam-tests/managed-2")
    for _ in range(3):
        admin.iam.create_policy_version(PolicyArn=arn, PolicyDocument=describe)
    with pytest.raises(ClientError) as exc:
        admin.iam.create_policy_version(PolicyArn=arn, PolicyDocument=describe)
    assert error_code(exc) == "LimitExceeded"
    with pytest.raises(ClientError) as exc:
        admin.iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    assert error_code(exc) == "DeleteConflict"

    entities = admin.iam.list_entities_for_policy(PolicyArn=arn)
    assert [u["UserName"] for u in entities["PolicyUsers"]] == ["managed1"]
    with pytest.raises(ClientError) as exc:
        admin.iam.delete_policy(PolicyArn=arn)
    assert error_code(exc) == "DeleteConflict"
    admin.iam.detach_user_policy(UserName="managed1", PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        admin.iam.detach_user_policy(UserName="managed1", PolicyArn=arn)
    assert error_code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:  # other versions must go first
        admin.iam.delete_policy(PolicyArn=arn)
    assert error_code(exc) == "DeleteConflict"
    for version in ("v2", "v3", "v4", "v5"):
        admin.iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    admin.iam.delete_policy(PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        admin.iam.get_policy(PolicyArn=arn)
    assert error_code(exc) == "NoSuchEntity"


def test_attachments_for_users_groups_and_roles(admin: Aws, account: str) -> None:
    admin.iam.create_user(UserName="attachuser")
    admin.iam.create_group(GroupName="attachgroup")
    admin.iam.create_role(RoleName="attachrole",
                          AssumeRolePolicyDocument=TRUST_ACCOUNT % f"arn:aws:iam::{account}:root")
    for kind, name in (("user", "attachuser"), ("group", "attachgroup"), ("role", "attachrole")):
        field = f"{kind.title()}Name"
        getattr(admin.iam, f"attach_{kind}_policy")(**{field: name}, PolicyArn=READ_ONLY)
        getattr(admin.iam, f"attach_{kind}_policy")(**{field: name}, PolicyArn=PULL_ONLY)
        attached = getattr(admin.iam, f"list_attached_{kind}_policies")(**{field: name})
        assert sorted(p["PolicyName"] for p in attached["AttachedPolicies"]) == [
            "AmazonEC2ContainerRegistryPullOnly", "AmazonEC2ContainerRegistryReadOnly"]
        getattr(admin.iam, f"detach_{kind}_policy")(**{field: name}, PolicyArn=PULL_ONLY)
        attached = getattr(admin.iam, f"list_attached_{kind}_policies")(**{field: name})
        assert [p["PolicyArn"] for p in attached["AttachedPolicies"]] == [READ_ONLY]
        with pytest.raises(ClientError) as exc:
            getattr(admin.iam, f"attach_{kind}_policy")(
                **{field: name}, PolicyArn=f"arn:aws:iam::{account}:policy/nope")
        assert error_code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        admin.iam.attach_user_policy(UserName="ghost", PolicyArn=READ_ONLY)
    assert error_code(exc) == "NoSuchEntity"


# --- roles ----------------------------------------------------------------------------------------
def test_role_lifecycle(admin: Aws, account: str) -> None:
    trust = TRUST_ACCOUNT % f"arn:aws:iam::{account}:root"
    role = admin.iam.create_role(RoleName="deployer", Path="/ci/", AssumeRolePolicyDocument=trust,
                                 Description="deploys", MaxSessionDuration=7200,
                                 Tags=[{"Key": "env", "Value": "prod"}])["Role"]
    assert role["Arn"] == f"arn:aws:iam::{account}:role/ci/deployer"
    assert role["RoleId"].startswith("AROA")
    assert role["AssumeRolePolicyDocument"] == json.loads(trust)
    got = admin.iam.get_role(RoleName="deployer")["Role"]
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "deploys"
    assert got["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert "deployer" in [r["RoleName"] for r in admin.iam.list_roles(PathPrefix="/ci/")["Roles"]]
    with pytest.raises(ClientError) as exc:
        admin.iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=trust)
    assert error_code(exc) == "EntityAlreadyExists"

    narrower = TRUST_ACCOUNT % f"arn:aws:iam::{account}:user/admin"
    admin.iam.update_assume_role_policy(RoleName="deployer", PolicyDocument=narrower)
    admin.iam.update_role(RoleName="deployer", Description="new", MaxSessionDuration=3600)
    got = admin.iam.get_role(RoleName="deployer")["Role"]
    assert got["AssumeRolePolicyDocument"] == json.loads(narrower)
    assert got["Description"] == "new" and got["MaxSessionDuration"] == 3600

    admin.iam.tag_role(RoleName="deployer", Tags=[{"Key": "owner", "Value": "ci"}])
    admin.iam.untag_role(RoleName="deployer", TagKeys=["env"])
    assert admin.iam.list_role_tags(RoleName="deployer")["Tags"] == [{"Key": "owner",
                                                                      "Value": "ci"}]

    admin.iam.attach_role_policy(RoleName="deployer", PolicyArn=READ_ONLY)
    with pytest.raises(ClientError) as exc:
        admin.iam.delete_role(RoleName="deployer")
    assert error_code(exc) == "DeleteConflict"
    admin.iam.detach_role_policy(RoleName="deployer", PolicyArn=READ_ONLY)
    admin.iam.delete_role(RoleName="deployer")
    with pytest.raises(ClientError) as exc:
        admin.iam.get_role(RoleName="deployer")
    assert error_code(exc) == "NoSuchEntity"


@pytest.mark.parametrize("trust", [
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}',
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
    '"Action":"sts:AssumeRole","Resource":"*"}]}',
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*",'
    '"Action":"ecr:BatchGetImage"}]}',
    'not json',
])
def test_malformed_trust_policies_are_refused(admin: Aws, trust: str) -> None:
    with pytest.raises(ClientError) as exc:
        admin.iam.create_role(RoleName="badtrust", AssumeRolePolicyDocument=trust)
    assert error_code(exc) == "MalformedPolicyDocument"


@pytest.mark.parametrize("seconds", [3599, 43201])
def test_max_session_duration_bounds(admin: Aws, account: str, seconds: int) -> None:
    unchecked = admin.client("iam", parameter_validation=False)  # the server must check too
    with pytest.raises(ClientError) as exc:
        unchecked.create_role(RoleName="outofbounds", MaxSessionDuration=seconds,
                              AssumeRolePolicyDocument=TRUST_ACCOUNT % account)
    assert error_code(exc) == "ValidationError"


# --- login profiles -------------------------------------------------------------------------------
def test_login_profile_lifecycle(admin: Aws) -> None:
    admin.iam.create_user(UserName="console1")
    with pytest.raises(ClientError) as exc:
        admin.iam.get_login_profile(UserName="console1")
    assert error_code(exc) == "NoSuchEntity"
    with pytest.raises(ClientError) as exc:
        admin.iam.create_login_profile(UserName="console1", Password="short")
    assert error_code(exc) == "PasswordPolicyViolation"
    profile = admin.iam.create_login_profile(UserName="console1", Password="correct horse battery",
                                             PasswordResetRequired=True)["LoginProfile"]
    assert profile["UserName"] == "console1" and profile["PasswordResetRequired"] is True
    with pytest.raises(ClientError) as exc:
        admin.iam.create_login_profile(UserName="console1", Password="another password 1")
    assert error_code(exc) == "EntityAlreadyExists"
    admin.iam.update_login_profile(UserName="console1", Password="a new password!",
                                   PasswordResetRequired=False)
    assert admin.iam.get_login_profile(UserName="console1")["LoginProfile"][
        "PasswordResetRequired"] is False
    with pytest.raises(ClientError) as exc:
        admin.iam.delete_user(UserName="console1")
    assert error_code(exc) == "DeleteConflict"
    admin.iam.delete_login_profile(UserName="console1")
    with pytest.raises(ClientError) as exc:
        admin.iam.delete_login_profile(UserName="console1")
    assert error_code(exc) == "NoSuchEntity"
    admin.iam.delete_user(UserName="console1")


def _console_sign_in(server, user: str, password: str) -> httpx.Response:  # noqa: F811
    """A console sign-in with a password over HTTP, as a browser makes it."""
    with httpx.Client(base_url=server.endpoint, follow_redirects=True) as browser:
        form = browser.get("/console/signin?method=password")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf, form.text
        return browser.post("/console/signin", data={
            "csrf": csrf[1], "method": "password", "user_name": user, "password": password})


def test_change_password_when_a_reset_is_required(server, admin: Aws) -> None:  # noqa: F811
    user = new_user(admin, "rotator")  # no policy at all: the reset grants iam:ChangePassword
    admin.iam.create_login_profile(UserName="rotator", Password="initial password 1",
                                   PasswordResetRequired=True)
    with pytest.raises(ClientError) as exc:
        user.iam.change_password(OldPassword="not the password", NewPassword="second password 2")
    assert error_code(exc) == "AccessDenied" and status(exc) == 403
    assert "old password is incorrect" in exc.value.response["Error"]["Message"]
    for weak in ("short", "x" * 129, "unprintable \u00e9 password", "initial password 1"):
        with pytest.raises(ClientError) as exc:
            user.iam.change_password(OldPassword="initial password 1", NewPassword=weak)
        assert error_code(exc) == "PasswordPolicyViolation" and status(exc) == 400, weak
    assert admin.iam.get_login_profile(UserName="rotator")["LoginProfile"][
        "PasswordResetRequired"] is True

    user.iam.change_password(OldPassword="initial password 1", NewPassword="second password 2")
    assert admin.iam.get_login_profile(UserName="rotator")["LoginProfile"][
        "PasswordResetRequired"] is False
    assert _console_sign_in(server, "rotator", "initial password 1").status_code == 401
    signed_in = _console_sign_in(server, "rotator", "second password 2")
    assert signed_in.url.path == "/console/repositories", signed_in.url

    # without a pending reset, changing it takes iam:ChangePassword (IAMUserChangePassword)
    with pytest.raises(ClientError) as exc:
        user.iam.change_password(OldPassword="second password 2", NewPassword="third password 3")
    assert error_code(exc) == "AccessDenied"
    assert "not authorized to perform: iam:ChangePassword on resource: " \
           "arn:aws:iam::" in exc.value.response["Error"]["Message"]
    admin.iam.attach_user_policy(UserName="rotator", PolicyArn=CHANGE_PASSWORD)
    aws(server.env(user.keys.access_key_id, user.keys.secret_access_key), "iam",
        "change-password", "--old-password", "second password 2", "--new-password",
        "third password 3")
    assert _console_sign_in(server, "rotator", "third password 3").url.path == \
        "/console/repositories"
    with pytest.raises(ClientError) as exc:  # the policy allows the caller's own password only
        user.iam.update_login_profile(UserName="admin", Password="taken over 1")
    assert error_code(exc) == "AccessDenied"


def test_change_password_is_for_iam_users_with_a_login_profile(admin: Aws, account: str) -> None:
    with pytest.raises(ClientError) as exc:  # the administrator has an access key, no password
        admin.iam.change_password(OldPassword="whatever it was", NewPassword="new password 1")
    assert error_code(exc) == "NoSuchEntity" and status(exc) == 404
    assert "Login Profile for User admin cannot be found" in exc.value.response["Error"]["Message"]

    admin.iam.create_role(RoleName="passwordless",
                          AssumeRolePolicyDocument=TRUST_ACCOUNT % f"arn:aws:iam::{account}:user/admin")
    credentials = admin.sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/passwordless",
        RoleSessionName="s1")["Credentials"]
    session = Aws(admin.server, Keys(credentials["AccessKeyId"], credentials["SecretAccessKey"],
                                     credentials["SessionToken"]))
    with pytest.raises(ClientError) as exc:
        session.iam.change_password(OldPassword="whatever it was", NewPassword="new password 1")
    assert error_code(exc) == "InvalidUserType" and status(exc) == 400


def test_iam_user_change_password_is_a_built_in_policy(admin: Aws) -> None:
    found = admin.iam.get_policy(PolicyArn=CHANGE_PASSWORD)["Policy"]
    assert found["PolicyName"] == "IAMUserChangePassword"
    document = admin.iam.get_policy_version(
        PolicyArn=CHANGE_PASSWORD, VersionId=found["DefaultVersionId"])["PolicyVersion"]["Document"]
    assert document["Statement"][0] == {"Effect": "Allow", "Action": ["iam:ChangePassword"],
                                        "Resource": ["arn:aws:iam::*:user/${aws:username}"]}


# --- tags -----------------------------------------------------------------------------------------
def test_user_tags(admin: Aws) -> None:
    admin.iam.create_user(UserName="tagged", Tags=[{"Key": "a", "Value": "1"}])
    admin.iam.tag_user(UserName="tagged", Tags=[{"Key": "b", "Value": "2"},
                                                {"Key": "A", "Value": "one"}])
    assert admin.iam.list_user_tags(UserName="tagged")["Tags"] == [
        {"Key": "A", "Value": "one"}, {"Key": "b", "Value": "2"}]
    admin.iam.untag_user(UserName="tagged", TagKeys=["a"])
    assert admin.iam.list_user_tags(UserName="tagged")["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as exc:
        admin.iam.tag_user(UserName="tagged", Tags=[{"Key": f"k{i}", "Value": "v"}
                                                    for i in range(50)])
    assert error_code(exc) == "LimitExceeded"
    with pytest.raises(ClientError) as exc:
        admin.iam.tag_user(UserName="tagged", Tags=[{"Key": "aws:reserved", "Value": "v"}])
    assert error_code(exc) == "ValidationError"


def test_principal_tags_reach_policy_conditions(admin: Aws) -> None:
    conditional = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "ecr:DescribeRepositories", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}}}]})
    tagged = new_user(admin, "tagcond", inline=conditional)
    with pytest.raises(ClientError):
        tagged.ecr.describe_repositories()
    admin.iam.tag_user(UserName="tagcond", Tags=[{"Key": "team", "Value": "platform"}])
    tagged.ecr.describe_repositories()


# --- the protocol itself --------------------------------------------------------------------------
def test_unknown_actions_and_missing_credentials(server, admin: Aws) -> None:  # noqa: F811
    r = httpx.post(server.endpoint + "/", data={"Action": "ListUsers", "Version": "2010-05-08"})
    assert r.status_code == 403 and "<Code>MissingAuthenticationToken</Code>" in r.text
    assert r.headers["content-type"].startswith("text/xml")
    r = httpx.post(server.endpoint + "/", data={"Action": "FlyToTheMoon", "Version": "2010-05-08"})
    assert r.status_code == 400 and "<Code>InvalidAction</Code>" in r.text
    r = httpx.post(server.endpoint + "/", data={"Version": "2010-05-08"})
    assert r.status_code == 400 and "<Code>MissingAction</Code>" in r.text
    # the ECR JSON API on the same path is untouched
    assert admin.ecr.describe_repositories()["repositories"] is not None


def test_a_signature_for_another_service_is_refused(admin: Aws) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = "Action=ListUsers&Version=2010-05-08"
    request = AWSRequest("POST", admin.server.endpoint + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(admin.keys.access_key_id, admin.keys.secret_access_key), "ecr",
              "us-east-1").add_auth(request)
    r = httpx.post(admin.server.endpoint + "/", content=body, headers=dict(request.headers))
    assert r.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in r.text


# --- the CLIs -------------------------------------------------------------------------------------
def test_aws_cli_creates_a_user_with_a_key_and_a_policy(server, account: str) -> None:  # noqa: F811
    env = server.env()
    created = json.loads(aws(env, "iam", "create-user", "--user-name", "cliuser").stdout)
    assert created["User"]["Arn"] == f"arn:aws:iam::{account}:user/cliuser"
    key = json.loads(aws(env, "iam", "create-access-key", "--user-name", "cliuser").stdout)
    aws(env, "iam", "attach-user-policy", "--user-name", "cliuser", "--policy-arn", READ_ONLY)
    user_env = server.env(key["AccessKey"]["AccessKeyId"], key["AccessKey"]["SecretAccessKey"])
    me = json.loads(aws(user_env, "sts", "get-caller-identity").stdout)
    assert me == {"UserId": created["User"]["UserId"], "Account": account,
                  "Arn": f"arn:aws:iam::{account}:user/cliuser"}
    aws(user_env, "ecr", "describe-repositories")
    denied = aws(user_env, "iam", "list-users", check=False)
    assert denied.returncode != 0 and "AccessDenied" in denied.stderr
    missing = aws(env, "iam", "get-user", "--user-name", "nobody-here", check=False)
    assert missing.returncode != 0 and "NoSuchEntity" in missing.stderr


def test_dockyard_cli_creates_a_user_and_shows_the_audit_trail(server, admin: Aws) -> None:  # noqa: F811
    result = dockyard_cli(server, "iam", "create-user", "dycli", "--policy",
                          "AmazonEC2ContainerRegistryPullOnly", "--access-key")
    assert result.returncode == 0, result.stderr
    assert "AccessKeyId: AKIA" in result.stdout
    attached = admin.iam.list_attached_user_policies(UserName="dycli")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [PULL_ONLY]

    with pytest.raises(ClientError):
        Aws(server, admin.keys).iam.get_user(UserName="audit-missing-user")
    time.sleep(0.1)
    trail = dockyard_cli(server, "audit", "--json", "--since", "1h", "--action", "iam:GetUser")
    assert trail.returncode == 0, trail.stderr
    events = [json.loads(line) for line in trail.stdout.splitlines()]
    failed = [e for e in events if e["resources"] == [
        {"ARN": f"arn:aws:iam::{e['recipientAccountId']}:user/audit-missing-user"}]]
    assert failed and failed[-1]["errorCode"] == "NoSuchEntity", trail.stdout
    assert failed[-1]["eventSource"] == "iam.amazonaws.com"
    assert failed[-1]["userIdentity"]["accessKeyId"] == admin.keys.access_key_id
    assert failed[-1]["sourceIPAddress"] == "127.0.0.1"
    assert "Secret" not in trail.stdout
    denied = dockyard_cli(server, "audit", "--principal", "noiam")
    assert denied.returncode == 0
