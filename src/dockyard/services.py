"""The core services, bundled for the front doors (built by ``app.py``, the composition root)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockyard.events.bus import EventBus
from dockyard.iam.identity import IdentityService
from dockyard.registry.account_settings import AccountSettingsService
from dockyard.registry.blobs import BlobService
from dockyard.registry.image_catalog import ImageCatalog
from dockyard.registry.images import ImageService
from dockyard.registry.policies import PolicyService
from dockyard.registry.repositories import RepositoryService
from dockyard.registry.repository_settings import RepositorySettingsService
from dockyard.registry.uploads import UploadService
from dockyard.settings import Settings
from dockyard.workers.queue import JobQueue
from dockyard.workers.runner import Runner

if TYPE_CHECKING:
    from dockyard.gc.collector import GarbageCollector
    from dockyard.health import Health
    from dockyard.gc.usage import StorageUsage
    from dockyard.lifecycle.service import LifecycleService
    from dockyard.scanning.service import ScanService
    from dockyard.audit.log import AuditLog
    from dockyard.iam.directory import Directory
    from dockyard.iam.permissions import Permissions
    from dockyard.iam.sts import TokenService
    from dockyard.console.signin import LoginThrottle


@dataclass(frozen=True)
class Services:
    settings: Settings
    identity: IdentityService
    repositories: RepositoryService
    uploads: UploadService
    images: ImageService
    catalog: ImageCatalog
    blobs: BlobService
    repository_settings: RepositorySettingsService
    policies: PolicyService
    account_settings: AccountSettingsService
    events: EventBus
    jobs: JobQueue
    runner: Runner
    scanning: ScanService | None = None
    lifecycle: LifecycleService | None = None
    gc: GarbageCollector | None = None
    usage: StorageUsage | None = None
    # IAM (issue 4): users/groups/roles, managed and inline policies, STS, the audit trail
    directory: Directory | None = None
    permissions: Permissions | None = None
    sts: TokenService | None = None
    audit: AuditLog | None = None
    # scale-out (issue 7): readiness checks of the database and the blob store (/readyz)
    health: Health | None = None
    # console sign-in back-off, counted in the shared database
    login_throttle: LoginThrottle | None = None
