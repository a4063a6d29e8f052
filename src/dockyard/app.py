"""The composition root: picks drivers from settings, builds the services, mounts the front doors."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import cast

from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import Receive, Scope, Send

from dockyard.domain.events import RepositoryDeleted
from dockyard.audit.log import AuditLog
from dockyard.console.app import ConsoleApp
from dockyard.console.signin import LoginThrottle
from dockyard.ecr.app import EcrApp
from dockyard.events.bus import EventBus
from dockyard.errors import ServerError
from dockyard.gc.collector import GarbageCollector
from dockyard.gc.usage import StorageUsage
from dockyard.health import Health
from dockyard.iam.authorizer import Authorizer
from dockyard.iam.directory import Directory
from dockyard.iam.permissions import Permissions
from dockyard.iam.sts import TokenService
from dockyard.iamapi.app import IamQueryApp
from dockyard.iam.identity import IdentityService, NewKey
from dockyard.iam.secretbox import SecretBox
from dockyard.metadata.access_store import SqlAccessStore
from dockyard.lifecycle.service import LifecycleService
from dockyard.metadata.audit_store import SqlAuditStore
from dockyard.metadata.engine import Database, make_engine
from dockyard.metadata.gc_store import SqlGcStore
from dockyard.metadata.identity_store import SqlIdentityStore
from dockyard.metadata.image_store import SqlImageStore
from dockyard.metadata.lifecycle_store import SqlLifecycleStore
from dockyard.metadata.login_throttle_store import SqlLoginFailureStore
from dockyard.metadata.migrate import upgrade
from dockyard.metadata.registry_store import SqlRegistryStore
from dockyard.metadata.scan_store import SqlScanStore
from dockyard.metadata.settings_store import SqlSettingsStore
from dockyard.metadata.usage_store import SqlUsageStore
from dockyard.oci.routes import OciApp
from dockyard.ports import BlobStore, Clock, CollectableBlobStore, SystemClock
from dockyard.registry.account_settings import AccountSettingsService
from dockyard.registry.blobs import BlobService
from dockyard.registry.image_catalog import ImageCatalog
from dockyard.registry.images import ImageService
from dockyard.registry.policies import PolicyService
from dockyard.registry.pulls import PullRecorder
from dockyard.registry.repositories import RegistryAddress, RepositoryService
from dockyard.registry.repository_settings import RepositorySettingsService
from dockyard.registry.uploads import UploadService
from dockyard.scanning.sbom_route import PREFIX as SBOM_PREFIX, SbomRoute
from dockyard.scanning.service import ScanService
from dockyard.services import Services
from dockyard.settings import Settings
from dockyard.storage.filesystem import FilesystemBlobStore
from dockyard.workers.queue import JobQueue
from dockyard.workers.runner import Runner


def _blob_store(settings: Settings) -> BlobStore:
    if settings.blob_driver == "filesystem":
        return FilesystemBlobStore(settings.data_dir.resolve())
    if settings.blob_driver == "s3":
        from dockyard.storage.s3 import S3BlobStore

        if not settings.s3_bucket:
            raise ServerError("DOCKYARD_S3_BUCKET is required with DOCKYARD_BLOB_DRIVER=s3")
        secret = settings.s3_secret_access_key
        return S3BlobStore(
            settings.s3_bucket, prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url or None, region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
            public_endpoint_url=settings.s3_public_endpoint_url or None,
            redirect=settings.s3_redirect, part_size=settings.s3_part_size)
    raise ServerError(f"unknown blob driver {settings.blob_driver!r} (available: filesystem, s3)")


def _database(settings: Settings) -> Database:
    if settings.metadata_driver != "sql":
        raise ServerError(f"unknown metadata driver {settings.metadata_driver!r} (available: sql)")
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    return Database(engine)


def open_identity(settings: Settings, clock: Clock | None = None,
                  ) -> tuple[Database, IdentityService, Authorizer]:
    clock = clock or SystemClock()
    db = _database(settings)
    if db.dialect != "sqlite" and settings.secret_key is None:
        # Every node decrypts what any node stored (access key secrets, the token key): a key
        # file in one node's data directory would lock the others out.
        raise ServerError("DOCKYARD_SECRET_KEY is required with a shared database: give every "
                          "node the same key (docs/deployment.md)")
    box = SecretBox.from_settings(
        settings.secret_key.get_secret_value() if settings.secret_key else None,
        settings.data_dir.resolve())
    authz = Authorizer(SqlAccessStore(db), account=lambda: identity.registry.registry_id,
                       clock=clock)
    identity = IdentityService(SqlIdentityStore(db), box, clock, settings.region, authz,
                               token_ttl=timedelta(seconds=settings.token_ttl_seconds))
    return db, identity, authz


def bootstrap(settings: Settings) -> NewKey | None:
    """Create the registry and its administrator on the first start (see ``IdentityService``)."""
    db, identity, _ = open_identity(settings)
    secret = settings.admin_secret_access_key
    try:
        return identity.bootstrap(settings.admin_access_key_id,
                                  secret.get_secret_value() if secret else None)
    finally:
        db.dispose()  # no SQLite connection may outlive this (see `dockyard serve`)


def build_services(settings: Settings, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    db, identity, authz = open_identity(settings, clock)
    return _assemble(settings, db, identity, authz, clock)


def _assemble(settings: Settings, db: Database, identity: IdentityService, authz: Authorizer,
              clock: Clock) -> Services:
    blobs = _blob_store(settings)
    store = SqlRegistryStore(db)
    info = identity.registry
    address = RegistryAddress(info.registry_id, info.region, settings.registry_host)
    events = EventBus()
    repos = RepositoryService(store, blobs, authz, clock, address, events)
    pulls = PullRecorder(SqlImageStore(db), clock)
    settings_store = SqlSettingsStore(db)
    account = AccountSettingsService(settings_store, authz, address)
    jobs = JobQueue(db, clock)
    runner = Runner(jobs)
    lifecycle = LifecycleService(SqlLifecycleStore(db), repos, jobs, clock, events)
    lifecycle.register(runner, timedelta(seconds=settings.lifecycle_interval_seconds))
    gc = GarbageCollector(SqlGcStore(db), cast(CollectableBlobStore, blobs), clock,
                          grace=timedelta(seconds=settings.gc_grace_seconds),
                          upload_timeout=timedelta(seconds=settings.upload_timeout_seconds),
                          jobs=jobs)
    gc.register(runner, timedelta(seconds=settings.gc_interval_seconds))
    events.subscribe(RepositoryDeleted, gc.on_repository_deleted)
    scanning = ScanService(SqlScanStore(db), SqlImageStore(db), blobs, repos, jobs, authz, clock)
    scanning.attach(events, runner)
    account_id = lambda: identity.registry.registry_id  # noqa: E731
    directory = Directory(identity.iam_store, identity, authz, clock, account_id)
    return Services(
        settings=settings,
        identity=identity,
        repositories=repos,
        uploads=UploadService(store, blobs, repos, clock, account.blob_mounting_enabled),
        images=ImageService(store, repos, clock, pulls, events),
        catalog=ImageCatalog(SqlImageStore(db), store, repos, pulls, scanning.summaries),
        blobs=BlobService(store, blobs, repos, lambda: identity.signer, clock, gc.touched),
        repository_settings=RepositorySettingsService(settings_store, repos),
        policies=PolicyService(settings_store, repos, authz),
        account_settings=account,
        events=events,
        jobs=jobs,
        runner=runner,
        scanning=scanning,
        lifecycle=lifecycle,
        gc=gc,
        usage=StorageUsage(SqlUsageStore(db), repos),
        directory=directory,
        permissions=Permissions(identity.iam_store, directory, authz, clock, account_id),
        sts=TokenService(identity.iam_store, identity.box, clock, account_id),
        audit=AuditLog(SqlAuditStore(db), clock, account_id, info.region),
        health=Health({"database": db.ping, "blob_store": blobs.check}),
        login_throttle=LoginThrottle(SqlLoginFailureStore(db), clock),
    )


class DockyardApp:
    """One port, three front doors: ``/v2/`` (OCI), ``POST /`` (AWS APIs), the console."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.oci = OciApp(services)
        self.aws = EcrApp(services)
        self.iam = IamQueryApp(services)
        self.console = ConsoleApp(services)
        self.sbom = (SbomRoute(services.scanning, services.identity.authenticate_basic)
                     if services.scanning is not None else None)
        self._runner_task: asyncio.Task[None] | None = None
        self._audit_task: asyncio.Task[None] | None = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Start the in-process job runner with the server (unless jobs run in `dockyard worker`)."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.services.settings.jobs_in_server:
                    self._runner_task = asyncio.create_task(self.services.runner.run_forever())
                if self.services.audit is not None:
                    self._audit_task = asyncio.create_task(self.services.audit.flush_forever())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.services.health is not None:
                    self.services.health.draining = True
                for task in (self._runner_task, self._audit_task):
                    if task is not None:
                        task.cancel()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path.startswith("/v2/"):
            await self.oci(scope, receive, send)
        elif path == "/v2":
            await self.oci({**scope, "path": "/v2/"}, receive, send)
        elif path == "/" and scope["method"] == "POST":
            if _is_query_api(scope):  # IAM/STS: form body with Action=...; ECR: X-Amz-Target
                await self.iam(scope, receive, send)
            else:
                await self.aws(scope, receive, send)
        elif path == "/healthz":  # liveness: this process answers
            await JSONResponse({"status": "ok"})(scope, receive, send)
        elif path == "/readyz":  # readiness: the database and the blob store answer too
            await _readiness(self.services, scope, receive, send)
        elif path.startswith(SBOM_PREFIX) and self.sbom is not None:
            await self.sbom(scope, receive, send)
        elif path == "/" or path == "/console" or path.startswith("/console/"):
            await self.console(scope, receive, send)  # the web console (GET / redirects to it)
        else:
            await PlainTextResponse("not found\n", 404)(scope, receive, send)




async def _readiness(services: Services, scope: Scope, receive: Receive, send: Send) -> None:
    if services.health is None:
        await JSONResponse({"status": "ok"})(scope, receive, send)
        return
    ready, checks = await services.health.ready()
    await JSONResponse({"status": "ok" if ready else "unavailable", "checks": checks},
                       200 if ready else 503, {"Cache-Control": "no-store"})(scope, receive, send)


def _is_query_api(scope: Scope) -> bool:
    """A form-encoded POST without ``X-Amz-Target``: the IAM/STS query protocol."""
    form = False
    for name, value in scope.get("headers", ()):
        if name == b"x-amz-target":
            return False
        if name == b"content-type":
            form = value.split(b";", 1)[0].strip().lower() == b"application/x-www-form-urlencoded"
    return form


def create_app(settings: Settings | None = None) -> DockyardApp:
    """Build the app for an initialised registry (``dockyard serve`` bootstraps it first)."""
    return DockyardApp(build_services(settings or Settings()))
