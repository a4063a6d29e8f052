"""The core services, bundled for the front doors (built by ``app.py``, the composition root)."""

from __future__ import annotations

from dataclasses import dataclass

from dockyard.iam.identity import IdentityService
from dockyard.registry.blobs import BlobService
from dockyard.registry.image_catalog import ImageCatalog
from dockyard.registry.images import ImageService
from dockyard.registry.repositories import RepositoryService
from dockyard.registry.uploads import UploadService
from dockyard.settings import Settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    identity: IdentityService
    repositories: RepositoryService
    uploads: UploadService
    images: ImageService
    catalog: ImageCatalog
    blobs: BlobService
