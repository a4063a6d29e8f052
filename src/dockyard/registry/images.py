"""Images: manifests by tag or digest, tags, referrers, and their deletion."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.domain.digest import Digest
from dockyard.domain.events import ImageDeleted, ImagePushed
from dockyard.domain.immutability import tag_is_immutable
from dockyard.domain.manifest import OCI_INDEX, effective_artifact_type, parse_manifest
from dockyard.domain.models import ManifestHead, NewManifest, Principal, Repository
from dockyard.domain.names import validate_tag
from dockyard.errors import (
    DigestInvalid,
    ImageAlreadyExists,
    ImageDigestMismatch,
    ImageReferencedByManifestList,
    ImageTagAlreadyExists,
    ManifestUnknown,
)
from dockyard.metadata.registry_store import SqlRegistryStore
from dockyard.ports import Clock, EventPublisher
from dockyard.registry.image_ids import ImageFailure, ImageId, parse_image_id
from dockyard.registry.pulls import PullRecorder
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
    tag_moved: bool
    media_type: str


class ImageService:
    def __init__(self, store: SqlRegistryStore, repos: RepositoryService, clock: Clock,
                 pulls: PullRecorder, events: EventPublisher) -> None:
        self.store = store
        self.events = events
        self.pulls = pulls
        self.repos = repos
        self.clock = clock

    def manifest(self, caller: Principal | None, name: str, reference: Reference, *,
                 with_body: bool) -> ManifestHead:
        self.repos.authorize(caller, name, PULL)
        repository_id, found = self.store.lookup_manifest(
            name, tag=reference.tag, digest=str(reference.digest) if reference.digest else None,
            with_body=with_body)
        if repository_id is None:
            raise self.repos.not_found(name)
        if found is None:
            raise ManifestUnknown(
                f"the image with reference '{reference.tag or reference.digest}' "
                f"does not exist within the repository with name '{name}'")
        if with_body:
            self.pulls.pulled(repository_id, [found.digest])
        return found

    def put(self, caller: Principal | None, name: str, reference: Reference, body: bytes,
            content_type: str | None) -> PutResult:
        """Push a manifest (OCI ``PUT /v2/<name>/manifests/<reference>``)."""
        repo = self.repos.find(caller, name, PUSH)
        return self._store(repo, body, content_type, reference.tag, reference.digest)

    def put_image(self, caller: Principal | None, name: str, body: bytes, *,
                  media_type: str | None, tag: str | None, digest: str | None) -> PutResult:
        """ECR ``PutImage``: as a push, but an unchanged manifest and tag is ImageAlreadyExists."""
        repo = self.repos.find(caller, name, PUSH)
        if tag is not None:
            validate_tag(tag)
        result = self._store(repo, body, media_type, tag, Digest.parse(digest) if digest else None)
        if not result.created and not result.tag_moved:
            tagged = f" and tag '{tag}'" if tag else ""
            raise ImageAlreadyExists(
                f"Image with digest '{result.digest}'{tagged} already exists in the repository "
                f"with name '{name}' in registry with id '{self.repos.address.registry_id}'")
        return result

    def _store(self, repo: Repository, body: bytes, content_type: str | None, tag: str | None,
               expected: Digest | None) -> PutResult:
        parsed = parse_manifest(body, content_type)
        digest = Digest.of(body, expected.algorithm if expected else "sha256")
        if expected is not None and digest != expected:
            raise ImageDigestMismatch(
                f"The image digest {expected} does not match the computed digest {digest}",
                {"digest": str(expected)})
        manifest = NewManifest(
            digest=str(digest), media_type=parsed.media_type,
            artifact_type=effective_artifact_type(parsed),
            config_media_type=parsed.config_media_type,
            subject_digest=str(parsed.subject) if parsed.subject else None, body=body,
            image_size=parsed.layers_size(),
            annotations=parsed.annotations,
            blob_digests=tuple(str(d.digest) for d in parsed.blobs),
            manifest_digests=tuple(str(d.digest) for d in parsed.manifests))
        try:
            created, moved = self.store.put_manifest(
                repo.id, manifest, tag=tag, tag_immutable=self._immutable(repo, tag),
                now=self.clock.now())
        except ImageTagAlreadyExists:
            raise ImageTagAlreadyExists(
                f"The image tag '{tag}' already exists in the '{repo.name}' repository and "
                f"cannot be overwritten because the repository is immutable.", {"tag": tag}) from None
        if created or moved:
            self.events.publish(ImagePushed(repo.name, repo.id, manifest.digest, parsed.media_type,
                                            tag, created, self.clock.now()))
        return PutResult(manifest.digest, manifest.subject_digest, created, moved, parsed.media_type)

    def batch_delete(self, caller: Principal | None, name: str, image_ids: Sequence[Any],
                     ) -> tuple[list[ImageId], list[ImageFailure]]:
        """ECR ``BatchDeleteImage``: by tag untags (and deletes an image left without tags); by
        digest deletes the image with all its tags. Per-id problems are failures, not errors."""
        repo = self.repos.find(caller, name, DELETE)
        deleted: list[ImageId] = []
        failures: list[ImageFailure] = []
        for raw in image_ids:
            image_id = parse_image_id(raw)
            if isinstance(image_id, ImageFailure):
                failures.append(image_id)
                continue
            try:
                deleted += self._delete_one(repo, image_id)
            except ImageReferencedByManifestList as exc:
                failures.append(ImageFailure(image_id.shape(), "ImageReferencedByManifestList",
                                             exc.message))
            except ManifestUnknown:
                failures.append(ImageFailure(image_id.shape(), "ImageNotFound",
                                             "Requested image not found"))
        return deleted, failures

    def _delete_one(self, repo: Repository, image_id: ImageId) -> list[ImageId]:
        if image_id.digest is None:
            assert image_id.tag is not None
            digest, image_deleted = self.store.untag(repo.id, image_id.tag)
            if digest is None:
                raise ManifestUnknown("tag not found")
            if image_deleted:
                self.events.publish(ImageDeleted(repo.name, repo.id, digest, self.clock.now()))
            return [ImageId(digest, image_id.tag)]
        tags = self.store.tags_of(repo.id, image_id.digest)
        if image_id.tag and image_id.tag not in tags:
            raise ManifestUnknown("tag does not point to the digest")
        if not self.store.delete_manifest(repo.id, image_id.digest):
            raise ManifestUnknown("digest not found")
        self.events.publish(ImageDeleted(repo.name, repo.id, image_id.digest, self.clock.now()))
        return [ImageId(image_id.digest, t) for t in tags] or [ImageId(image_id.digest)]

    @staticmethod
    def _immutable(repo: Repository, tag: str | None) -> bool:
        return tag is not None and tag_is_immutable(repo.tag_mutability, repo.mutability_exclusions, tag)

    def delete(self, caller: Principal | None, name: str, reference: Reference) -> None:
        repo = self.repos.find(caller, name, DELETE)
        if reference.digest is not None:
            if not self.store.delete_manifest(repo.id, str(reference.digest)):
                raise ManifestUnknown(f"the image with digest {reference.digest} does not exist "
                                      f"within the repository with name '{name}'")
            self.events.publish(ImageDeleted(repo.name, repo.id, str(reference.digest),
                                             self.clock.now()))
            return
        assert reference.tag is not None
        if not self.store.delete_tag(repo.id, reference.tag):
            raise ManifestUnknown(f"the image tag '{reference.tag}' does not exist within the "
                                  f"repository with name '{name}'")

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
