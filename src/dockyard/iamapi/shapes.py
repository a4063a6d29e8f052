"""IAM response shapes (botocore's ``iam`` model), built from IAM records.

Policy documents go out URL-encoded, as IAM sends them (botocore decodes every
``policyDocumentType`` member with ``unquote`` + ``json.loads``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from dockyard.domain.iam import IamGroup, IamRole, IamUser, LoginProfile, ManagedPolicy, PolicyVersion
from dockyard.domain.models import AccessKey


def document(text: str) -> str:
    return quote(text, safe="")


def tags(pairs: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs]


def user(found: IamUser, *, with_tags: bool = False) -> dict[str, Any]:
    shape: dict[str, Any] = {"Path": found.path, "UserName": found.name, "UserId": found.id,
                             "Arn": found.arn, "CreateDate": found.created_at}
    if found.password_last_used:
        shape["PasswordLastUsed"] = found.password_last_used
    if with_tags and found.tags:
        shape["Tags"] = tags(found.tags)
    return shape


def group(found: IamGroup) -> dict[str, Any]:
    return {"Path": found.path, "GroupName": found.name, "GroupId": found.id, "Arn": found.arn,
            "CreateDate": found.created_at}


def role(found: IamRole, *, detailed: bool = True) -> dict[str, Any]:
    shape: dict[str, Any] = {"Path": found.path, "RoleName": found.name, "RoleId": found.id,
                             "Arn": found.arn, "CreateDate": found.created_at,
                             "AssumeRolePolicyDocument": document(found.trust_policy)}
    if found.description is not None:
        shape["Description"] = found.description
    shape["MaxSessionDuration"] = found.max_session_duration
    if detailed:
        if found.tags:
            shape["Tags"] = tags(found.tags)
        shape["RoleLastUsed"] = ({"LastUsedDate": found.last_used_at} if found.last_used_at
                                 else {})
    return shape


def policy(found: ManagedPolicy, policy_tags: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "PolicyName": found.name, "PolicyId": found.id, "Arn": found.arn, "Path": found.path,
        "DefaultVersionId": found.default_version, "AttachmentCount": found.attachment_count,
        "PermissionsBoundaryUsageCount": 0, "IsAttachable": True,
        "CreateDate": found.created_at, "UpdateDate": found.updated_at,
    }
    if found.description:
        shape["Description"] = found.description
    if policy_tags:
        shape["Tags"] = tags(policy_tags)
    return shape


def policy_version(found: PolicyVersion, *, with_document: bool = True) -> dict[str, Any]:
    shape: dict[str, Any] = {"VersionId": found.version_id, "IsDefaultVersion": found.is_default,
                             "CreateDate": found.created_at}
    if with_document:
        shape = {"Document": document(found.document), **shape}
    return shape


def access_key(key: AccessKey, user_name: str) -> dict[str, Any]:
    return {"UserName": user_name, "AccessKeyId": key.access_key_id, "Status": key.status,
            "CreateDate": key.created_at}


def login_profile(found: LoginProfile) -> dict[str, Any]:
    return {"UserName": found.user_name, "CreateDate": found.created_at,
            "PasswordResetRequired": found.password_reset_required}
