"""Settings of an existing repository: tag mutability, scan on push, and its resource tags."""

from __future__ import annotations

from dataclasses import replace

from dockyard.domain import resource_tags
from dockyard.domain.immutability import validate_tag_mutability
from dockyard.domain.models import Principal, Repository
from dockyard.domain.names import validate_repository_name
from dockyard.errors import InvalidParameter, NameInvalid
from dockyard.metadata.settings_store import SqlSettingsStore
from dockyard.registry.repositories import RepositoryService

PUT_MUTABILITY = "ecr:PutImageTagMutability"
PUT_SCANNING = "ecr:PutImageScanningConfiguration"
TAG, UNTAG, LIST_TAGS = "ecr:TagResource", "ecr:UntagResource", "ecr:ListTagsForResource"


class RepositorySettingsService:
    def __init__(self, store: SqlSettingsStore, repos: RepositoryService) -> None:
        self.store = store
        self.repos = repos

    def put_tag_mutability(self, caller: Principal | None, name: str, mode: str,
                           filters: list[dict[str, str]] | None) -> Repository:
        """Set the mode; ``filters`` None means the request gave none."""
        validate_repository_name(name)
        repo = self.repos.find(caller, name, PUT_MUTABILITY)
        checked = validate_tag_mutability(mode, filters)
        if not self.store.set_tag_mutability(repo.id, mode, checked):
            raise self.repos.not_found(name)
        return replace(repo, tag_mutability=mode, mutability_exclusions=checked)

    def put_scanning_configuration(self, caller: Principal | None, name: str,
                                   scan_on_push: bool) -> Repository:
        validate_repository_name(name)
        repo = self.repos.find(caller, name, PUT_SCANNING)
        if not self.store.set_scan_on_push(repo.id, scan_on_push):
            raise self.repos.not_found(name)
        return replace(repo, scan_on_push=scan_on_push)

    def set_public(self, caller: Principal | None, name: str, public: bool) -> Repository:
        """Make a repository public (anonymous pulls) or private again. Visibility is a
        permission grant, so it takes the right to set the repository's policy."""
        repo = self.repos.find(caller, name, "ecr:SetRepositoryPolicy")
        if not self.store.set_public(repo.id, public):
            raise self.repos.not_found(name)
        self.repos.authz.forget(name)
        return replace(repo, public=public)

    # --- resource tags (repository ARNs only, as in ECR) ----------------------------------------
    def list_tags(self, caller: Principal | None, arn: str) -> resource_tags.Tags:
        return self.repos.find(caller, self.repository_name(arn), LIST_TAGS).tags

    def tag(self, caller: Principal | None, arn: str, tags: object) -> resource_tags.Tags:
        name = self.repository_name(arn)
        repo = self.repos.find(caller, name, TAG)
        added = resource_tags.validate_tags(tags)
        result = self.store.change_repository_tags(
            repo.id, lambda current: resource_tags.merge(current, added))
        self.repos.authz.forget(name)  # tags are condition keys (aws:ResourceTag/...)
        if result is None:
            raise self.repos.not_found(name)
        return result

    def untag(self, caller: Principal | None, arn: str, keys: object) -> resource_tags.Tags:
        name = self.repository_name(arn)
        repo = self.repos.find(caller, name, UNTAG)
        removed = resource_tags.validate_keys(keys)
        result = self.store.change_repository_tags(
            repo.id, lambda current: resource_tags.remove(current, removed))
        self.repos.authz.forget(name)
        if result is None:
            raise self.repos.not_found(name)
        return result

    def repository_name(self, arn: object) -> str:
        """The repository an ARN names, when it is a repository ARN of this registry."""
        address = self.repos.address
        prefix = f"arn:aws:ecr:{address.region}:{address.registry_id}:repository/"
        if not isinstance(arn, str) or not arn.startswith(prefix) or arn == prefix:
            raise InvalidParameter(
                f"Invalid parameter at 'resourceArn' failed to satisfy constraint: "
                f"'{arn}' is not the ARN of a repository in this registry "
                f"(expected {prefix}<repository name>)")
        name = arn[len(prefix):]
        try:
            return validate_repository_name(name)
        except NameInvalid:
            raise InvalidParameter(
                f"Invalid parameter at 'resourceArn' failed to satisfy constraint: "
                f"'{name}' is not a valid repository name") from None
