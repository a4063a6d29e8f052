"""What grants permissions in IAM: managed policies (customer managed, with versions, and the
built-in AWS managed ones), their attachments to users, groups and roles, and inline policies.

As in ``directory``, every operation checks ``iam:<Action>`` on the ARN it acts on first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from dockyard.domain.iam import (
    AWS_POLICY_PREFIX,
    GROUP,
    ROLE,
    USER,
    ManagedPolicy,
    PolicyVersion,
    arn,
    check_name,
    check_path,
    check_tags,
)
from dockyard.domain.models import Principal
from dockyard.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    IamLimitExceeded,
    InvalidInput,
    NoSuchEntity,
    ValidationError,
)
from dockyard.iam.authorizer import Authorizer
from dockyard.iam.aws_managed import AWS_MANAGED, AwsManagedPolicy
from dockyard.iam.directory import Directory, new_id
from dockyard.iam.policy_text import (
    INLINE_POLICY_SIZES,
    check_identity_policy,
    check_managed_policy,
)
from dockyard.metadata.iam_store import AlreadyExists, SqlIamStore
from dockyard.ports import Clock

MANAGED_POLICIES_PER_ENTITY = 10
VERSIONS_PER_POLICY = 5
_KINDS = {USER: "User", GROUP: "Group", ROLE: "Role"}


def _aws_policy(policy: AwsManagedPolicy, attachments: int) -> ManagedPolicy:
    return ManagedPolicy(policy.arn, policy.name, policy.id, "/", policy.version,
                         policy.created_at, policy.updated_at, policy.description, attachments,
                         aws_managed=True)


def _not_found(policy_arn: str) -> NoSuchEntity:
    return NoSuchEntity(f"Policy {policy_arn} does not exist or is not attachable.")


class Permissions:
    def __init__(self, store: SqlIamStore, directory: Directory, authz: Authorizer, clock: Clock,
                 account: Callable[[], str]) -> None:
        self.store = store
        self.directory = directory
        self.authz = authz
        self.clock = clock
        self._account = account

    # --- managed policies -------------------------------------------------------------------------
    def policy(self, policy_arn: str) -> ManagedPolicy:
        if policy_arn in AWS_MANAGED:
            return _aws_policy(AWS_MANAGED[policy_arn],
                               self.store.attachment_counts().get(policy_arn, 0))
        found = self.store.policy(policy_arn) if isinstance(policy_arn, str) else None
        if found is None:
            raise _not_found(policy_arn)
        return found

    def _customer_policy(self, policy_arn: str, action: str) -> ManagedPolicy:
        if isinstance(policy_arn, str) and policy_arn.startswith(AWS_POLICY_PREFIX + "/"):
            raise InvalidInput(f"{action} is not allowed on the AWS managed policy {policy_arn}.")
        return self.policy(policy_arn)

    def create_policy(self, caller: Principal | None, name: str, document: str, *,
                      path: str | None = None, description: str | None = None,
                      tags: Sequence[tuple[str, str]] = ()) -> ManagedPolicy:
        check_name("policy", name, "policyName")
        path = check_path(path)
        policy_arn = arn(self._account(), "policy", path, name)
        self.authz.check(caller, "iam:CreatePolicy", policy_arn)
        if tags:
            self.authz.check(caller, "iam:TagPolicy", policy_arn)
        check_managed_policy(document)
        if description is not None and len(description) > 1000:
            raise ValidationError("1 validation error detected: Value at 'description' failed to "
                                  "satisfy constraint: Member must have length less than or "
                                  "equal to 1000")
        now = self.clock.now()
        policy = ManagedPolicy(policy_arn, name, new_id("ANPA"), path, "v1", now, now, description)
        try:
            self.store.create_policy(policy, document, check_tags(list(tags)))
        except AlreadyExists:
            raise EntityAlreadyExists(f"A policy called {name} already exists. Duplicate names are "
                                      f"not allowed.") from None
        return policy

    def get_policy(self, caller: Principal | None, policy_arn: str) -> ManagedPolicy:
        self.authz.check(caller, "iam:GetPolicy", policy_arn)
        return self.policy(policy_arn)

    def policy_tags(self, policy: ManagedPolicy) -> list[tuple[str, str]]:
        return [] if policy.aws_managed else self.store.tags("policy", policy.id)

    def list_policies(self, caller: Principal | None, scope: str = "All", only_attached: bool = False,
                      path_prefix: str | None = None) -> list[ManagedPolicy]:
        self.authz.check(caller, "iam:ListPolicies", arn(self._account(), "policy",
                                                         path_prefix or "/", "*"))
        if scope not in ("All", "AWS", "Local"):
            raise ValidationError(f"1 validation error detected: Value '{scope}' at 'scope' failed "
                                  f"to satisfy constraint: Member must satisfy enum value set: "
                                  f"[All, AWS, Local]")
        prefix = path_prefix or "/"
        found: list[ManagedPolicy] = []
        if scope in ("All", "AWS") and "/".startswith(prefix):
            counts = self.store.attachment_counts()
            found += [_aws_policy(p, counts.get(a, 0)) for a, p in sorted(AWS_MANAGED.items())]
        if scope in ("All", "Local"):
            found += self.store.policies(prefix)
        if only_attached:
            found = [p for p in found if p.attachment_count]
        return found

    def delete_policy(self, caller: Principal | None, policy_arn: str) -> None:
        self.authz.check(caller, "iam:DeletePolicy", policy_arn)
        policy = self._customer_policy(policy_arn, "DeletePolicy")
        if policy.attachment_count:
            raise DeleteConflict("Cannot delete a policy attached to entities.")
        if len(self.store.versions(policy.id)) > 1:
            raise DeleteConflict("This policy has more than one version. Before you delete a "
                                 "policy, you must delete the policy's versions. The default "
                                 "version is deleted with the policy.")
        self.store.delete_policy(policy.id)

    # --- versions ---------------------------------------------------------------------------------
    def _versions(self, policy: ManagedPolicy) -> list[PolicyVersion]:
        if policy.aws_managed:
            builtin = AWS_MANAGED[policy.arn]
            return [PolicyVersion(builtin.version, builtin.text, True, builtin.updated_at)]
        return self.store.versions(policy.id)

    def get_policy_version(self, caller: Principal | None, policy_arn: str,
                           version_id: str) -> PolicyVersion:
        self.authz.check(caller, "iam:GetPolicyVersion", policy_arn)
        for version in self._versions(self.policy(policy_arn)):
            if version.version_id == version_id:
                return version
        raise NoSuchEntity(f"Policy {policy_arn} version {version_id} does not exist or is not "
                           f"attachable.")

    def list_policy_versions(self, caller: Principal | None,
                             policy_arn: str) -> list[PolicyVersion]:
        self.authz.check(caller, "iam:ListPolicyVersions", policy_arn)
        return self._versions(self.policy(policy_arn))

    def create_policy_version(self, caller: Principal | None, policy_arn: str, document: str,
                              set_as_default: bool = False) -> PolicyVersion:
        self.authz.check(caller, "iam:CreatePolicyVersion", policy_arn)
        policy = self._customer_policy(policy_arn, "CreatePolicyVersion")
        check_managed_policy(document)
        now = self.clock.now()
        version = self.store.add_version(policy.id, document, set_as_default, now,
                                         VERSIONS_PER_POLICY)
        if version is None:
            raise IamLimitExceeded(f"A managed policy can have up to {VERSIONS_PER_POLICY} "
                                   f"versions. Before you create a new version, you must delete "
                                   f"an existing version.")
        return PolicyVersion(version, document, set_as_default, now)

    def delete_policy_version(self, caller: Principal | None, policy_arn: str,
                              version_id: str) -> None:
        self.authz.check(caller, "iam:DeletePolicyVersion", policy_arn)
        policy = self._customer_policy(policy_arn, "DeletePolicyVersion")
        if version_id == policy.default_version:
            raise DeleteConflict("Cannot delete the default version of a policy.")
        if not self.store.delete_version(policy.id, version_id):
            raise NoSuchEntity(f"Policy {policy_arn} version {version_id} does not exist.")

    def set_default_policy_version(self, caller: Principal | None, policy_arn: str,
                                   version_id: str) -> None:
        self.authz.check(caller, "iam:SetDefaultPolicyVersion", policy_arn)
        policy = self._customer_policy(policy_arn, "SetDefaultPolicyVersion")
        if version_id not in {v.version_id for v in self.store.versions(policy.id)}:
            raise NoSuchEntity(f"Policy {policy_arn} version {version_id} does not exist.")
        self.store.set_default_version(policy.id, version_id, self.clock.now())

    # --- attachments ------------------------------------------------------------------------------
    def attach(self, caller: Principal | None, kind: str, name: str, policy_arn: str) -> None:
        entity_id, entity_arn = self.directory.entity(kind, name)
        self.authz.check(caller, f"iam:Attach{_KINDS[kind]}Policy", entity_arn)
        self.policy(policy_arn)
        if not self.store.attach(kind, entity_id, policy_arn, self.clock.now(),
                                 MANAGED_POLICIES_PER_ENTITY):
            raise IamLimitExceeded(f"Cannot exceed quota for PoliciesPer{_KINDS[kind]}: "
                                   f"{MANAGED_POLICIES_PER_ENTITY}")

    def detach(self, caller: Principal | None, kind: str, name: str, policy_arn: str) -> None:
        entity_id, entity_arn = self.directory.entity(kind, name)
        self.authz.check(caller, f"iam:Detach{_KINDS[kind]}Policy", entity_arn)
        if not self.store.detach(kind, entity_id, policy_arn):
            raise NoSuchEntity(f"Policy {policy_arn} was not found.")

    def list_attached(self, caller: Principal | None, kind: str, name: str,
                      path_prefix: str | None = None) -> list[ManagedPolicy]:
        entity_id, entity_arn = self.directory.entity(kind, name)
        self.authz.check(caller, f"iam:ListAttached{_KINDS[kind]}Policies", entity_arn)
        found = []
        for policy_arn in self.store.attached(kind, entity_id):
            try:
                policy = self.policy(policy_arn)
            except NoSuchEntity:
                continue
            if policy.path.startswith(path_prefix or "/"):
                found.append(policy)
        return found

    def entities_for_policy(self, caller: Principal | None,
                            policy_arn: str) -> list[tuple[str, str, str]]:
        self.authz.check(caller, "iam:ListEntitiesForPolicy", policy_arn)
        self.policy(policy_arn)
        return self.store.entities_for_policy(policy_arn)

    # --- inline policies --------------------------------------------------------------------------
    def put_inline(self, caller: Principal | None, kind: str, name: str, policy_name: str,
                   document: str) -> None:
        entity_id, entity_arn = self.directory.entity(kind, name)
        self.authz.check(caller, f"iam:Put{_KINDS[kind]}Policy", entity_arn)
        check_name("policy", policy_name, "policyName")
        check_identity_policy(document)
        limit = INLINE_POLICY_SIZES[kind]
        if not self.store.put_inline(kind, entity_id, policy_name, document, self.clock.now(),
                                     limit):
            raise IamLimitExceeded(f"Maximum policy size of {limit} bytes exceeded for "
                                   f"{kind} {name}")

    def get_inline(self, caller: Principal | None, kind: str, name: str, policy_name: str) -> str:
        entity_id, entity_arn = self.directory.entity(kind, name)
        self.authz.check(caller, f"iam:Get{_KINDS[kind]}Policy", entity_arn)
        document = self.store.inline(kind, entity_id, policy_name)
        if document is None:
            raise NoSuchEntity(f"The {kind} policy with name {policy_name} cannot be found.")
        return document

    def list_inline(self, caller: Principal | None, kind: str, name: str) -> list[str]:
        entity_id, entity_arn = self.directory.entity(kind, name)
        self.authz.check(caller, f"iam:List{_KINDS[kind]}Policies", entity_arn)
        return self.store.inline_names(kind, entity_id)

    def delete_inline(self, caller: Principal | None, kind: str, name: str,
                      policy_name: str) -> None:
        entity_id, entity_arn = self.directory.entity(kind, name)
        self.authz.check(caller, f"iam:Delete{_KINDS[kind]}Policy", entity_arn)
        if not self.store.delete_inline(kind, entity_id, policy_name):
            raise NoSuchEntity(f"The {kind} policy with name {policy_name} cannot be found.")

    # --- convenience for administrators (CLI) ----------------------------------------------------
    def managed_policy_arn(self, name_or_arn: str) -> str:
        """An ARN for ``AmazonEC2ContainerRegistryReadOnly`` or a customer policy's name."""
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        for candidate in (f"{AWS_POLICY_PREFIX}/{name_or_arn}",):
            if candidate in AWS_MANAGED:
                return candidate
        for policy in self.store.policies():
            if policy.name == name_or_arn:
                return policy.arn
        raise _not_found(name_or_arn)
