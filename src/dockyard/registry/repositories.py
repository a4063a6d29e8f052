"""Repositories: create, find (with the caller's right to act on them), list, delete."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass

from dockyard.domain.events import RepositoryDeleted
from dockyard.domain.immutability import MUTABLE, validate_tag_mutability
from dockyard.domain.models import Principal, Repository
from dockyard.domain.names import validate_repository_name
from dockyard.domain.resource_tags import validate_tags
from dockyard.errors import (
    InvalidParameter,
    RepositoryAlreadyExists,
    RepositoryNotEmpty,
    RepositoryNotFound,
)
from dockyard.iam.authorizer import Authorizer
from dockyard.metadata.registry_store import SqlRegistryStore
from dockyard.ports import BlobStore, Clock, EventPublisher

ENCRYPTION_TYPES = ("AES256", "KMS", "KMS_DSSE")


@dataclass(frozen=True, slots=True)
class RegistryAddress:
    registry_id: str
    region: str
    host: str  # host[:port] as docker addresses it

    def repository_arn(self, name: str) -> str:
        return f"arn:aws:ecr:{self.region}:{self.registry_id}:repository/{name}"

    def repository_uri(self, name: str) -> str:
        return f"{self.host}/{name}"


class RepositoryService:
    def __init__(self, store: SqlRegistryStore, blobs: BlobStore, authz: Authorizer,
                 clock: Clock, address: RegistryAddress,
                 events: EventPublisher | None = None) -> None:
        self.store = store
        self.blobs = blobs
        self.authz = authz
        self.clock = clock
        self.address = address
        self.events = events

    def not_found(self, name: str) -> RepositoryNotFound:
        return RepositoryNotFound(
            f"The repository with name '{name}' does not exist in the registry with id "
            f"'{self.address.registry_id}'", {"name": name})

    def authorize(self, caller: Principal | None, name: str, action: str) -> None:
        self.authz.check(caller, action, self.address.repository_arn(name))

    def find(self, caller: Principal | None, name: str, action: str) -> Repository:
        """The repository ``name``, once the caller may do ``action`` on it."""
        self.authorize(caller, name, action)
        repo = self.store.get_repository(name)
        if repo is None:
            raise self.not_found(name)
        return repo

    def create(self, caller: Principal | None, name: str, *, tag_mutability: str = MUTABLE,
               mutability_exclusions: Sequence[dict[str, str]] | None = None,
               scan_on_push: bool = False, encryption_type: str = "AES256",
               kms_key: str | None = None, tags: Sequence[dict[str, str]] = ()) -> Repository:
        """``mutability_exclusions`` None means the request gave no exclusion filters."""
        validate_repository_name(name)
        self.authz.check(caller, "ecr:CreateRepository", self.address.repository_arn(name))
        exclusions = validate_tag_mutability(tag_mutability, mutability_exclusions)
        if encryption_type not in ENCRYPTION_TYPES:
            raise InvalidParameter(
                f"Invalid parameter at 'encryptionType' failed to satisfy constraint: "
                f"'Member must satisfy enum value set: [{', '.join(ENCRYPTION_TYPES)}]'")
        if kms_key and encryption_type == "AES256":
            raise InvalidParameter("Invalid parameter: a KMS key can only be given with KMS encryption")
        checked_tags = validate_tags(tags)
        try:
            return self.store.create_repository(Repository(
                id=0, name=name, created_at=self.clock.now(), tag_mutability=tag_mutability,
                mutability_exclusions=exclusions, scan_on_push=scan_on_push,
                encryption_type=encryption_type, kms_key=kms_key, tags=checked_tags))
        except RepositoryAlreadyExists:
            raise RepositoryAlreadyExists(
                f"The repository with name '{name}' already exists in the registry with id "
                f"'{self.address.registry_id}'", {"name": name}) from None

    def describe(self, caller: Principal | None, *, names: Sequence[str] | None = None,
                 next_token: str | None = None, max_results: int = 100, after: str | None = None,
                 deny_if_none: bool = True) -> tuple[list[Repository], str | None]:
        """Repositories the caller may describe, in name order, a page at a time."""
        if names is not None:
            for name in names:
                validate_repository_name(name)
                self.authz.check(caller, "ecr:DescribeRepositories",
                                 self.address.repository_arn(name))
            found = {r.name: r for r in self.store.list_repositories(after=None, limit=len(names) or 1,
                                                                     names=names)}
            missing = [n for n in names if n not in found]
            if missing:
                raise self.not_found(missing[0])
            return [found[n] for n in names], None
        after = decode_token(next_token) if next_token else after
        page = self.store.list_repositories(after=after, limit=max_results + 1)
        visible = [r for r in page[:max_results] if self.authz.allowed(
            caller, "ecr:DescribeRepositories", self.address.repository_arn(r.name))]
        if caller is None or (not visible and deny_if_none):
            # nothing to show: say why when the caller may not list repositories at all
            self.authz.check(caller, "ecr:DescribeRepositories", self.address.repository_arn("*"))
        token = encode_token(page[max_results - 1].name) if len(page) > max_results else None
        return visible, token

    def delete(self, caller: Principal | None, name: str, *, force: bool) -> tuple[Repository, int]:
        repo = self.find(caller, name, "ecr:DeleteRepository")
        count = self.store.repository_image_count(repo.id)
        if not self.store.delete_repository(repo.id, force=force):
            raise RepositoryNotEmpty(
                f"The repository with name '{name}' in registry with id "
                f"'{self.address.registry_id}' cannot be deleted because it still contains images")
        if self.events is not None:
            self.events.publish(RepositoryDeleted(repo.name, repo.id, self.clock.now()))
        return repo, count


def encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last}).encode()).decode()


def decode_token(token: str | None) -> str | None:
    if not token:
        return None
    try:
        return str(json.loads(base64.urlsafe_b64decode(token.encode()))["after"])
    except (ValueError, KeyError, TypeError):
        raise InvalidParameter("Invalid parameter at 'nextToken': the token is not valid") from None
