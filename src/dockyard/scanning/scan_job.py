"""The scan jobs, run by the job runner (in a thread, on any node or ``dockyard worker``).

``scan.image`` inventories an image (reusing the stored inventory of a manifest digest already
seen, in any repository), matches it and stores the findings. An image index is scanned as the
union of its platform images (attestation manifests left out). A failure is retried with the
runner's back-off; after ``MAX_ATTEMPTS`` attempts (a crash mid-scan counts as one: its lease runs
out and the job is claimed again) the scan is FAILED, never left IN_PROGRESS.

``scan.rematch`` re-matches the stored inventories of the images in CONTINUOUS_SCAN repositories
after the advisory database changed, without reading a layer.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from dockyard.domain.digest import Digest
from dockyard.domain.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
)
from dockyard.metadata.image_store import SqlImageStore
from dockyard.metadata.scan_store import SqlScanStore
from dockyard.ports import BlobStore, Clock
from dockyard.scanning import inventory as inventories
from dockyard.scanning import matching
from dockyard.scanning.inventory import Inventory
from dockyard.scanning.layers import LayerError
from dockyard.scanning.packages import OS_TYPES
from dockyard.workers.runner import MAX_ATTEMPTS

log = logging.getLogger("dockyard.scanning")
SCAN_KIND = "scan.image"
REMATCH_KIND = "scan.rematch"

IN_PROGRESS, COMPLETE, FAILED, ACTIVE = "IN_PROGRESS", "COMPLETE", "FAILED", "ACTIVE"
UNSUPPORTED_IMAGE = "UNSUPPORTED_IMAGE"
DONE_STATUSES = (COMPLETE, ACTIVE, UNSUPPORTED_IMAGE)
COMPLETE_TEXT = "The scan was completed successfully."
ACTIVE_TEXT = "Continuous scan is selected for image."
UNSUPPORTED_TEXT = "UnsupportedImageError: The operating system and/or package manager are not supported."
NO_OS_TEXT = (" The operating system was not recognised (UNSUPPORTED_IMAGE for OS packages); "
              "language packages were scanned.")
IMAGE_CONFIGS = frozenset({"application/vnd.oci.image.config.v1+json",
                           "application/vnd.docker.container.image.v1+json"})
ATTESTATION = "attestation-manifest"
MAX_CONFIG = 4 * 1024 * 1024


class Unsupported(Exception):
    """Not an image Dockyard can scan (an artifact, or no layers)."""


class PermanentFailure(Exception):
    """A scan that retrying cannot fix (a layer that is not a tar stream, a missing blob)."""


@dataclass(frozen=True, slots=True)
class PlatformInventory:
    digest: str
    platform: str | None
    inventory: Inventory


def _is_layer(media_type: str) -> bool:
    return ("tar" in media_type and "foreign" not in media_type
            and "nondistributable" not in media_type) or media_type.endswith(".rootfs.diff.tar.gzip")


class ImageScanner:
    def __init__(self, store: SqlScanStore, images: SqlImageStore, blobs: BlobStore,
                 clock: Clock, continuous: Callable[[str], bool]) -> None:
        self.store = store
        self.images = images
        self.blobs = blobs
        self.clock = clock
        self.continuous = continuous  # repository name -> is it CONTINUOUS_SCAN now?

    # --- inventories ----------------------------------------------------------------------------
    def inventories(self, repository_id: int, digest: str, *, build: bool = True,
                    ) -> list[PlatformInventory]:
        """The inventory of an image, or of each platform image of an index."""
        bodies = self.images.manifest_bodies(repository_id, [digest])
        if digest not in bodies:
            raise LookupError(f"manifest {digest} is not in the repository")
        media_type, body = bodies[digest]
        return list(self._walk(repository_id, digest, media_type, body, None, build, depth=0))

    def _walk(self, repository_id: int, digest: str, media_type: str, body: bytes,
              platform: str | None, build: bool, depth: int) -> Iterator[PlatformInventory]:
        doc = json.loads(body)
        media_type = doc.get("mediaType") or media_type
        if media_type in (OCI_INDEX, DOCKER_LIST) or "manifests" in doc:
            if depth > 1:
                return
            children = [d for d in doc.get("manifests") or () if isinstance(d, dict)
                        and isinstance(d.get("digest"), str) and not _attestation(d)]
            bodies = self.images.manifest_bodies(repository_id, [d["digest"] for d in children])
            found = False
            for child in children:
                if child["digest"] not in bodies:
                    continue
                child_type, child_body = bodies[child["digest"]]
                try:
                    for item in self._walk(repository_id, child["digest"], child_type, child_body,
                                           _platform(child.get("platform")), build, depth + 1):
                        found = True
                        yield item
                except Unsupported:
                    continue
            if not found:
                raise Unsupported("the image index holds no scannable image")
            return
        if media_type not in (OCI_MANIFEST, DOCKER_MANIFEST) and "layers" not in doc:
            raise Unsupported(f"media type {media_type} is not an image")
        config = doc.get("config") or {}
        if config.get("mediaType") not in IMAGE_CONFIGS or doc.get("artifactType"):
            raise Unsupported("an artifact, not a container image")
        layers = [d for d in doc.get("layers") or () if isinstance(d, dict)
                  and isinstance(d.get("mediaType"), str) and _is_layer(d["mediaType"])]
        if not layers:
            raise Unsupported("an image without filesystem layers")
        stored = self.store.inventory(digest)
        if stored is not None and stored.get("format") == inventories.FORMAT:
            yield PlatformInventory(digest, platform or stored.get("platform"),
                                    Inventory.from_dict(stored))
            return
        if not build:
            raise LookupError(f"no stored inventory for {digest}")
        platform = platform or self._config_platform(config)
        inventory = self._build(layers, platform)
        self.store.put_inventory(digest, inventory.as_dict(), inventories.FORMAT, self.clock.now())
        yield PlatformInventory(digest, platform, inventory)

    def _config_platform(self, config: dict[str, Any]) -> str | None:
        try:
            data = b"".join(self.blobs.read(Digest.parse(config["digest"]), 0, MAX_CONFIG))
            doc = json.loads(data)
        except (KeyError, OSError, ValueError, TypeError):
            return None
        return _platform(doc) if isinstance(doc, dict) else None

    def _build(self, layers: list[dict[str, Any]], platform: str | None) -> Inventory:
        def streams() -> Iterator[tuple[str, Iterator[bytes]]]:
            for layer in layers:
                digest = Digest.parse(layer["digest"])
                if self.blobs.size(digest) is None:
                    raise PermanentFailure(f"layer {digest} is missing from the blob store")
                yield str(digest), self.blobs.read(digest)
        try:
            return inventories.build(streams(), platform)
        except LayerError as exc:
            raise PermanentFailure(str(exc)) from None

    # --- matching -------------------------------------------------------------------------------
    def findings(self, found: list[PlatformInventory]) -> tuple[list[dict[str, Any]], bool, bool]:
        """(findings, some OS recognised, any package found)."""
        per_platform = [(item.platform, matching.match(item.inventory, self.store.affected))
                        for item in found]
        has_os = any(item.inventory.os_ecosystems for item in found)
        has_packages = any(p for item in found for p in item.inventory.packages
                           if p.type not in OS_TYPES or item.inventory.os_ecosystems)
        if len(per_platform) == 1:
            platform, findings = per_platform[0]
            if platform:
                findings = [{**f, "platforms": [platform]} for f in findings]
            return findings, has_os, has_packages
        return matching.union(per_platform), has_os, has_packages

    # --- the jobs -------------------------------------------------------------------------------
    def run(self, payload: dict[str, Any]) -> None:
        """Job ``scan.image``: {repository_id, repository, digest, scan_id}."""
        repository_id, digest, scan_id = payload["repository_id"], payload["digest"], payload["scan_id"]
        attempts = self.store.start_attempt(repository_id, digest, scan_id)
        if attempts is None:
            return  # deleted, or replaced by a newer scan request
        if attempts > MAX_ATTEMPTS:  # earlier attempts died with their process (lease expired)
            self._fail(repository_id, digest, scan_id,
                       f"the scan was interrupted {attempts - 1} times (the scanning process "
                       f"stopped); giving up")
            return
        try:
            self._complete(repository_id, payload.get("repository", ""), digest, scan_id,
                           build=True)
        except PermanentFailure as exc:
            self._fail(repository_id, digest, scan_id, str(exc))
        except Exception as exc:
            if attempts >= MAX_ATTEMPTS:
                self._fail(repository_id, digest, scan_id, f"{type(exc).__name__}: {exc}")
                return
            raise

    def _complete(self, repository_id: int, repository: str, digest: str, scan_id: str, *,
                  build: bool) -> None:
        source_updated = self.store.source_updated_at()
        try:
            found = self.inventories(repository_id, digest, build=build)
        except Unsupported as exc:
            self.store.finish_scan(repository_id, digest, scan_id, status=UNSUPPORTED_IMAGE,
                                   description=f"{UNSUPPORTED_TEXT} ({exc})", findings=[],
                                   severity_counts={}, completed_at=self.clock.now(),
                                   source_updated_at=source_updated)
            return
        except LookupError:
            if build:
                raise PermanentFailure(f"manifest {digest} is no longer in the repository") from None
            raise
        findings, has_os, has_packages = self.findings(found)
        if not has_os and not has_packages:
            status, text = UNSUPPORTED_IMAGE, UNSUPPORTED_TEXT
        elif self.continuous(repository):
            status, text = ACTIVE, ACTIVE_TEXT
        else:
            status, text = COMPLETE, COMPLETE_TEXT
        if status != UNSUPPORTED_IMAGE and not has_os:
            text += NO_OS_TEXT
        notes = sorted({n for item in found for n in item.inventory.notes})
        if notes:
            text += " Not scanned: " + "; ".join(notes[:5])
        self.store.finish_scan(repository_id, digest, scan_id, status=status, description=text,
                               findings=findings, severity_counts=matching.severity_counts(findings),
                               completed_at=self.clock.now(), source_updated_at=source_updated)

    def _fail(self, repository_id: int, digest: str, scan_id: str, reason: str) -> None:
        log.warning("scan of %s failed: %s", digest, reason)
        self.store.finish_scan(repository_id, digest, scan_id, status=FAILED,
                               description=f"The scan failed: {reason}"[:1024])

    def rematch(self, payload: dict[str, Any]) -> int:
        """Job ``scan.rematch``: re-match stored inventories of continuously scanned images."""
        count = 0
        for name, scan in self.store.all_scans():
            if scan.status not in DONE_STATUSES or not self.continuous(name):
                continue
            try:
                self._complete(scan.repository_id, name, scan.digest, scan.scan_id, build=False)
                count += 1
            except LookupError:
                continue  # no stored inventory (a scan from an older format): next push scans it
        return count


def _attestation(descriptor: dict[str, Any]) -> bool:
    annotations = descriptor.get("annotations") or {}
    platform = descriptor.get("platform") or {}
    return (annotations.get("vnd.docker.reference.type") == ATTESTATION
            or (platform.get("os") == "unknown" and platform.get("architecture") == "unknown"))


def _platform(doc: Any) -> str | None:
    if not isinstance(doc, dict) or not doc.get("os") or not doc.get("architecture"):
        return None
    text = f"{doc['os']}/{doc['architecture']}"
    return f"{text}/{doc['variant']}" if doc.get("variant") else text
