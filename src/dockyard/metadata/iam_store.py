"""IAM metadata in SQL: users (rows of ``principals``), groups, roles, managed policies and their
versions, attachments, inline policies, tags, login profiles and STS sessions.

Entities other tables point at are named by ``(entity_kind, entity_id)``; the ids carry IAM's
prefixes (AIDA user, AGPA group, AROA role, ANPA policy) so they never collide.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from dockyard.domain.iam import (
    GROUP,
    ROLE,
    USER,
    IamGroup,
    IamRole,
    IamUser,
    LoginProfile,
    ManagedPolicy,
    PolicyVersion,
    StsSession,
)
from dockyard.metadata.engine import Database, retry_conflicts
from dockyard.metadata.tables import (
    access_keys,
    iam_attachments,
    iam_group_members,
    iam_groups,
    iam_inline_policies,
    iam_login_profiles,
    iam_policies,
    iam_policy_versions,
    iam_roles,
    iam_tags,
    principals,
    sts_sessions,
)


class AlreadyExists(Exception):
    """A unique name or key is taken (the service turns this into EntityAlreadyExists)."""


def _user(row: Any, tags: Sequence[tuple[str, str]] = ()) -> IamUser:
    return IamUser(row.id, row.name, row.path, row.arn, row.created_at, tuple(tags))


def _group(row: Any) -> IamGroup:
    return IamGroup(row.id, row.name, row.path, row.arn, row.created_at)


def _role(row: Any, tags: Sequence[tuple[str, str]] = ()) -> IamRole:
    return IamRole(row.id, row.name, row.path, row.arn, row.trust_policy, row.max_session_duration,
                   row.created_at, row.description, row.last_used_at, tuple(tags))


def _policy(row: Any, attachments: int = 0) -> ManagedPolicy:
    return ManagedPolicy(row.arn, row.name, row.id, row.path, row.default_version, row.created_at,
                         row.updated_at, row.description, attachments)


def _session(row: Any) -> StsSession:
    return StsSession(row.access_key_id, row.role_id, row.session_name, row.source_arn,
                      row.created_at, row.expires_at, row.secret_encrypted, row.token_sha256,
                      row.session_policy, tuple(row.policy_arns or ()),
                      tuple((k, v) for k, v in (row.tags or ())), row.source_identity)


def _tags(c: Connection, kind: str, entity_id: str) -> list[tuple[str, str]]:
    rows = c.execute(select(iam_tags.c.key, iam_tags.c.value).where(
        iam_tags.c.entity_kind == kind, iam_tags.c.entity_id == entity_id).order_by(iam_tags.c.key))
    return [(r.key, r.value) for r in rows]


_USER_ROWS = select(principals).where(principals.c.kind == USER)


@retry_conflicts
class SqlIamStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- users --------------------------------------------------------------------------------
    def create_user(self, user: IamUser) -> None:
        try:
            with self.db.write() as c:
                c.execute(insert(principals).values(
                    id=user.id, kind=USER, name=user.name, path=user.path, arn=user.arn,
                    policies=[], created_at=user.created_at))
                self._put_tags(c, USER, user.id, user.tags)
        except IntegrityError:
            raise AlreadyExists(user.name) from None

    def user(self, name: str) -> IamUser | None:
        with self.db.read() as c:
            row = c.execute(_USER_ROWS.where(principals.c.name == name)).first()
            return _user(row, _tags(c, USER, row.id)) if row else None

    def user_by_id(self, user_id: str) -> IamUser | None:
        with self.db.read() as c:
            row = c.execute(_USER_ROWS.where(principals.c.id == user_id)).first()
            return _user(row, _tags(c, USER, row.id)) if row else None

    def users(self, path_prefix: str = "/") -> list[IamUser]:
        with self.db.read() as c:
            rows = c.execute(_USER_ROWS.where(principals.c.path.startswith(path_prefix, autoescape=True))
                             .order_by(principals.c.name)).all()
            return [_user(r, _tags(c, USER, r.id)) for r in rows]

    def rename_user(self, user_id: str, name: str, path: str, arn: str) -> None:
        try:
            with self.db.write() as c:
                c.execute(update(principals).where(principals.c.id == user_id)
                          .values(name=name, path=path, arn=arn))
        except IntegrityError:
            raise AlreadyExists(name) from None

    def user_dependents(self, user_id: str) -> dict[str, int]:
        """What must go before a user can be deleted (AWS's DeleteConflict reasons)."""
        with self.db.read() as c:
            return {
                "access keys": _count(c, access_keys, access_keys.c.principal_id == user_id),
                "login profile": _count(c, iam_login_profiles,
                                        iam_login_profiles.c.principal_id == user_id),
                "groups": _count(c, iam_group_members, iam_group_members.c.principal_id == user_id),
                "policies": _count(c, iam_inline_policies, _entity(iam_inline_policies, USER, user_id)),
                "attached policies": _count(c, iam_attachments,
                                            _entity(iam_attachments, USER, user_id)),
            }

    def delete_user(self, user_id: str) -> None:
        with self.db.write() as c:
            c.execute(delete(iam_tags).where(_entity(iam_tags, USER, user_id)))
            c.execute(delete(principals).where(principals.c.id == user_id))

    # --- groups -------------------------------------------------------------------------------
    def create_group(self, group: IamGroup) -> None:
        try:
            with self.db.write() as c:
                c.execute(insert(iam_groups).values(id=group.id, name=group.name, path=group.path,
                                                    arn=group.arn, created_at=group.created_at))
        except IntegrityError:
            raise AlreadyExists(group.name) from None

    def group(self, name: str) -> IamGroup | None:
        with self.db.read() as c:
            row = c.execute(select(iam_groups).where(iam_groups.c.name == name)).first()
        return _group(row) if row else None

    def groups(self, path_prefix: str = "/") -> list[IamGroup]:
        with self.db.read() as c:
            rows = c.execute(select(iam_groups).where(
                iam_groups.c.path.startswith(path_prefix, autoescape=True)).order_by(iam_groups.c.name))
            return [_group(r) for r in rows]

    def groups_for_user(self, user_id: str) -> list[IamGroup]:
        with self.db.read() as c:
            rows = c.execute(select(iam_groups).join(
                iam_group_members, iam_group_members.c.group_id == iam_groups.c.id).where(
                iam_group_members.c.principal_id == user_id).order_by(iam_groups.c.name))
            return [_group(r) for r in rows]

    def group_members(self, group_id: str) -> list[IamUser]:
        with self.db.read() as c:
            rows = c.execute(_USER_ROWS.join(
                iam_group_members, iam_group_members.c.principal_id == principals.c.id).where(
                iam_group_members.c.group_id == group_id).order_by(principals.c.name)).all()
            return [_user(r, _tags(c, USER, r.id)) for r in rows]

    def add_member(self, group_id: str, user_id: str, now: datetime) -> None:
        with self.db.write() as c:
            exists = c.execute(select(iam_group_members.c.group_id).where(
                iam_group_members.c.group_id == group_id,
                iam_group_members.c.principal_id == user_id)).first()
            if exists is None:
                c.execute(insert(iam_group_members).values(group_id=group_id, principal_id=user_id,
                                                           added_at=now))

    def remove_member(self, group_id: str, user_id: str) -> bool:
        with self.db.write() as c:
            return c.execute(delete(iam_group_members).where(
                iam_group_members.c.group_id == group_id,
                iam_group_members.c.principal_id == user_id)).rowcount > 0

    def group_dependents(self, group_id: str) -> dict[str, int]:
        with self.db.read() as c:
            return {
                "users": _count(c, iam_group_members, iam_group_members.c.group_id == group_id),
                "policies": _count(c, iam_inline_policies,
                                   _entity(iam_inline_policies, GROUP, group_id)),
                "attached policies": _count(c, iam_attachments,
                                            _entity(iam_attachments, GROUP, group_id)),
            }

    def delete_group(self, group_id: str) -> None:
        with self.db.write() as c:
            c.execute(delete(iam_groups).where(iam_groups.c.id == group_id))

    # --- roles --------------------------------------------------------------------------------
    def create_role(self, role: IamRole) -> None:
        try:
            with self.db.write() as c:
                c.execute(insert(iam_roles).values(
                    id=role.id, name=role.name, path=role.path, arn=role.arn,
                    trust_policy=role.trust_policy, description=role.description,
                    max_session_duration=role.max_session_duration, created_at=role.created_at))
                self._put_tags(c, ROLE, role.id, role.tags)
        except IntegrityError:
            raise AlreadyExists(role.name) from None

    def role(self, name: str) -> IamRole | None:
        with self.db.read() as c:
            row = c.execute(select(iam_roles).where(iam_roles.c.name == name)).first()
            return _role(row, _tags(c, ROLE, row.id)) if row else None

    def role_by_id(self, role_id: str) -> IamRole | None:
        with self.db.read() as c:
            row = c.execute(select(iam_roles).where(iam_roles.c.id == role_id)).first()
            return _role(row, _tags(c, ROLE, row.id)) if row else None

    def roles(self, path_prefix: str = "/") -> list[IamRole]:
        with self.db.read() as c:
            rows = c.execute(select(iam_roles).where(
                iam_roles.c.path.startswith(path_prefix, autoescape=True))
                .order_by(iam_roles.c.name)).all()
            return [_role(r, _tags(c, ROLE, r.id)) for r in rows]

    def update_role(self, role_id: str, **values: Any) -> None:
        with self.db.write() as c:
            c.execute(update(iam_roles).where(iam_roles.c.id == role_id).values(**values))

    def role_dependents(self, role_id: str) -> dict[str, int]:
        with self.db.read() as c:
            return {
                "policies": _count(c, iam_inline_policies, _entity(iam_inline_policies, ROLE, role_id)),
                "attached policies": _count(c, iam_attachments,
                                            _entity(iam_attachments, ROLE, role_id)),
            }

    def delete_role(self, role_id: str) -> None:
        with self.db.write() as c:
            c.execute(delete(iam_tags).where(_entity(iam_tags, ROLE, role_id)))
            c.execute(delete(sts_sessions).where(sts_sessions.c.role_id == role_id))
            c.execute(delete(iam_roles).where(iam_roles.c.id == role_id))

    # --- tags ---------------------------------------------------------------------------------
    def tags(self, kind: str, entity_id: str) -> list[tuple[str, str]]:
        with self.db.read() as c:
            return _tags(c, kind, entity_id)

    def put_tags(self, kind: str, entity_id: str, tags: Iterable[tuple[str, str]],
                 limit: int = 50) -> bool:
        """Add or overwrite tags; False (and nothing written) when more than ``limit`` would result."""
        tags = list(tags)
        with self.db.write() as c:
            keys = {k.lower() for k, _ in _tags(c, kind, entity_id)} | {k.lower() for k, _ in tags}
            if len(keys) > limit:
                return False
            self._put_tags(c, kind, entity_id, tags)
        return True

    @staticmethod
    def _put_tags(c: Connection, kind: str, entity_id: str, tags: Iterable[tuple[str, str]]) -> None:
        for key, value in tags:
            c.execute(delete(iam_tags).where(_entity(iam_tags, kind, entity_id),
                                             func.lower(iam_tags.c.key) == key.lower()))
            c.execute(insert(iam_tags).values(entity_kind=kind, entity_id=entity_id, key=key,
                                              value=value))

    def remove_tags(self, kind: str, entity_id: str, keys: Iterable[str]) -> None:
        lowered = [k.lower() for k in keys]
        if not lowered:
            return
        with self.db.write() as c:
            c.execute(delete(iam_tags).where(_entity(iam_tags, kind, entity_id),
                                             func.lower(iam_tags.c.key).in_(lowered)))

    # --- inline policies ----------------------------------------------------------------------
    def put_inline(self, kind: str, entity_id: str, name: str, document: str, now: datetime,
                   max_total: int) -> bool:
        """Create or replace; False (nothing written) when the entity's inline policies would
        exceed ``max_total`` non-whitespace characters together (IAM's aggregate quota)."""
        with self.db.write() as c:
            others = c.execute(select(iam_inline_policies.c.document).where(
                _entity(iam_inline_policies, kind, entity_id),
                iam_inline_policies.c.name != name)).scalars().all()
            if sum(_packed(d) for d in [*others, document]) > max_total:
                return False
            c.execute(delete(iam_inline_policies).where(
                _entity(iam_inline_policies, kind, entity_id), iam_inline_policies.c.name == name))
            c.execute(insert(iam_inline_policies).values(
                entity_kind=kind, entity_id=entity_id, name=name, document=document, updated_at=now))
        return True

    def inline(self, kind: str, entity_id: str, name: str) -> str | None:
        with self.db.read() as c:
            return c.execute(select(iam_inline_policies.c.document).where(
                _entity(iam_inline_policies, kind, entity_id),
                iam_inline_policies.c.name == name)).scalar()

    def inline_names(self, kind: str, entity_id: str) -> list[str]:
        with self.db.read() as c:
            return list(c.execute(select(iam_inline_policies.c.name).where(
                _entity(iam_inline_policies, kind, entity_id)).order_by(
                iam_inline_policies.c.name)).scalars())

    def delete_inline(self, kind: str, entity_id: str, name: str) -> bool:
        with self.db.write() as c:
            return c.execute(delete(iam_inline_policies).where(
                _entity(iam_inline_policies, kind, entity_id),
                iam_inline_policies.c.name == name)).rowcount > 0

    # --- managed policies ---------------------------------------------------------------------
    def create_policy(self, policy: ManagedPolicy, document: str,
                      tags: Sequence[tuple[str, str]] = ()) -> None:
        try:
            with self.db.write() as c:
                c.execute(insert(iam_policies).values(
                    id=policy.id, name=policy.name, path=policy.path, arn=policy.arn,
                    description=policy.description, default_version="v1", next_version=2,
                    created_at=policy.created_at, updated_at=policy.updated_at))
                c.execute(insert(iam_policy_versions).values(
                    policy_id=policy.id, version_id="v1", document=document,
                    created_at=policy.created_at))
                self._put_tags(c, "policy", policy.id, tags)
        except IntegrityError:
            raise AlreadyExists(policy.name) from None

    def policy(self, policy_arn: str) -> ManagedPolicy | None:
        with self.db.read() as c:
            row = c.execute(select(iam_policies).where(iam_policies.c.arn == policy_arn)).first()
            if row is None:
                return None
            return _policy(row, _count(c, iam_attachments, iam_attachments.c.policy_arn == policy_arn))

    def policies(self, path_prefix: str = "/") -> list[ManagedPolicy]:
        with self.db.read() as c:
            counts = {arn: n for arn, n in c.execute(select(
                iam_attachments.c.policy_arn, func.count()).group_by(iam_attachments.c.policy_arn))}
            rows = c.execute(select(iam_policies).where(
                iam_policies.c.path.startswith(path_prefix, autoescape=True))
                .order_by(iam_policies.c.name))
            return [_policy(r, counts.get(r.arn, 0)) for r in rows]

    def attachment_counts(self) -> dict[str, int]:
        with self.db.read() as c:
            return {arn: n for arn, n in c.execute(select(
                iam_attachments.c.policy_arn, func.count()).group_by(iam_attachments.c.policy_arn))}

    def versions(self, policy_id: str) -> list[PolicyVersion]:
        with self.db.read() as c:
            default = c.execute(select(iam_policies.c.default_version).where(
                iam_policies.c.id == policy_id)).scalar()
            rows = c.execute(select(iam_policy_versions).where(
                iam_policy_versions.c.policy_id == policy_id).order_by(
                iam_policy_versions.c.created_at.desc()))
            return [PolicyVersion(r.version_id, r.document, r.version_id == default, r.created_at)
                    for r in rows]

    def add_version(self, policy_id: str, document: str, set_default: bool, now: datetime,
                    max_versions: int = 5) -> str | None:
        """The new version id, or None when the policy already has ``max_versions``."""
        with self.db.write() as c:
            row = c.execute(select(iam_policies.c.next_version).where(
                iam_policies.c.id == policy_id)).first()
            if _count(c, iam_policy_versions, iam_policy_versions.c.policy_id == policy_id) \
                    >= max_versions or row is None:
                return None
            version = f"v{row.next_version}"
            c.execute(insert(iam_policy_versions).values(policy_id=policy_id, version_id=version,
                                                         document=document, created_at=now))
            values: dict[str, Any] = {"next_version": row.next_version + 1, "updated_at": now}
            if set_default:
                values["default_version"] = version
            c.execute(update(iam_policies).where(iam_policies.c.id == policy_id).values(**values))
        return version

    def set_default_version(self, policy_id: str, version: str, now: datetime) -> None:
        with self.db.write() as c:
            c.execute(update(iam_policies).where(iam_policies.c.id == policy_id)
                      .values(default_version=version, updated_at=now))

    def delete_version(self, policy_id: str, version: str) -> bool:
        with self.db.write() as c:
            return c.execute(delete(iam_policy_versions).where(
                iam_policy_versions.c.policy_id == policy_id,
                iam_policy_versions.c.version_id == version)).rowcount > 0

    def delete_policy(self, policy_id: str) -> None:
        with self.db.write() as c:
            c.execute(delete(iam_tags).where(_entity(iam_tags, "policy", policy_id)))
            c.execute(delete(iam_policies).where(iam_policies.c.id == policy_id))

    # --- attachments --------------------------------------------------------------------------
    def attach(self, kind: str, entity_id: str, policy_arn: str, now: datetime,
               limit: int = 10) -> bool:
        """Attach (idempotent); False when the entity already has ``limit`` other policies."""
        with self.db.write() as c:
            where = _entity(iam_attachments, kind, entity_id)
            if c.execute(select(iam_attachments.c.policy_arn).where(
                    where, iam_attachments.c.policy_arn == policy_arn)).first() is not None:
                return True
            if _count(c, iam_attachments, where) >= limit:
                return False
            c.execute(insert(iam_attachments).values(entity_kind=kind, entity_id=entity_id,
                                                     policy_arn=policy_arn, attached_at=now))
        return True

    def detach(self, kind: str, entity_id: str, policy_arn: str) -> bool:
        with self.db.write() as c:
            return c.execute(delete(iam_attachments).where(
                _entity(iam_attachments, kind, entity_id),
                iam_attachments.c.policy_arn == policy_arn)).rowcount > 0

    def attached(self, kind: str, entity_id: str) -> list[str]:
        with self.db.read() as c:
            return list(c.execute(select(iam_attachments.c.policy_arn).where(
                _entity(iam_attachments, kind, entity_id)).order_by(
                iam_attachments.c.policy_arn)).scalars())

    def entities_for_policy(self, policy_arn: str) -> list[tuple[str, str, str]]:
        """(kind, id, name) of every user, group and role the policy is attached to."""
        with self.db.read() as c:
            rows = c.execute(select(iam_attachments.c.entity_kind, iam_attachments.c.entity_id)
                             .where(iam_attachments.c.policy_arn == policy_arn)).all()
            found = []
            for kind, entity_id in rows:
                table = {USER: principals, GROUP: iam_groups, ROLE: iam_roles}[kind]
                name = c.execute(select(table.c.name).where(table.c.id == entity_id)).scalar()
                if name is not None:
                    found.append((kind, entity_id, name))
            return sorted(found)

    # --- resolution: every identity-policy document of a user or a role ------------------------
    def identity_documents(self, kind: str, entity_id: str) -> tuple[list[str], list[str]]:
        """(inline documents, attached policy ARNs) of the entity and, for a user, its groups."""
        with self.db.read() as c:
            owners = [(kind, entity_id)]
            if kind == USER:
                owners += [(GROUP, g) for g in c.execute(select(iam_group_members.c.group_id).where(
                    iam_group_members.c.principal_id == entity_id)).scalars()]
            inline_where = or_(*[_entity(iam_inline_policies, k, i) for k, i in owners])
            attach_where = or_(*[_entity(iam_attachments, k, i) for k, i in owners])
            documents = list(c.execute(select(iam_inline_policies.c.document).where(inline_where)
                                       .order_by(iam_inline_policies.c.entity_kind,
                                                 iam_inline_policies.c.name)).scalars())
            arns = list(dict.fromkeys(c.execute(select(iam_attachments.c.policy_arn).where(
                attach_where).order_by(iam_attachments.c.policy_arn)).scalars()))
            legacy = []
            if kind == USER:
                legacy = c.execute(select(principals.c.policies).where(
                    principals.c.id == entity_id)).scalar() or []
        return documents + [_legacy_text(d) for d in legacy], arns

    def default_documents(self, policy_arns: Sequence[str]) -> dict[str, str]:
        """The default-version document of each customer managed policy among ``policy_arns``."""
        if not policy_arns:
            return {}
        with self.db.read() as c:
            rows = c.execute(select(iam_policies.c.arn, iam_policy_versions.c.document).join(
                iam_policy_versions, and_(iam_policy_versions.c.policy_id == iam_policies.c.id,
                                          iam_policy_versions.c.version_id
                                          == iam_policies.c.default_version)).where(
                iam_policies.c.arn.in_(list(policy_arns))))
            return {r.arn: r.document for r in rows}

    # --- login profiles -----------------------------------------------------------------------
    def login_profile(self, user_id: str) -> LoginProfile | None:
        with self.db.read() as c:
            row = c.execute(select(iam_login_profiles, principals.c.name).join(
                principals, principals.c.id == iam_login_profiles.c.principal_id).where(
                iam_login_profiles.c.principal_id == user_id)).first()
        if row is None:
            return None
        return LoginProfile(row.principal_id, row.name, row.created_at, row.password_reset_required,
                            row.password_hash, row.failed_attempts, row.locked_until)

    def create_login_profile(self, user_id: str, password_hash: str, reset_required: bool,
                             now: datetime) -> None:
        try:
            with self.db.write() as c:
                c.execute(insert(iam_login_profiles).values(
                    principal_id=user_id, password_hash=password_hash,
                    password_reset_required=reset_required, created_at=now, failed_attempts=0))
        except IntegrityError:
            raise AlreadyExists(user_id) from None

    def update_login_profile(self, user_id: str, **values: Any) -> None:
        with self.db.write() as c:
            c.execute(update(iam_login_profiles).where(
                iam_login_profiles.c.principal_id == user_id).values(**values))

    def record_login_failure(self, user_id: str, now: datetime, lock_after: int,
                             lock_for: timedelta) -> None:
        """Count a failed console sign-in of an unlocked profile; at ``lock_after`` failures in a
        row, lock it until ``now + lock_for`` and restart the count. One transaction of atomic
        updates: failures racing on several nodes are all counted."""
        profile = iam_login_profiles.c
        with self.db.write() as c:
            c.execute(update(iam_login_profiles).where(
                profile.principal_id == user_id,
                or_(profile.locked_until.is_(None), profile.locked_until <= now))
                .values(failed_attempts=profile.failed_attempts + 1))
            c.execute(update(iam_login_profiles).where(
                profile.principal_id == user_id, profile.failed_attempts >= lock_after)
                .values(failed_attempts=0, locked_until=now + lock_for))

    def delete_login_profile(self, user_id: str) -> bool:
        with self.db.write() as c:
            return c.execute(delete(iam_login_profiles).where(
                iam_login_profiles.c.principal_id == user_id)).rowcount > 0

    # --- STS sessions -------------------------------------------------------------------------
    def create_session(self, session: StsSession) -> None:
        with self.db.write() as c:
            c.execute(insert(sts_sessions).values(
                access_key_id=session.access_key_id, secret_encrypted=session.secret_encrypted,
                token_sha256=session.token_sha256, role_id=session.role_id,
                session_name=session.session_name, source_arn=session.source_arn,
                session_policy=session.session_policy, policy_arns=list(session.policy_arns),
                tags=[list(t) for t in session.tags], source_identity=session.source_identity,
                created_at=session.created_at, expires_at=session.expires_at))

    def session(self, access_key_id: str) -> StsSession | None:
        with self.db.read() as c:
            row = c.execute(select(sts_sessions).where(
                sts_sessions.c.access_key_id == access_key_id)).first()
        return _session(row) if row else None

    def delete_expired_sessions(self, before: datetime) -> int:
        with self.db.write() as c:
            return c.execute(delete(sts_sessions).where(sts_sessions.c.expires_at < before)).rowcount


def _entity(table: Any, kind: str, entity_id: str) -> Any:
    return and_(table.c.entity_kind == kind, table.c.entity_id == entity_id)


def _count(c: Connection, table: Any, where: Any) -> int:
    return int(c.execute(select(func.count()).select_from(table).where(where)).scalar() or 0)


def _packed(document: str) -> int:
    """IAM counts policy size without whitespace."""
    return sum(1 for ch in document if not ch.isspace())


def _legacy_text(document: Any) -> str:
    return document if isinstance(document, str) else json.dumps(document)
