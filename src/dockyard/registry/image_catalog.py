"""Reading images the way ECR's API does: ListImages, DescribeImages, BatchGetImage, referrers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dockyard.domain.models import ManifestRecord, Principal
from dockyard.errors import ManifestUnknown
from dockyard.metadata.image_store import SqlImageStore
from dockyard.metadata.registry_store import SqlRegistryStore
from dockyard.registry.image_ids import ImageFailure, ImageId, parse_image_id
from dockyard.registry.pulls import PullRecorder
from dockyard.registry.repositories import RepositoryService, decode_token, encode_token

TAGGED, UNTAGGED, ANY = "TAGGED", "UNTAGGED", "ANY"


@dataclass(frozen=True, slots=True)
class FetchedImage:
    image_id: ImageId
    manifest: bytes
    media_type: str


def _keep(record: ManifestRecord, tag_status: str) -> bool:
    return tag_status == ANY or (tag_status == TAGGED) == bool(record.tags)


def _page(items: list[Any], key: Any, next_token: str | None, limit: int) -> tuple[list[Any], str | None]:
    """Keyset pagination over a sorted list: the token holds the key of the last item returned."""
    after = decode_token(next_token)
    if after is not None:
        items = [i for i in items if key(i) > after]
    page = items[:limit]
    token = encode_token(key(page[-1])) if len(items) > limit else None
    return page, token


# (repository name, image digests) -> scan record per scanned digest; a feature (scanning) provides it
ScanSummaries = Callable[[str, Sequence[str]], dict[str, Any]]


class ImageCatalog:
    def __init__(self, images: SqlImageStore, store: SqlRegistryStore, repos: RepositoryService,
                 pulls: PullRecorder, scan_summaries: ScanSummaries | None = None) -> None:
        self.images = images
        self.store = store
        self.repos = repos
        self.pulls = pulls
        self._scan_summaries = scan_summaries

    def scan_summaries(self, name: str, digests: Sequence[str]) -> dict[str, Any]:
        """Scan status and finding counts of images DescribeImages already authorised."""
        if self._scan_summaries is None or not digests:
            return {}
        return self._scan_summaries(name, digests)

    def list_images(self, caller: Principal | None, name: str, *, tag_status: str = ANY,
                    next_token: str | None = None, limit: int = 100,
                    ) -> tuple[list[ImageId], str | None]:
        repo = self.repos.find(caller, name, "ecr:ListImages")
        ids: list[ImageId] = []
        for record in self.images.images(repo.id):
            if not _keep(record, tag_status):
                continue
            if record.tags:
                ids += [ImageId(record.digest, t) for t in record.tags]
            else:
                ids.append(ImageId(record.digest))
        ids.sort(key=lambda i: (i.digest or "", i.tag or ""))
        return _page(ids, lambda i: f"{i.digest}/{i.tag or ''}", next_token, limit)

    def describe_images(self, caller: Principal | None, name: str, *,
                        image_ids: Sequence[Any] | None = None, tag_status: str = ANY,
                        next_token: str | None = None, limit: int = 100,
                        ) -> tuple[list[ManifestRecord], str | None]:
        repo = self.repos.find(caller, name, "ecr:DescribeImages")
        records = self.images.images(repo.id)
        if image_ids is None:
            kept = sorted((r for r in records if _keep(r, tag_status)), key=lambda r: r.digest)
            return _page(kept, lambda r: r.digest, next_token, limit)
        by_digest = {r.digest: r for r in records}
        by_tag = {t: r for r in records for t in r.tags}
        found: dict[str, ManifestRecord] = {}
        for raw in image_ids:
            image_id = parse_image_id(raw)
            record = None
            if isinstance(image_id, ImageId):
                record = by_digest.get(image_id.digest) if image_id.digest else by_tag.get(image_id.tag)
                if record is not None and image_id.tag and image_id.tag not in record.tags:
                    record = None
            if record is None:
                shown = image_id.describe() if isinstance(image_id, ImageId) else str(raw)
                raise ManifestUnknown(
                    f"The image with imageId {shown} does not exist within the repository with name "
                    f"'{name}' in the registry with id '{self.repos.address.registry_id}'")
            found[record.digest] = record
        return list(found.values()), None

    def batch_get_image(self, caller: Principal | None, name: str, image_ids: Sequence[Any],
                        accepted_media_types: Sequence[str] | None = None,
                        ) -> tuple[list[FetchedImage], list[ImageFailure]]:
        repo = self.repos.find(caller, name, "ecr:BatchGetImage")
        failures: list[ImageFailure] = []
        wanted: list[ImageId] = []
        for raw in image_ids:
            parsed = parse_image_id(raw)
            (failures if isinstance(parsed, ImageFailure) else wanted).append(parsed)  # type: ignore[arg-type]
        tag_map = self.images.tag_digests(repo.id, [i.tag for i in wanted if i.tag])
        resolved: list[tuple[ImageId, str]] = []
        for image_id in wanted:
            digest = image_id.digest
            if image_id.tag:
                tagged = tag_map.get(image_id.tag)
                if tagged is None:
                    failures.append(ImageFailure(image_id.shape(), "ImageNotFound", "Requested image not found"))
                    continue
                if digest and digest != tagged:
                    failures.append(ImageFailure(image_id.shape(), "ImageTagDoesNotMatchDigest",
                                                 "Invalid request parameters: image tag does not match digest"))
                    continue
                digest = tagged
            assert digest is not None
            resolved.append((ImageId(digest, image_id.tag), digest))
        bodies = self.images.manifest_bodies(repo.id, {d for _, d in resolved})
        images: list[FetchedImage] = []
        for image_id, digest in resolved:
            if digest not in bodies:
                failures.append(ImageFailure(image_id.shape(), "ImageNotFound", "Requested image not found"))
                continue
            media_type, body = bodies[digest]
            if accepted_media_types and media_type not in accepted_media_types:
                failures.append(ImageFailure(
                    image_id.shape(), "UnsupportedImageType",
                    f"The image manifest media type {media_type} is not among acceptedMediaTypes"))
                continue
            images.append(FetchedImage(image_id, body, media_type))
        if images:
            self.pulls.pulled(repo.id, sorted({i.image_id.digest for i in images if i.image_id.digest}))
        return images, failures

    def referrers(self, caller: Principal | None, name: str, subject: str, *,
                  artifact_types: Sequence[str] | None = None, next_token: str | None = None,
                  limit: int = 50) -> tuple[list[dict[str, Any]], str | None]:
        repo = self.repos.find(caller, name, "ecr:BatchGetImage")
        rows = [r for r in self.store.referrers(repo.id, subject)
                if not artifact_types or r["artifact_type"] in artifact_types]
        return _page(rows, lambda r: r["digest"], next_token, limit)
