"""ECR image ids (``{imageDigest, imageTag}``) and the per-id failures of batch operations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.domain.digest import Digest
from dockyard.domain.names import validate_tag
from dockyard.errors import DockyardError


@dataclass(frozen=True, slots=True)
class ImageId:
    digest: str | None = None
    tag: str | None = None

    def shape(self) -> dict[str, str]:
        shape = {}
        if self.digest:
            shape["imageDigest"] = self.digest
        if self.tag:
            shape["imageTag"] = self.tag
        return shape

    def describe(self) -> str:
        return "{" + ", ".join(f"{k}:'{v}'" for k, v in self.shape().items()) + "}"


@dataclass(frozen=True, slots=True)
class ImageFailure:
    image_id: dict[str, Any]
    code: str
    reason: str

    def shape(self) -> dict[str, Any]:
        return {"imageId": self.image_id, "failureCode": self.code, "failureReason": self.reason}


def parse_image_id(raw: Any) -> ImageId | ImageFailure:
    """Validate one requested image id; a bad one becomes a failure entry, as ECR reports it."""
    if not isinstance(raw, dict):
        return ImageFailure({}, "MissingDigestAndTag", "Invalid request parameters: image ID required")
    digest, tag = raw.get("imageDigest"), raw.get("imageTag")
    if not digest and not tag:
        return ImageFailure(raw, "MissingDigestAndTag",
                            "Invalid request parameters: image digest or image tag required")
    if digest:
        try:
            Digest.parse(digest)
        except DockyardError:
            return ImageFailure(raw, "InvalidImageDigest", "Invalid image digest")
    if tag:
        try:
            validate_tag(tag)
        except DockyardError:
            return ImageFailure(raw, "InvalidImageTag", "Invalid image tag")
    return ImageId(digest or None, tag or None)
