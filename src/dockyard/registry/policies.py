"""Repository and registry policies: checked, stored and returned as given.

The documents are validated with IAM's grammar (``iam/policy_document.py``); the Authorizer
evaluates them (it caches them per node, so every change here tells it to forget).
"""

from __future__ import annotations

from dockyard.domain.models import Principal
from dockyard.domain.names import validate_repository_name
from dockyard.errors import InvalidParameter, RegistryPolicyNotFound, RepositoryPolicyNotFound
from dockyard.iam.authorizer import Authorizer
from dockyard.iam.policy_document import PolicyDocumentError, locks_out, parse_policy
from dockyard.metadata.settings_store import SqlSettingsStore
from dockyard.registry.account_settings import registry_resource
from dockyard.registry.repositories import RepositoryService

SET_REPOSITORY_POLICY = "ecr:SetRepositoryPolicy"
GET_REPOSITORY_POLICY = "ecr:GetRepositoryPolicy"
DELETE_REPOSITORY_POLICY = "ecr:DeleteRepositoryPolicy"
PUT_REGISTRY_POLICY = "ecr:PutRegistryPolicy"
GET_REGISTRY_POLICY = "ecr:GetRegistryPolicy"
DELETE_REGISTRY_POLICY = "ecr:DeleteRegistryPolicy"


def _invalid(kind: str, problem: str) -> InvalidParameter:
    return InvalidParameter(f"Invalid parameter at 'PolicyText' failed to satisfy constraint: "
                            f"'Invalid {kind} policy provided': {problem}", {"reason": problem})


class PolicyService:
    def __init__(self, store: SqlSettingsStore, repos: RepositoryService,
                 authz: Authorizer) -> None:
        self.store = store
        self.repos = repos
        self.authz = authz

    # --- repository policies ----------------------------------------------------------------------
    def set_repository_policy(self, caller: Principal | None, name: str, text: str, *,
                              force: bool = False) -> str:
        """Store ``text`` as the repository's policy.

        Without ``force``, a policy that would deny the caller ``ecr:SetRepositoryPolicy`` (and so
        lock the caller out of changing it again) is refused, as ECR does.
        """
        validate_repository_name(name)
        repo = self.repos.find(caller, name, SET_REPOSITORY_POLICY)
        try:
            document = parse_policy(text)
        except PolicyDocumentError as exc:
            raise _invalid("repository", str(exc)) from None
        if not force and caller is not None and locks_out(
                document, action=SET_REPOSITORY_POLICY, principal_arn=caller.role_arn or caller.arn,
                account_id=caller.account or self.repos.address.registry_id):
            raise _invalid("repository",
                           f"it would deny you {SET_REPOSITORY_POLICY} on this repository, so you "
                           f"could not change it again; give force to set it anyway")
        if not self.store.set_repository_policy(repo.id, text):
            raise self.repos.not_found(name)
        self.authz.forget(name)
        return text

    def get_repository_policy(self, caller: Principal | None, name: str) -> str:
        validate_repository_name(name)
        repo = self.repos.find(caller, name, GET_REPOSITORY_POLICY)
        exists, text = self.store.repository_policy(repo.id)
        if not exists:
            raise self.repos.not_found(name)
        if text is None:
            raise self._no_repository_policy(name)
        return text

    def delete_repository_policy(self, caller: Principal | None, name: str) -> str:
        """Remove the repository's policy; returns the text it had."""
        validate_repository_name(name)
        repo = self.repos.find(caller, name, DELETE_REPOSITORY_POLICY)
        exists, text = self.store.delete_repository_policy(repo.id)
        self.authz.forget(name)
        if not exists:
            raise self.repos.not_found(name)
        if text is None:
            raise self._no_repository_policy(name)
        return text

    def _no_repository_policy(self, name: str) -> RepositoryPolicyNotFound:
        return RepositoryPolicyNotFound(
            f"Repository policy does not exist for the repository with name '{name}' in the "
            f"registry with id '{self.repos.address.registry_id}'", {"name": name})

    # --- the registry policy ----------------------------------------------------------------------
    def _check_registry(self, caller: Principal | None, action: str) -> None:
        self.authz.check(caller, action, registry_resource(self.repos.address))

    def put_registry_policy(self, caller: Principal | None, text: str) -> str:
        self._check_registry(caller, PUT_REGISTRY_POLICY)
        try:
            parse_policy(text)
        except PolicyDocumentError as exc:
            raise _invalid("registry", str(exc)) from None
        self.store.set_registry_policy(text)
        self.authz.forget()
        return text

    def get_registry_policy(self, caller: Principal | None) -> str:
        self._check_registry(caller, GET_REGISTRY_POLICY)
        text = self.store.registry_policy()
        if text is None:
            raise self._no_registry_policy()
        return text

    def delete_registry_policy(self, caller: Principal | None) -> str:
        self._check_registry(caller, DELETE_REGISTRY_POLICY)
        text = self.store.delete_registry_policy()
        self.authz.forget()
        if text is None:
            raise self._no_registry_policy()
        return text

    def _no_registry_policy(self) -> RegistryPolicyNotFound:
        return RegistryPolicyNotFound(
            f"Registry policy does not exist in the registry with id "
            f"'{self.repos.address.registry_id}'")
