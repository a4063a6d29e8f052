"""The IAM and STS operations this endpoint serves, by ``Action``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.iamapi import grants, identities, sts
from dockyard.iamapi.call import QueryCall

Operation = Callable[[QueryCall], Any]

IAM_OPERATIONS: dict[str, Operation] = {
    "CreateUser": identities.create_user,
    "GetUser": identities.get_user,
    "ListUsers": identities.list_users,
    "UpdateUser": identities.update_user,
    "DeleteUser": identities.delete_user,
    "CreateAccessKey": identities.create_access_key,
    "ListAccessKeys": identities.list_access_keys,
    "UpdateAccessKey": identities.update_access_key,
    "DeleteAccessKey": identities.delete_access_key,
    "GetAccessKeyLastUsed": identities.get_access_key_last_used,
    "CreateGroup": identities.create_group,
    "GetGroup": identities.get_group,
    "ListGroups": identities.list_groups,
    "DeleteGroup": identities.delete_group,
    "AddUserToGroup": identities.add_user_to_group,
    "RemoveUserFromGroup": identities.remove_user_from_group,
    "ListGroupsForUser": identities.list_groups_for_user,
    "CreateLoginProfile": identities.create_login_profile,
    "GetLoginProfile": identities.get_login_profile,
    "UpdateLoginProfile": identities.update_login_profile,
    "DeleteLoginProfile": identities.delete_login_profile,
    "ChangePassword": identities.change_password,
    "TagUser": identities.tag_user,
    "UntagUser": identities.untag_user,
    "ListUserTags": identities.list_user_tags,
    "TagRole": identities.tag_role,
    "UntagRole": identities.untag_role,
    "ListRoleTags": identities.list_role_tags,
    "CreateRole": grants.create_role,
    "GetRole": grants.get_role,
    "ListRoles": grants.list_roles,
    "UpdateRole": grants.update_role,
    "UpdateAssumeRolePolicy": grants.update_assume_role_policy,
    "DeleteRole": grants.delete_role,
    "CreatePolicy": grants.create_policy,
    "GetPolicy": grants.get_policy,
    "ListPolicies": grants.list_policies,
    "DeletePolicy": grants.delete_policy,
    "GetPolicyVersion": grants.get_policy_version,
    "CreatePolicyVersion": grants.create_policy_version,
    "ListPolicyVersions": grants.list_policy_versions,
    "DeletePolicyVersion": grants.delete_policy_version,
    "SetDefaultPolicyVersion": grants.set_default_policy_version,
    "ListEntitiesForPolicy": grants.list_entities_for_policy,
    **grants.per_entity_operations(),
}

STS_OPERATIONS: dict[str, Operation] = {
    "AssumeRole": sts.assume_role,
    "GetCallerIdentity": sts.get_caller_identity,
}
