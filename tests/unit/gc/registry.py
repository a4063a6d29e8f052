"""A real registry (SQLite + filesystem, Dockyard's own services) on a clock the test moves."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from dockyard.app import bootstrap, build_services
from dockyard.domain.digest import Digest
from dockyard.domain.models import Principal
from dockyard.registry.images import Reference
from dockyard.services import Services
from dockyard.settings import Settings

KEY_ID = "AKIADOCKYARDUNIT0001"
SECRET = "dockyardUnitSecretKey/0123456789abcdefGH"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
GRACE = timedelta(hours=1)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Clock:
    def __init__(self) -> None:
        self.moment = datetime.now(timezone.utc).replace(microsecond=0)

    def now(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: float) -> None:
        self.moment += timedelta(**kwargs)


@dataclass
class Image:
    manifest: bytes
    blobs: dict[str, bytes]
    media_type: str = OCI_MANIFEST

    @property
    def digest(self) -> str:
        return sha256(self.manifest)


def image(seed: str, *shared_layers: bytes, subject: "Image | None" = None) -> Image:
    config = json.dumps({"seed": seed}).encode()
    own = f"own layer of {seed}".encode() * 50
    layers = [*shared_layers, own]
    doc: dict[str, Any] = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(b),
                    "size": len(b)} for b in layers]}
    if subject is not None:
        doc["subject"] = {"mediaType": subject.media_type, "digest": subject.digest,
                          "size": len(subject.manifest)}
    return Image(json.dumps(doc).encode(), {sha256(b): b for b in [config, *layers]})


def index(*children: Image) -> Image:
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": c.media_type, "digest": c.digest, "size": len(c.manifest),
         "platform": {"architecture": f"a{i}", "os": "linux"}} for i, c in enumerate(children)]}
    return Image(json.dumps(doc).encode(), {}, OCI_INDEX)


class Registry:
    def __init__(self, data_dir: Path, database_url: str = "", **settings: Any) -> None:
        self.clock = Clock()
        self.settings = Settings(data_dir=data_dir, database_url=database_url,
                                 admin_access_key_id=KEY_ID,
                                 admin_secret_access_key=SECRET,
                                 secret_key=settings.pop("secret_key", None),
                                 gc_grace_seconds=int(GRACE.total_seconds()), **settings)
        bootstrap(self.settings)
        self.services: Services = build_services(self.settings, self.clock)
        identity = self.services.identity
        key = identity.store.access_key(KEY_ID)
        assert key is not None
        principal = identity.store.principal(key.principal_id)
        assert principal is not None
        # as the OCI front door authenticates a client: the principal with its policies resolved
        self.admin: Principal = identity.authenticate_password(
            identity.password(identity.issue_password(principal, KEY_ID)))
        self.root = data_dir.resolve()

    # --- pushes ------------------------------------------------------------------------------------
    def create(self, name: str) -> None:
        self.services.repositories.create(self.admin, name)

    def push_blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        asyncio.run(self.services.uploads.put_small(self.admin, repo, Digest.parse(digest), data))
        return digest

    def push_blob_chunked(self, repo: str, data: bytes) -> str:
        upload = self.services.uploads.start(self.admin, repo)

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        digest = Digest.parse(sha256(data))
        asyncio.run(self.services.uploads.complete(self.admin, repo, upload.id, digest, chunks()))
        return str(digest)

    def put_manifest(self, repo: str, img: Image, tag: str | None = None) -> None:
        self.services.images.put(self.admin, repo, Reference.parse(tag or img.digest),
                                 img.manifest, img.media_type)

    def push(self, repo: str, img: Image, tag: str | None = None) -> None:
        for data in img.blobs.values():
            self.push_blob(repo, data)
        self.put_manifest(repo, img, tag)

    def delete(self, repo: str, digest: str) -> None:
        self.services.images.delete(self.admin, repo, Reference.parse(digest))

    # --- what is stored ----------------------------------------------------------------------------
    def files(self) -> set[str]:
        return {str(d) for d, _, _ in self.services.gc.blobs.stored_blobs()}

    def rows(self) -> set[str]:
        return self.services.gc.store.blob_digests()

    def referenced(self) -> set[str]:
        return self.services.gc.store.referenced_digests()

    def collect(self, **kwargs: Any):  # type: ignore[no-untyped-def]
        return self.services.gc.collect(**kwargs)
