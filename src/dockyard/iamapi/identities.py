"""IAM operations on identities: users, access keys, groups, login profiles, user and role tags.

One function per operation (snake_case of its name); each returns the ``<Action>Result`` members
or None for operations whose result is empty."""

from __future__ import annotations

from typing import Any

from dockyard.domain.iam import ROLE, USER
from dockyard.iamapi import shapes
from dockyard.iamapi.call import QueryCall


# --- users ----------------------------------------------------------------------------------------
def create_user(call: QueryCall) -> dict[str, Any]:
    user = call.services.directory.create_user(call.caller, call.required("UserName"),
                                               call.optional("Path"), call.tags())
    return {"User": shapes.user(user, with_tags=True)}


def get_user(call: QueryCall) -> dict[str, Any]:
    user = call.services.directory.get_user(call.caller, call.optional("UserName"))
    return {"User": shapes.user(user, with_tags=True)}


def list_users(call: QueryCall) -> dict[str, Any]:
    users, extra = call.page(call.services.directory.list_users(call.caller,
                                                                call.optional("PathPrefix")))
    return {"Users": [shapes.user(u) for u in users], **extra}


def update_user(call: QueryCall) -> None:
    call.services.directory.update_user(call.caller, call.required("UserName"),
                                        call.optional("NewUserName"), call.optional("NewPath"))


def delete_user(call: QueryCall) -> None:
    call.services.directory.delete_user(call.caller, call.required("UserName"))


# --- access keys ----------------------------------------------------------------------------------
def create_access_key(call: QueryCall) -> dict[str, Any]:
    key = call.services.directory.create_access_key(call.caller, call.optional("UserName"))
    stored = call.services.identity.store.access_key(key.access_key_id)
    assert stored is not None
    return {"AccessKey": {"UserName": key.principal.name, "AccessKeyId": key.access_key_id,
                          "Status": stored.status, "SecretAccessKey": key.secret_access_key,
                          "CreateDate": stored.created_at}}


def list_access_keys(call: QueryCall) -> dict[str, Any]:
    user, keys = call.services.directory.list_access_keys(call.caller, call.optional("UserName"))
    chosen, extra = call.page(keys)
    return {"AccessKeyMetadata": [shapes.access_key(k, user.name) for k in chosen], **extra}


def update_access_key(call: QueryCall) -> None:
    call.services.directory.update_access_key(call.caller, call.required("AccessKeyId"),
                                              call.required("Status"), call.optional("UserName"))


def delete_access_key(call: QueryCall) -> None:
    call.services.directory.delete_access_key(call.caller, call.required("AccessKeyId"),
                                              call.optional("UserName"))


def get_access_key_last_used(call: QueryCall) -> dict[str, Any]:
    user, key = call.services.directory.access_key_last_used(call.caller,
                                                             call.required("AccessKeyId"))
    last: dict[str, Any] = {"ServiceName": "N/A", "Region": "N/A"}
    if key.last_used_at is not None:
        last = {"LastUsedDate": key.last_used_at, "ServiceName": "ecr",
                "Region": call.services.identity.registry.region}
    return {"UserName": user.name, "AccessKeyLastUsed": last}


# --- groups ---------------------------------------------------------------------------------------
def create_group(call: QueryCall) -> dict[str, Any]:
    group = call.services.directory.create_group(call.caller, call.required("GroupName"),
                                                 call.optional("Path"))
    return {"Group": shapes.group(group)}


def get_group(call: QueryCall) -> dict[str, Any]:
    group, members = call.services.directory.get_group(call.caller, call.required("GroupName"))
    chosen, extra = call.page(members)
    return {"Group": shapes.group(group), "Users": [shapes.user(u) for u in chosen], **extra}


def list_groups(call: QueryCall) -> dict[str, Any]:
    groups, extra = call.page(call.services.directory.list_groups(call.caller,
                                                                  call.optional("PathPrefix")))
    return {"Groups": [shapes.group(g) for g in groups], **extra}


def delete_group(call: QueryCall) -> None:
    call.services.directory.delete_group(call.caller, call.required("GroupName"))


def add_user_to_group(call: QueryCall) -> None:
    call.services.directory.add_user_to_group(call.caller, call.required("GroupName"),
                                              call.required("UserName"))


def remove_user_from_group(call: QueryCall) -> None:
    call.services.directory.remove_user_from_group(call.caller, call.required("GroupName"),
                                                   call.required("UserName"))


def list_groups_for_user(call: QueryCall) -> dict[str, Any]:
    groups, extra = call.page(call.services.directory.list_groups_for_user(
        call.caller, call.required("UserName")))
    return {"Groups": [shapes.group(g) for g in groups], **extra}


# --- login profiles -------------------------------------------------------------------------------
def create_login_profile(call: QueryCall) -> dict[str, Any]:
    profile = call.services.directory.create_login_profile(
        call.caller, call.optional("UserName"), call.required("Password"),
        bool(call.boolean("PasswordResetRequired")))
    return {"LoginProfile": shapes.login_profile(profile)}


def get_login_profile(call: QueryCall) -> dict[str, Any]:
    profile = call.services.directory.get_login_profile(call.caller, call.optional("UserName"))
    return {"LoginProfile": shapes.login_profile(profile)}


def update_login_profile(call: QueryCall) -> None:
    call.services.directory.update_login_profile(call.caller, call.optional("UserName"),
                                                 call.optional("Password"),
                                                 call.boolean("PasswordResetRequired"))


def delete_login_profile(call: QueryCall) -> None:
    call.services.directory.delete_login_profile(call.caller, call.optional("UserName"))


def change_password(call: QueryCall) -> None:
    call.services.directory.change_password(call.caller, call.required("OldPassword"),
                                            call.required("NewPassword"))


# --- tags -----------------------------------------------------------------------------------------
def tag_user(call: QueryCall) -> None:
    call.services.directory.tag(call.caller, USER, call.required("UserName"), call.tags())


def untag_user(call: QueryCall) -> None:
    call.services.directory.untag(call.caller, USER, call.required("UserName"),
                                  call.strings("TagKeys"))


def list_user_tags(call: QueryCall) -> dict[str, Any]:
    found, extra = call.page(call.services.directory.list_tags(call.caller, USER,
                                                               call.required("UserName")))
    return {"Tags": shapes.tags(found), **extra}


def tag_role(call: QueryCall) -> None:
    call.services.directory.tag(call.caller, ROLE, call.required("RoleName"), call.tags())


def untag_role(call: QueryCall) -> None:
    call.services.directory.untag(call.caller, ROLE, call.required("RoleName"),
                                  call.strings("TagKeys"))


def list_role_tags(call: QueryCall) -> dict[str, Any]:
    found, extra = call.page(call.services.directory.list_tags(call.caller, ROLE,
                                                               call.required("RoleName")))
    return {"Tags": shapes.tags(found), **extra}
