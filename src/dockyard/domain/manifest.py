"""Manifest parsing: media types, the blobs and child manifests a manifest refers to, its subject.

Manifests are stored byte-for-byte; this module only reads them to learn what they reference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from dockyard.domain.digest import Digest
from dockyard.errors import DigestInvalid, ManifestInvalid, ManifestTooLarge

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"

IMAGE_MEDIA_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_MEDIA_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_MEDIA_TYPES = IMAGE_MEDIA_TYPES | INDEX_MEDIA_TYPES
MAX_MANIFEST_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    media_type: str
    blobs: tuple[Descriptor, ...]  # config + layers (image manifests)
    manifests: tuple[Descriptor, ...]  # children (indexes)
    subject: Digest | None
    artifact_type: str | None  # artifactType, else the config media type of an artifact
    config_media_type: str | None
    annotations: dict[str, str]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    def layers_size(self) -> int:
        """ECR's imageSizeInBytes of an image manifest: the sum of its layers."""
        total = sum(d.size for d in self.blobs[1:])
        if total >= 2**63:
            raise ManifestInvalid("the layers of this manifest add up to more than 2^63 bytes")
        return total


def parse_manifest(body: bytes, content_type: str | None) -> ParsedManifest:
    if len(body) > MAX_MANIFEST_BYTES:
        raise ManifestTooLarge(f"manifest is {len(body)} bytes; the limit is {MAX_MANIFEST_BYTES}")
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ManifestInvalid(f"manifest is not valid JSON: {exc}") from None
    except RecursionError:
        raise ManifestInvalid("manifest JSON is nested too deeply") from None
    if not isinstance(doc, dict):
        raise ManifestInvalid("manifest must be a JSON object")
    media_type = _media_type(doc, _base_type(content_type))
    if media_type in INDEX_MEDIA_TYPES:
        children = tuple(_descriptor(d, "manifests") for d in _list(doc, "manifests", required=True))
        blobs: tuple[Descriptor, ...] = ()
        config_type = None
    else:
        if doc.get("schemaVersion") != 2:
            raise ManifestInvalid("schemaVersion must be 2")
        config = doc.get("config")
        if not isinstance(config, dict):
            raise ManifestInvalid("image manifest requires a config descriptor")
        config_desc = _descriptor(config, "config")
        layers = tuple(_descriptor(d, "layers") for d in _list(doc, "layers", required=True))
        blobs = (config_desc, *layers)
        children = ()
        config_type = config_desc.media_type
    subject = None
    if "subject" in doc:
        if not isinstance(doc["subject"], dict):
            raise ManifestInvalid("subject must be a descriptor")
        subject = _descriptor(doc["subject"], "subject").digest
    artifact_type = doc.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise ManifestInvalid("artifactType must be a string")
    annotations = doc.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ManifestInvalid("annotations must be an object")
    return ParsedManifest(
        media_type=media_type,
        blobs=blobs,
        manifests=children,
        subject=subject,
        artifact_type=artifact_type,
        config_media_type=config_type,
        annotations={str(k): str(v) for k, v in annotations.items()},
    )


def effective_artifact_type(manifest: ParsedManifest) -> str | None:
    """The referrers API's artifactType: the field, else the config descriptor's media type."""
    return manifest.artifact_type or manifest.config_media_type


def _base_type(content_type: str | None) -> str | None:
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def _media_type(doc: dict[str, Any], declared: str | None) -> str:
    in_body = doc.get("mediaType")
    if in_body is not None and not isinstance(in_body, str):
        raise ManifestInvalid("mediaType must be a string")
    if in_body and declared and in_body != declared and declared in MANIFEST_MEDIA_TYPES:
        raise ManifestInvalid(
            f"manifest mediaType {in_body!r} does not match Content-Type {declared!r}"
        )
    media_type = in_body or (declared if declared in MANIFEST_MEDIA_TYPES else None)
    if media_type is None:
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST
    if media_type not in MANIFEST_MEDIA_TYPES:
        raise ManifestInvalid(f"unsupported manifest media type {media_type!r}")
    return media_type


def _list(doc: dict[str, Any], field: str, *, required: bool) -> list[Any]:
    value = doc.get(field)
    if value is None:
        if required:
            raise ManifestInvalid(f"manifest requires {field!r}")
        return []
    if not isinstance(value, list):
        raise ManifestInvalid(f"{field!r} must be a list")
    return value


def _descriptor(raw: Any, field: str) -> Descriptor:
    if not isinstance(raw, dict):
        raise ManifestInvalid(f"{field}: descriptor must be an object")
    media_type, digest, size = raw.get("mediaType"), raw.get("digest"), raw.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise ManifestInvalid(f"{field}: descriptor requires mediaType")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size < 2**63:
        raise ManifestInvalid(f"{field}: descriptor requires a non-negative integer size")
    if not isinstance(digest, str):
        raise ManifestInvalid(f"{field}: descriptor requires a digest")
    try:
        parsed = Digest.parse(digest)
    except DigestInvalid as exc:
        raise ManifestInvalid(f"{field}: {exc.message}") from None
    return Descriptor(media_type, parsed, size)
