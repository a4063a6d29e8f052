"""Images: manifests by tag or digest, tags, referrers, and their deletion."""

from __future__ import annotations

import json
from dataclasses import dataclass

from dockyard.domain.digest import Digest
from dockyard.domain.immutability import tag_is_immutable
from dockyard.domain.manifest import OCI_INDEX, effective_artifact_type, parse_manifest
from dockyard.domain.models import ManifestHead, NewManifest, Principal, Repository
from dockyard.domain.names import validate_tag
from dockyard.errors import (
    DigestInvalid,
    ImageDigestMismatch,
    ImageTagAlreadyExists,
    ManifestUnknown,
)
from dockyard.metadata.registry_store import SqlRegistryStore
from dockyard.ports import Clock
from dockyard.registry.repositories import RepositoryService

PULL, PUSH, DELETE, LIST = "ecr:BatchGetImage", "ecr:PutImage", "ecr:BatchDeleteImage", "ecr:ListImages"


@dataclass(frozen=True, slots=True)
class Reference:
    """A manifest reference from a URL: a tag or a digest."""

    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str) -> "Reference":
        if ":" in text:
            return cls(digest=Digest.parse(text))
        return cls(tag=validate_tag(text))


@dataclass(frozen=True, slots=True)
class PutResult:
    digest: str
    subject: str | None
    created: bool


class ImageService:
    def __init__(self, store: SqlRegistryStore, repos: RepositoryService, clock: Clock) -> None:
        self.store = store
        self.repos = repos
        self.clock = clock

    def manifest(self, caller: Principal | None, name: str, reference: Reference, *,
                 with_body: bool) -> ManifestHead:
        self.repos.authorize(caller, name, PULL)
        exists, found = self.store.lookup_manifest(
            name, tag=reference.tag, digest=str(reference.digest) if reference.digest else None,
            with_body=with_body)
        if not exists:
            raise self.repos.not_found(name)
        if found is None:
            raise ManifestUnknown(
                f"manifest unknown: the image with reference '{reference.tag or reference.digest}' "
                f"does not exist within the repository with name '{name}'")
        return found

    def put(self, caller: Principal | None, name: str, reference: Reference, body: bytes,
            content_type: str | None) -> PutResult:
        repo = self.repos.find(caller, name, PUSH)
        parsed = parse_manifest(body, content_type)
        algorithm = reference.digest.algorithm if reference.digest else "sha256"
        digest = Digest.of(body, algorithm)
        if reference.digest is not None and digest != reference.digest:
            raise ImageDigestMismatch(
                f"The image digest {reference.digest} does not match the computed digest {digest}",
                {"digest": str(reference.digest)})
        manifest = NewManifest(
            digest=str(digest), media_type=parsed.media_type,
            artifact_type=effective_artifact_type(parsed),
            config_media_type=parsed.config_media_type,
            subject_digest=str(parsed.subject) if parsed.subject else None, body=body,
            image_size=sum(d.size for d in parsed.blobs[1:]) if parsed.blobs else 0,
            annotations=parsed.annotations,
            blob_digests=tuple(str(d.digest) for d in parsed.blobs),
            manifest_digests=tuple(str(d.digest) for d in parsed.manifests))
        try:
            created = self.store.put_manifest(
                repo.id, manifest, tag=reference.tag,
                tag_immutable=self._immutable(repo, reference.tag), now=self.clock.now())
        except ImageTagAlreadyExists:
            raise ImageTagAlreadyExists(
                f"The image tag '{reference.tag}' already exists in the '{name}' repository and "
                f"cannot be overwritten because the repository is immutable.",
                {"tag": reference.tag}) from None
        return PutResult(manifest.digest, manifest.subject_digest, created)

    @staticmethod
    def _immutable(repo: Repository, tag: str | None) -> bool:
        return tag is not None and tag_is_immutable(repo.tag_mutability, repo.mutability_exclusions, tag)

    def delete(self, caller: Principal | None, name: str, reference: Reference) -> None:
        repo = self.repos.find(caller, name, DELETE)
        if reference.digest is not None:
            if not self.store.delete_manifest(repo.id, str(reference.digest)):
                raise ManifestUnknown(f"manifest unknown: {reference.digest}")
            return
        assert reference.tag is not None
        if self._immutable(repo, reference.tag):
            raise ImageTagAlreadyExists(
                f"The image tag '{reference.tag}' cannot be deleted because the repository "
                f"'{name}' is immutable.", {"tag": reference.tag})
        if not self.store.delete_tag(repo.id, reference.tag):
            raise ManifestUnknown(f"manifest unknown: tag '{reference.tag}'")

    def tags(self, caller: Principal | None, name: str, *, last: str | None,
             n: int | None) -> list[str]:
        repo = self.repos.find(caller, name, LIST)
        return self.store.list_tags(repo.id, after=last, limit=n)

    def referrers(self, caller: Principal | None, name: str, subject: Digest,
                  artifact_type: str | None) -> bytes:
        """The referrers of ``subject`` as an OCI image index (filtered by artifactType if given)."""
        repo = self.repos.find(caller, name, PULL)
        rows = self.store.referrers(repo.id, str(subject))
        manifests = []
        for row in rows:
            if artifact_type is not None and row["artifact_type"] != artifact_type:
                continue
            descriptor = {"mediaType": row["media_type"], "digest": row["digest"], "size": row["size"]}
            if row["artifact_type"]:
                descriptor["artifactType"] = row["artifact_type"]
            if row["annotations"]:
                descriptor["annotations"] = row["annotations"]
            manifests.append(descriptor)
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        return json.dumps(index, separators=(",", ":")).encode()


def digest_of_reference(text: str) -> Digest:
    """A digest path parameter; a tag where a digest is required is a DIGEST_INVALID error."""
    if ":" not in text:
        raise DigestInvalid(f"invalid digest {text!r}", {"digest": text})
    return Digest.parse(text)
