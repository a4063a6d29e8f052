"""IAM operations on what grants permissions: roles, inline policies (user, group, role),
managed policies and their versions, and attachments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.domain.iam import GROUP, ROLE, USER
from dockyard.iamapi import shapes
from dockyard.iamapi.call import QueryCall

Operation = Callable[[QueryCall], Any]
_NAME_FIELD = {USER: "UserName", GROUP: "GroupName", ROLE: "RoleName"}


# --- roles ----------------------------------------------------------------------------------------
def create_role(call: QueryCall) -> dict[str, Any]:
    role = call.services.directory.create_role(
        call.caller, call.required("RoleName"), call.required("AssumeRolePolicyDocument"),
        path=call.optional("Path"), description=call.optional("Description"),
        max_session_duration=call.integer("MaxSessionDuration"), tags=call.tags())
    return {"Role": shapes.role(role, detailed=False) | (
        {"Tags": shapes.tags(role.tags)} if role.tags else {})}


def get_role(call: QueryCall) -> dict[str, Any]:
    return {"Role": shapes.role(call.services.directory.get_role(call.caller,
                                                                 call.required("RoleName")))}


def list_roles(call: QueryCall) -> dict[str, Any]:
    roles, extra = call.page(call.services.directory.list_roles(call.caller,
                                                                call.optional("PathPrefix")))
    return {"Roles": [shapes.role(r, detailed=False) for r in roles], **extra}


def update_role(call: QueryCall) -> dict[str, Any]:
    call.services.directory.update_role(call.caller, call.required("RoleName"),
                                        call.optional("Description"),
                                        call.integer("MaxSessionDuration"))
    return {}


def update_assume_role_policy(call: QueryCall) -> None:
    call.services.directory.update_assume_role_policy(call.caller, call.required("RoleName"),
                                                      call.required("PolicyDocument"))


def delete_role(call: QueryCall) -> None:
    call.services.directory.delete_role(call.caller, call.required("RoleName"))


# --- inline policies: Put/Get/List/Delete{User,Group,Role}Policy ----------------------------------
def _put_inline(kind: str) -> Operation:
    def put(call: QueryCall) -> None:
        call.services.permissions.put_inline(call.caller, kind, call.required(_NAME_FIELD[kind]),
                                             call.required("PolicyName"),
                                             call.required("PolicyDocument"))
    return put


def _get_inline(kind: str) -> Operation:
    def get(call: QueryCall) -> dict[str, Any]:
        name, policy_name = call.required(_NAME_FIELD[kind]), call.required("PolicyName")
        text = call.services.permissions.get_inline(call.caller, kind, name, policy_name)
        return {_NAME_FIELD[kind]: name, "PolicyName": policy_name,
                "PolicyDocument": shapes.document(text)}
    return get


def _list_inline(kind: str) -> Operation:
    def list_(call: QueryCall) -> dict[str, Any]:
        names, extra = call.page(call.services.permissions.list_inline(
            call.caller, kind, call.required(_NAME_FIELD[kind])))
        return {"PolicyNames": names, **extra}
    return list_


def _delete_inline(kind: str) -> Operation:
    def delete(call: QueryCall) -> None:
        call.services.permissions.delete_inline(call.caller, kind, call.required(_NAME_FIELD[kind]),
                                                call.required("PolicyName"))
    return delete


# --- attachments: Attach/Detach/ListAttached{User,Group,Role}Policies -----------------------------
def _attach(kind: str) -> Operation:
    def attach(call: QueryCall) -> None:
        call.services.permissions.attach(call.caller, kind, call.required(_NAME_FIELD[kind]),
                                         call.required("PolicyArn"))
    return attach


def _detach(kind: str) -> Operation:
    def detach(call: QueryCall) -> None:
        call.services.permissions.detach(call.caller, kind, call.required(_NAME_FIELD[kind]),
                                         call.required("PolicyArn"))
    return detach


def _list_attached(kind: str) -> Operation:
    def list_(call: QueryCall) -> dict[str, Any]:
        policies, extra = call.page(call.services.permissions.list_attached(
            call.caller, kind, call.required(_NAME_FIELD[kind]), call.optional("PathPrefix")))
        return {"AttachedPolicies": [{"PolicyName": p.name, "PolicyArn": p.arn}
                                     for p in policies], **extra}
    return list_


def per_entity_operations() -> dict[str, Operation]:
    table: dict[str, Operation] = {}
    for kind, title in ((USER, "User"), (GROUP, "Group"), (ROLE, "Role")):
        table.update({
            f"Put{title}Policy": _put_inline(kind),
            f"Get{title}Policy": _get_inline(kind),
            f"List{title}Policies": _list_inline(kind),
            f"Delete{title}Policy": _delete_inline(kind),
            f"Attach{title}Policy": _attach(kind),
            f"Detach{title}Policy": _detach(kind),
            f"ListAttached{title}Policies": _list_attached(kind),
        })
    return table


# --- managed policies -----------------------------------------------------------------------------
def create_policy(call: QueryCall) -> dict[str, Any]:
    permissions = call.services.permissions
    policy = permissions.create_policy(call.caller, call.required("PolicyName"),
                                       call.required("PolicyDocument"), path=call.optional("Path"),
                                       description=call.optional("Description"), tags=call.tags())
    return {"Policy": shapes.policy(policy, permissions.policy_tags(policy))}


def get_policy(call: QueryCall) -> dict[str, Any]:
    permissions = call.services.permissions
    policy = permissions.get_policy(call.caller, call.required("PolicyArn"))
    return {"Policy": shapes.policy(policy, permissions.policy_tags(policy))}


def list_policies(call: QueryCall) -> dict[str, Any]:
    policies, extra = call.page(call.services.permissions.list_policies(
        call.caller, call.optional("Scope") or "All", bool(call.boolean("OnlyAttached")),
        call.optional("PathPrefix")))
    return {"Policies": [shapes.policy(p) for p in policies], **extra}


def delete_policy(call: QueryCall) -> None:
    call.services.permissions.delete_policy(call.caller, call.required("PolicyArn"))


def get_policy_version(call: QueryCall) -> dict[str, Any]:
    version = call.services.permissions.get_policy_version(call.caller, call.required("PolicyArn"),
                                                           call.required("VersionId"))
    return {"PolicyVersion": shapes.policy_version(version)}


def create_policy_version(call: QueryCall) -> dict[str, Any]:
    version = call.services.permissions.create_policy_version(
        call.caller, call.required("PolicyArn"), call.required("PolicyDocument"),
        bool(call.boolean("SetAsDefault")))
    return {"PolicyVersion": shapes.policy_version(version, with_document=False)}


def list_policy_versions(call: QueryCall) -> dict[str, Any]:
    versions, extra = call.page(call.services.permissions.list_policy_versions(
        call.caller, call.required("PolicyArn")))
    return {"Versions": [shapes.policy_version(v, with_document=False) for v in versions],
            **extra}


def delete_policy_version(call: QueryCall) -> None:
    call.services.permissions.delete_policy_version(call.caller, call.required("PolicyArn"),
                                                    call.required("VersionId"))


def set_default_policy_version(call: QueryCall) -> None:
    call.services.permissions.set_default_policy_version(call.caller, call.required("PolicyArn"),
                                                         call.required("VersionId"))


def list_entities_for_policy(call: QueryCall) -> dict[str, Any]:
    found = call.services.permissions.entities_for_policy(call.caller, call.required("PolicyArn"))
    wanted = call.optional("EntityFilter")
    kinds = {"User": USER, "Group": GROUP, "Role": ROLE}
    if wanted in kinds:
        found = [f for f in found if f[0] == kinds[wanted]]
    chosen, extra = call.page(found)
    return {
        "PolicyGroups": [{"GroupName": n, "GroupId": i} for k, i, n in chosen if k == GROUP],
        "PolicyUsers": [{"UserName": n, "UserId": i} for k, i, n in chosen if k == USER],
        "PolicyRoles": [{"RoleName": n, "RoleId": i} for k, i, n in chosen if k == ROLE],
        **extra,
    }
