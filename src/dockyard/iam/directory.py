"""The IAM directory: users, groups, roles, access keys, login profiles and tags.

Every operation asks the Authorizer for ``iam:<Action>`` on the ARN it acts on before it reads
or writes anything (AWS's resource for list operations without a named entity is ``*``).
Errors carry IAM's codes and messages (``NoSuchEntity``, ``EntityAlreadyExists``,
``DeleteConflict``, ``LimitExceeded``, ...).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Sequence
from datetime import datetime

from dockyard.domain.iam import (
    GROUP,
    ROLE,
    USER,
    IamGroup,
    IamRole,
    IamUser,
    LoginProfile,
    arn,
    check_name,
    check_path,
    check_tags,
)
from dockyard.domain.models import AccessKey, Principal
from dockyard.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    IamLimitExceeded,
    IncorrectPassword,
    InvalidUserType,
    NoSuchEntity,
    PasswordPolicyViolation,
    Unauthenticated,
    ValidationError,
)
from dockyard.iam import passwords
from dockyard.iam.authorizer import Authorizer
from dockyard.iam.identity import ACTIVE, INACTIVE, IdentityService, NewKey
from dockyard.iam.policy_text import check_trust_policy
from dockyard.metadata.iam_store import AlreadyExists, SqlIamStore
from dockyard.ports import Clock

ACCESS_KEYS_PER_USER = 2
GROUPS_PER_USER = 10
TAGS_PER_ENTITY = 50
DEFAULT_SESSION_DURATION = 3600
MAX_SESSION_DURATION = 43200
_ID_ALPHABET = string.ascii_uppercase + "234567"
_DEPENDENTS = {  # AWS's DeleteConflict messages, in the order AWS checks
    "access keys": "Cannot delete entity, must delete access keys first.",
    "login profile": "Cannot delete entity, must delete login profile first.",
    "groups": "Cannot delete entity, must remove users from group first.",
    "users": "Cannot delete entity, must remove users from group first.",
    "policies": "Cannot delete entity, must delete policies first.",
    "attached policies": "Cannot delete entity, must detach all policies first.",
}


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


class Directory:
    def __init__(self, store: SqlIamStore, identity: IdentityService, authz: Authorizer,
                 clock: Clock, account: Callable[[], str]) -> None:
        self.store = store
        self.identity = identity
        self.authz = authz
        self.clock = clock
        self._account = account

    @property
    def account(self) -> str:
        return self._account()

    # --- lookups ----------------------------------------------------------------------------------
    def user(self, name: str) -> IamUser:
        found = self.store.user(name)
        if found is None:
            raise NoSuchEntity(f"The user with name {name} cannot be found.")
        return found

    def group(self, name: str) -> IamGroup:
        found = self.store.group(name)
        if found is None:
            raise NoSuchEntity(f"The group with name {name} cannot be found.")
        return found

    def role(self, name: str) -> IamRole:
        found = self.store.role(name)
        if found is None:
            raise NoSuchEntity(f"The role with name {name} cannot be found.")
        return found

    def entity(self, kind: str, name: str) -> tuple[str, str]:
        """(id, ARN) of a user, group or role."""
        found = {USER: self.user, GROUP: self.group, ROLE: self.role}[kind](name)
        return found.id, found.arn

    @staticmethod
    def own_user_name(caller: Principal | None, name: str | None) -> str:
        """``UserName`` defaults to the calling user (as AWS does for IAM users' own keys)."""
        if name is not None:
            return name
        if caller is None:
            raise Unauthenticated("authentication required")
        if caller.kind != USER:
            raise ValidationError("Must specify userName when calling with non-User credentials")
        return caller.name

    def _arn(self, kind: str, path: str, name: str) -> str:
        return arn(self.account, kind, path, name)

    # --- users ------------------------------------------------------------------------------------
    def create_user(self, caller: Principal | None, name: str, path: str | None = None,
                    tags: Sequence[tuple[str, str]] = ()) -> IamUser:
        check_name(USER, name, "userName")
        path = check_path(path)
        user_arn = self._arn(USER, path, name)
        self.authz.check(caller, "iam:CreateUser", user_arn)
        if tags:
            self.authz.check(caller, "iam:TagUser", user_arn)
        tags = check_tags(list(tags))
        if len(tags) > TAGS_PER_ENTITY:
            raise IamLimitExceeded(f"Cannot exceed quota for TagsPerUser: {TAGS_PER_ENTITY}")
        user = IamUser(new_id("AIDA"), name, path, user_arn, self.clock.now(), tuple(tags))
        try:
            self.store.create_user(user)
        except AlreadyExists:
            raise EntityAlreadyExists(f"User with name {name} already exists.") from None
        return user

    def get_user(self, caller: Principal | None, name: str | None = None) -> IamUser:
        user = self.user(self.own_user_name(caller, name))
        self.authz.check(caller, "iam:GetUser", user.arn)
        return user

    def list_users(self, caller: Principal | None, path_prefix: str | None = None) -> list[IamUser]:
        self.authz.check(caller, "iam:ListUsers", self._arn(USER, path_prefix or "/", "*"))
        return self.store.users(path_prefix or "/")

    def update_user(self, caller: Principal | None, name: str, new_name: str | None = None,
                    new_path: str | None = None) -> None:
        user = self.user(name)
        self.authz.check(caller, "iam:UpdateUser", user.arn)
        target_name = check_name(USER, new_name, "newUserName") if new_name is not None else name
        target_path = check_path(new_path, "newPath") if new_path is not None else user.path
        if target_name != name:
            self.authz.check(caller, "iam:UpdateUser", self._arn(USER, target_path, target_name))
        try:
            self.store.rename_user(user.id, target_name, target_path,
                                   self._arn(USER, target_path, target_name))
        except AlreadyExists:
            raise EntityAlreadyExists(f"User with name {target_name} already exists.") from None

    def delete_user(self, caller: Principal | None, name: str) -> None:
        user = self.user(name)
        self.authz.check(caller, "iam:DeleteUser", user.arn)
        _refuse_if_dependents(self.store.user_dependents(user.id))
        self.store.delete_user(user.id)

    # --- access keys ------------------------------------------------------------------------------
    def create_access_key(self, caller: Principal | None, user_name: str | None = None) -> NewKey:
        user = self.user(self.own_user_name(caller, user_name))
        self.authz.check(caller, "iam:CreateAccessKey", user.arn)
        if len(self.identity.store.access_keys(user.id)) >= ACCESS_KEYS_PER_USER:
            raise IamLimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: "
                                   f"{ACCESS_KEYS_PER_USER}")
        return self.identity.create_access_key(user.name)

    def list_access_keys(self, caller: Principal | None,
                         user_name: str | None = None) -> tuple[IamUser, list[AccessKey]]:
        user = self.user(self.own_user_name(caller, user_name))
        self.authz.check(caller, "iam:ListAccessKeys", user.arn)
        return user, self.identity.store.access_keys(user.id)

    def _users_key(self, user: IamUser, access_key_id: str) -> AccessKey:
        key = self.identity.store.access_key(access_key_id)
        if key is None or key.principal_id != user.id:
            raise NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")
        return key

    def update_access_key(self, caller: Principal | None, access_key_id: str, status: str,
                          user_name: str | None = None) -> None:
        user = self.user(self.own_user_name(caller, user_name))
        self.authz.check(caller, "iam:UpdateAccessKey", user.arn)
        if status not in (ACTIVE, INACTIVE):
            raise ValidationError(f"1 validation error detected: Value '{status}' at 'status' "
                                  f"failed to satisfy constraint: Member must satisfy enum value "
                                  f"set: [Active, Inactive]")
        self._users_key(user, access_key_id)
        self.identity.set_access_key_status(access_key_id, status)

    def delete_access_key(self, caller: Principal | None, access_key_id: str,
                          user_name: str | None = None) -> None:
        user = self.user(self.own_user_name(caller, user_name))
        self.authz.check(caller, "iam:DeleteAccessKey", user.arn)
        self._users_key(user, access_key_id)
        self.identity.delete_access_key(access_key_id)

    def access_key_last_used(self, caller: Principal | None,
                             access_key_id: str) -> tuple[IamUser, AccessKey]:
        key = self.identity.store.access_key(access_key_id)
        user = self.store.user_by_id(key.principal_id) if key else None
        if key is None or user is None:
            raise NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")
        self.authz.check(caller, "iam:GetAccessKeyLastUsed", user.arn)
        return user, key

    # --- groups -----------------------------------------------------------------------------------
    def create_group(self, caller: Principal | None, name: str,
                     path: str | None = None) -> IamGroup:
        check_name(GROUP, name, "groupName")
        path = check_path(path)
        group = IamGroup(new_id("AGPA"), name, path, self._arn(GROUP, path, name), self.clock.now())
        self.authz.check(caller, "iam:CreateGroup", group.arn)
        try:
            self.store.create_group(group)
        except AlreadyExists:
            raise EntityAlreadyExists(f"Group with name {name} already exists.") from None
        return group

    def get_group(self, caller: Principal | None, name: str) -> tuple[IamGroup, list[IamUser]]:
        group = self.group(name)
        self.authz.check(caller, "iam:GetGroup", group.arn)
        return group, self.store.group_members(group.id)

    def list_groups(self, caller: Principal | None,
                    path_prefix: str | None = None) -> list[IamGroup]:
        self.authz.check(caller, "iam:ListGroups", self._arn(GROUP, path_prefix or "/", "*"))
        return self.store.groups(path_prefix or "/")

    def delete_group(self, caller: Principal | None, name: str) -> None:
        group = self.group(name)
        self.authz.check(caller, "iam:DeleteGroup", group.arn)
        _refuse_if_dependents(self.store.group_dependents(group.id))
        self.store.delete_group(group.id)

    def add_user_to_group(self, caller: Principal | None, group_name: str, user_name: str) -> None:
        group = self.group(group_name)
        self.authz.check(caller, "iam:AddUserToGroup", group.arn)
        user = self.user(user_name)
        current = {g.id for g in self.store.groups_for_user(user.id)}
        if len(current) >= GROUPS_PER_USER and group.id not in current:
            raise IamLimitExceeded(f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}")
        self.store.add_member(group.id, user.id, self.clock.now())

    def remove_user_from_group(self, caller: Principal | None, group_name: str,
                               user_name: str) -> None:
        group = self.group(group_name)
        self.authz.check(caller, "iam:RemoveUserFromGroup", group.arn)
        user = self.user(user_name)
        if not self.store.remove_member(group.id, user.id):
            raise NoSuchEntity(f"The user with name {user_name} cannot be found in group "
                               f"{group_name}.")

    def list_groups_for_user(self, caller: Principal | None, user_name: str) -> list[IamGroup]:
        user = self.user(user_name)
        self.authz.check(caller, "iam:ListGroupsForUser", user.arn)
        return self.store.groups_for_user(user.id)

    # --- roles ------------------------------------------------------------------------------------
    def create_role(self, caller: Principal | None, name: str, trust_policy: str, *,
                    path: str | None = None, description: str | None = None,
                    max_session_duration: int | None = None,
                    tags: Sequence[tuple[str, str]] = ()) -> IamRole:
        check_name(ROLE, name, "roleName")
        path = check_path(path)
        role_arn = self._arn(ROLE, path, name)
        self.authz.check(caller, "iam:CreateRole", role_arn)
        if tags:
            self.authz.check(caller, "iam:TagRole", role_arn)
        check_trust_policy(trust_policy)
        duration = _session_duration(max_session_duration)
        _check_description(description)
        tags = check_tags(list(tags))
        if len(tags) > TAGS_PER_ENTITY:
            raise IamLimitExceeded(f"Cannot exceed quota for TagsPerRole: {TAGS_PER_ENTITY}")
        role = IamRole(new_id("AROA"), name, path, role_arn, trust_policy, duration,
                       self.clock.now(), description, None, tuple(tags))
        try:
            self.store.create_role(role)
        except AlreadyExists:
            raise EntityAlreadyExists(f"Role with name {name} already exists.") from None
        return role

    def get_role(self, caller: Principal | None, name: str) -> IamRole:
        role = self.role(name)
        self.authz.check(caller, "iam:GetRole", role.arn)
        return role

    def list_roles(self, caller: Principal | None, path_prefix: str | None = None) -> list[IamRole]:
        self.authz.check(caller, "iam:ListRoles", self._arn(ROLE, path_prefix or "/", "*"))
        return self.store.roles(path_prefix or "/")

    def update_role(self, caller: Principal | None, name: str, description: str | None = None,
                    max_session_duration: int | None = None) -> None:
        role = self.role(name)
        self.authz.check(caller, "iam:UpdateRole", role.arn)
        values: dict[str, object] = {}
        if description is not None:
            values["description"] = _check_description(description)
        if max_session_duration is not None:
            values["max_session_duration"] = _session_duration(max_session_duration)
        if values:
            self.store.update_role(role.id, **values)

    def update_assume_role_policy(self, caller: Principal | None, name: str,
                                  trust_policy: str) -> None:
        role = self.role(name)
        self.authz.check(caller, "iam:UpdateAssumeRolePolicy", role.arn)
        check_trust_policy(trust_policy)
        self.store.update_role(role.id, trust_policy=trust_policy)

    def delete_role(self, caller: Principal | None, name: str) -> None:
        role = self.role(name)
        self.authz.check(caller, "iam:DeleteRole", role.arn)
        _refuse_if_dependents(self.store.role_dependents(role.id))
        self.store.delete_role(role.id)

    # --- tags -------------------------------------------------------------------------------------
    def tag(self, caller: Principal | None, kind: str, name: str,
            tags: Sequence[tuple[str, str]]) -> None:
        entity_id, entity_arn = self.entity(kind, name)
        self.authz.check(caller, f"iam:Tag{kind.title()}", entity_arn)
        if not self.store.put_tags(kind, entity_id, check_tags(list(tags)), TAGS_PER_ENTITY):
            raise IamLimitExceeded(f"Cannot exceed quota for TagsPer{kind.title()}: "
                                   f"{TAGS_PER_ENTITY}")

    def untag(self, caller: Principal | None, kind: str, name: str, keys: Sequence[str]) -> None:
        entity_id, entity_arn = self.entity(kind, name)
        self.authz.check(caller, f"iam:Untag{kind.title()}", entity_arn)
        self.store.remove_tags(kind, entity_id, keys)

    def list_tags(self, caller: Principal | None, kind: str, name: str) -> list[tuple[str, str]]:
        entity_id, entity_arn = self.entity(kind, name)
        self.authz.check(caller, f"iam:List{kind.title()}Tags", entity_arn)
        return self.store.tags(kind, entity_id)

    # --- login profiles (console passwords) -------------------------------------------------------
    def create_login_profile(self, caller: Principal | None, user_name: str | None,
                             password: str, reset_required: bool = False) -> LoginProfile:
        user = self.user(self.own_user_name(caller, user_name))
        self.authz.check(caller, "iam:CreateLoginProfile", user.arn)
        digest = passwords.hash_password(passwords.check_policy(password))
        now = self.clock.now()
        try:
            self.store.create_login_profile(user.id, digest, reset_required, now)
        except AlreadyExists:
            raise EntityAlreadyExists(f"Login Profile for user {user.name} already exists.") from None
        return LoginProfile(user.id, user.name, now, reset_required)

    def _profile(self, user: IamUser) -> LoginProfile:
        profile = self.store.login_profile(user.id)
        if profile is None:
            raise NoSuchEntity(f"Login Profile for User {user.name} cannot be found.")
        return profile

    def get_login_profile(self, caller: Principal | None,
                          user_name: str | None = None) -> LoginProfile:
        user = self.user(self.own_user_name(caller, user_name))
        self.authz.check(caller, "iam:GetLoginProfile", user.arn)
        return self._profile(user)

    def update_login_profile(self, caller: Principal | None, user_name: str | None,
                             password: str | None = None,
                             reset_required: bool | None = None) -> None:
        user = self.user(self.own_user_name(caller, user_name))
        self.authz.check(caller, "iam:UpdateLoginProfile", user.arn)
        self._profile(user)
        values: dict[str, object] = {}
        if password is not None:
            values.update(password_hash=passwords.hash_password(passwords.check_policy(password)),
                          failed_attempts=0, locked_until=None)
        if reset_required is not None:
            values["password_reset_required"] = reset_required
        if values:
            self.store.update_login_profile(user.id, **values)

    def delete_login_profile(self, caller: Principal | None, user_name: str | None = None) -> None:
        user = self.user(self.own_user_name(caller, user_name))
        self.authz.check(caller, "iam:DeleteLoginProfile", user.arn)
        if not self.store.delete_login_profile(user.id):
            raise NoSuchEntity(f"Login Profile for User {user.name} cannot be found.")

    def change_password(self, caller: Principal | None, old_password: str,
                        new_password: str) -> None:
        """``iam:ChangePassword``: the calling IAM user replaces its own console password.

        Needs ``iam:ChangePassword`` on the user's ARN, which a profile that requires a reset
        grants implicitly (an explicit ``Deny`` still refuses). The old password is checked like
        a sign-in: failures count towards the profile's lock-out, and a locked profile refuses
        even the right one (``LimitExceeded``). The new password follows the password policy and
        must differ from the old one. Success clears ``PasswordResetRequired`` and the failures.
        """
        if caller is None:
            raise Unauthenticated("authentication required")
        if caller.kind != USER or caller.arn.endswith(":root"):
            raise InvalidUserType("Only IAM users can change their own password; use "
                                  "UpdateLoginProfile to set another user's password.")
        user = self.store.user_by_id(caller.id)
        if user is None:
            raise NoSuchEntity(f"The user with name {caller.name} cannot be found.")
        profile = self.store.login_profile(user.id)
        if profile is not None and profile.password_reset_required:
            decision = self.authz.decide(caller, "iam:ChangePassword", user.arn)
            if decision.explicit_deny:
                self.authz.check(caller, "iam:ChangePassword", user.arn)  # raises AccessDenied
        else:
            self.authz.check(caller, "iam:ChangePassword", user.arn)
        if profile is None:
            raise NoSuchEntity(f"Login Profile for User {user.name} cannot be found.")
        passwords.check_policy(new_password)
        now: datetime = self.clock.now()
        if passwords.locked(profile.locked_until, now):
            raise IamLimitExceeded("Password change attempts exceeded: too many incorrect "
                                   "passwords. Try again later.")
        if not isinstance(old_password, str) or not passwords.verify_password(
                profile.password_hash, old_password):
            self.store.record_login_failure(user.id, now, passwords.LOCK_AFTER,
                                            passwords.LOCK_FOR)
            raise IncorrectPassword("The old password is incorrect.")
        if passwords.verify_password(profile.password_hash, new_password):
            raise PasswordPolicyViolation("The new password must differ from the old password.")
        self.store.update_login_profile(
            user.id, password_hash=passwords.hash_password(new_password),
            password_reset_required=False, failed_attempts=0, locked_until=None)

    def authenticate_console(self, user_name: str, password: str) -> IamUser:
        """Check a console sign-in. After ``LOCK_AFTER`` failures in a row the profile is locked
        for ``LOCK_FOR`` (also against the right password); every failure looks the same."""
        now: datetime = self.clock.now()
        user = self.store.user(user_name) if isinstance(user_name, str) else None
        profile = self.store.login_profile(user.id) if user else None
        ok = passwords.verify_password(profile.password_hash if profile else None, password)
        if user is None or profile is None or passwords.locked(profile.locked_until, now) or not ok:
            if user is not None and profile is not None and not passwords.locked(
                    profile.locked_until, now):
                self.store.record_login_failure(user.id, now, passwords.LOCK_AFTER,
                                                passwords.LOCK_FOR)
            raise Unauthenticated("Your authentication information is incorrect. Please try again.")
        self.store.update_login_profile(user.id, failed_attempts=0, locked_until=None,
                                        last_used_at=now)
        return user


def _refuse_if_dependents(dependents: dict[str, int]) -> None:
    for what, message in _DEPENDENTS.items():
        if dependents.get(what):
            raise DeleteConflict(message)


def _session_duration(value: int | None) -> int:
    if value is None:
        return DEFAULT_SESSION_DURATION
    if not DEFAULT_SESSION_DURATION <= value <= MAX_SESSION_DURATION:
        raise ValidationError(f"1 validation error detected: Value '{value}' at "
                              f"'maxSessionDuration' failed to satisfy constraint: Member must have "
                              f"value between {DEFAULT_SESSION_DURATION} and "
                              f"{MAX_SESSION_DURATION}")
    return value


def _check_description(description: str | None) -> str | None:
    if description is not None and len(description) > 1000:
        raise ValidationError("1 validation error detected: Value at 'description' failed to "
                              "satisfy constraint: Member must have length less than or equal to "
                              "1000")
    return description
