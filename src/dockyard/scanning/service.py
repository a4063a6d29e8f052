"""The scanning service: scan requests (on push, StartImageScan), findings, configuration, SBOMs,
and imports of the advisory database. Scans themselves run as jobs (``scan_job``), never on the
request path: a request only records the scan as IN_PROGRESS and queues it."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from dockyard.domain.events import ImageDeleted, ImagePushed
from dockyard.domain.models import Principal, Repository
from dockyard.errors import InvalidParameter, LimitExceeded, ManifestUnknown, NotFound
from dockyard.iam.authorizer import Authorizer
from dockyard.metadata.image_store import SqlImageStore
from dockyard.metadata.scan_store import ScanRecord, SqlScanStore
from dockyard.events.bus import EventBus
from dockyard.ports import BlobStore, Clock
from dockyard.registry.account_settings import registry_resource
from dockyard.registry.image_ids import ImageFailure, ImageId, parse_image_id
from dockyard.registry.repositories import RepositoryService
from dockyard.scanning import scan_config
from dockyard.scanning.errors import ScanNotFound, UnsupportedImageType
from dockyard.scanning.inventory import Inventory
from dockyard.scanning.osv_import import ImportReport, import_osv
from dockyard.scanning.scan_config import RegistryScanning, RepositoryScanning
from dockyard.scanning.scan_job import (
    IMAGE_CONFIGS,
    IN_PROGRESS,
    REMATCH_KIND,
    SCAN_KIND,
    ImageScanner,
    PlatformInventory,
    Unsupported,
)
from dockyard.workers.queue import JobQueue
from dockyard.workers.runner import Runner

log = logging.getLogger("dockyard.scanning")
START, DESCRIBE = "ecr:StartImageScan", "ecr:DescribeImageScanFindings"
GET_CONFIG, PUT_CONFIG = "ecr:GetRegistryScanningConfiguration", "ecr:PutRegistryScanningConfiguration"
BATCH_GET_CONFIG = "ecr:BatchGetRepositoryScanningConfiguration"
MANUAL_SCANS_PER = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ResolvedImage:
    repository: Repository
    image_id: ImageId  # as asked, with the digest filled in
    media_type: str
    body: bytes


class ScanService:
    def __init__(self, store: SqlScanStore, images: SqlImageStore, blobs: BlobStore,
                 repos: RepositoryService, jobs: JobQueue, authz: Authorizer, clock: Clock) -> None:
        self.store = store
        self.images = images
        self.repos = repos
        self.jobs = jobs
        self.authz = authz
        self.clock = clock
        self.scanner = ImageScanner(store, images, blobs, clock, self.is_continuous)

    def attach(self, events: EventBus, runner: Runner) -> None:
        """Scan on push, forget deleted images, and run the scan jobs."""
        events.subscribe(ImagePushed, self.on_image_pushed)
        events.subscribe(ImageDeleted, self.on_image_deleted)
        runner.register(SCAN_KIND, self.scanner.run)
        runner.register(REMATCH_KIND, self.scanner.rematch)

    # --- configuration --------------------------------------------------------------------------
    def _registry_resource(self) -> str:
        return registry_resource(self.repos.address)

    def configuration(self) -> RegistryScanning:
        scan_type, rules = self.store.registry_configuration()
        return RegistryScanning(scan_type, tuple(rules))

    def get_registry_configuration(self, caller: Principal | None) -> RegistryScanning:
        self.authz.check(caller, GET_CONFIG, self._registry_resource())
        return self.configuration()

    def put_registry_configuration(self, caller: Principal | None, scan_type: Any,
                                   rules: Any) -> RegistryScanning:
        self.authz.check(caller, PUT_CONFIG, self._registry_resource())
        current = self.configuration()
        checked = scan_config.validate(current.scan_type if scan_type is None else scan_type, rules)
        self.store.put_registry_configuration(checked.scan_type, list(checked.rules), self.clock.now())
        return checked

    def repository_configuration(self, repo: Repository) -> RepositoryScanning:
        return scan_config.for_repository(self.configuration(), repo.name, repo.scan_on_push)

    def is_continuous(self, name: str) -> bool:
        return scan_config.for_repository(self.configuration(), name, False).continuous

    def repository_configurations(self, caller: Principal | None, names: Sequence[str],
                                  ) -> tuple[list[tuple[Repository, RepositoryScanning]], list[str]]:
        """(configurations, names of repositories not found)."""
        config = self.configuration()
        found: list[tuple[Repository, RepositoryScanning]] = []
        missing: list[str] = []
        for name in names:
            try:
                repo = self.repos.find(caller, name, BATCH_GET_CONFIG)
            except NotFound:
                missing.append(name)
                continue
            found.append((repo, scan_config.for_repository(config, repo.name, repo.scan_on_push)))
        return found, missing

    # --- scan requests --------------------------------------------------------------------------
    def resolve(self, caller: Principal | None, name: str, raw_id: Any, action: str) -> ResolvedImage:
        repo = self.repos.find(caller, name, action)
        image_id = parse_image_id(raw_id)
        if isinstance(image_id, ImageFailure):
            raise InvalidParameter(f"Invalid parameter at 'imageId': {image_id.reason}")
        digest = image_id.digest
        if image_id.tag:
            tagged = self.images.tag_digests(repo.id, [image_id.tag]).get(image_id.tag)
            if tagged is None or (digest and digest != tagged):
                raise self._image_not_found(name, image_id)
            digest = tagged
        assert digest is not None
        bodies = self.images.manifest_bodies(repo.id, [digest])
        if digest not in bodies:
            raise self._image_not_found(name, image_id)
        media_type, body = bodies[digest]
        return ResolvedImage(repo, ImageId(digest, image_id.tag), media_type, body)

    def _image_not_found(self, name: str, image_id: ImageId) -> ManifestUnknown:
        return ManifestUnknown(
            f"The image with imageId {image_id.describe()} does not exist within the repository "
            f"with name '{name}' in the registry with id '{self.repos.address.registry_id}'")

    def request(self, repo: Repository, digest: str, *, manual: bool, reason: str) -> str:
        """Record the scan as IN_PROGRESS and queue it; returns the scan id."""
        scan_id = str(uuid.uuid4())
        scan_type = self.configuration().scan_type
        self.store.request_scan(repo.id, digest, scan_id, scan_type, IN_PROGRESS, self.clock.now(),
                                manual=manual)
        self.jobs.enqueue(SCAN_KIND, {"repository_id": repo.id, "repository": repo.name,
                                      "digest": digest, "scan_id": scan_id, "reason": reason})
        return scan_id

    def start_scan(self, caller: Principal | None, name: str, raw_id: Any) -> ResolvedImage:
        """ECR ``StartImageScan``: one manual scan per image every 24 hours."""
        image = self.resolve(caller, name, raw_id, START)
        if not _scannable(image.body):
            raise UnsupportedImageType(
                f"The image with imageId {image.image_id.describe()} in the repository with name "
                f"'{name}' has a media type or artifact type that is not supported for scanning")
        previous = self.store.scan(image.repository.id, str(image.image_id.digest))
        if (previous is not None and previous.manual_at is not None
                and self.clock.now() - previous.manual_at < MANUAL_SCANS_PER):
            raise LimitExceeded("The scan quota per image has been exceeded. Wait and try again.")
        self.request(image.repository, str(image.image_id.digest), manual=True, reason="manual")
        return image

    def findings(self, caller: Principal | None, name: str, raw_id: Any,
                 ) -> tuple[ResolvedImage, ScanRecord]:
        image = self.resolve(caller, name, raw_id, DESCRIBE)
        scan = self.store.scan(image.repository.id, str(image.image_id.digest), with_findings=True)
        if scan is None:
            raise ScanNotFound(
                f"Image scan does not exist for the image with '{image.image_id.describe()}' in "
                f"the repository with name '{name}' in the registry with id "
                f"'{self.repos.address.registry_id}'")
        return image, scan

    def summaries(self, repository_name: str, digests: Sequence[str]) -> dict[str, ScanRecord]:
        """Scan status and counts per image (DescribeImages; the caller was authorised there)."""
        repo = self.repos.store.get_repository(repository_name)
        if repo is None or not digests:
            return {}
        return self.store.scans(repo.id, list(digests))

    # --- domain events --------------------------------------------------------------------------
    def on_image_pushed(self, event: ImagePushed) -> None:
        if not event.new_manifest:
            return
        repo = self.repos.store.get_repository(event.repository)
        if repo is None or not self.repository_configuration(repo).scan_on_push:
            return
        self.request(repo, event.digest, manual=False, reason="push")

    def on_image_deleted(self, event: ImageDeleted) -> None:
        self.store.delete_scan(event.repository_id, event.digest)
        self.store.forget_inventory_if_unused(event.digest)

    # --- advisory database ----------------------------------------------------------------------
    def import_vulndb(self, path: Path, progress: Any = None) -> ImportReport:
        """Import OSV advisories; continuously scanned images are re-matched by a job."""
        report = import_osv(self.store, path, self.clock, progress=progress)
        if report.changed:
            self.jobs.enqueue(REMATCH_KIND, {"reason": f"vulndb import of {report.source}"})
        return report

    # --- SBOM -----------------------------------------------------------------------------------
    def inventory(self, caller: Principal | None, name: str, reference: str, *,
                  build: bool) -> tuple[ResolvedImage, list[PlatformInventory]]:
        """The inventory of ``name:tag`` or ``name@digest``; built now when ``build`` (the CLI),
        else only if a scan stored it."""
        raw = {"imageDigest": reference} if ":" in reference else {"imageTag": reference}
        image = self.resolve(caller, name, raw, DESCRIBE)
        try:
            found = self.scanner.inventories(image.repository.id, str(image.image_id.digest),
                                             build=build)
        except Unsupported as exc:
            raise UnsupportedImageType(f"{name}@{image.image_id.digest}: {exc}") from None
        except LookupError:
            raise ScanNotFound(
                f"No SBOM yet for the image with imageId {image.image_id.describe()} in the "
                f"repository with name '{name}': scan it first (StartImageScan)") from None
        return image, found


def _scannable(body: bytes) -> bool:
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    if "manifests" in doc:
        return True
    config = doc.get("config") or {}
    return config.get("mediaType") in IMAGE_CONFIGS and not doc.get("artifactType")


def merged_inventory(found: list[PlatformInventory]) -> Inventory:
    """One inventory for an image index: the packages of every platform image."""
    if len(found) == 1:
        return found[0].inventory
    merged = Inventory(found[0].inventory.os if found else None)
    for item in found:
        merged.packages += item.inventory.packages
        merged.notes += item.inventory.notes
    merged.platform = ",".join(sorted({i.platform for i in found if i.platform}))
    return merged
