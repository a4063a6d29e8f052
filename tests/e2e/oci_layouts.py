"""An OCI image layout the tests add images to: layers from a shared pool plus layers of their own,
so that images share blobs with each other (and with images deleted meanwhile)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_gz(name: str, data: bytes) -> tuple[bytes, bytes]:
    """(gzipped tar, tar) holding one file, reproducibly."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, 0
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0), raw.getvalue()


@dataclass(frozen=True)
class BuiltImage:
    ref: str  # the layout's ref name (oci:<layout>:<ref>)
    manifest: bytes
    blobs: dict[str, bytes]  # digest -> bytes (config and layers)

    @property
    def digest(self) -> str:
        return sha256(self.manifest)


class Layout:
    def __init__(self, path: Path, pool_size: int = 8, layer_size: int = 48 * 1024,
                 seed: int = 0, pool: list[tuple[bytes, bytes]] | None = None,
                 prefix: str = "img") -> None:
        self.path = path
        self.rng = random.Random(seed)
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self.entries: list[dict] = []
        self.pool = pool if pool is not None else [
            tar_gz(f"pool/{i}.bin", os.urandom(layer_size)) for i in range(pool_size)]
        self.prefix = prefix
        self.count = 0

    def _put(self, data: bytes) -> str:
        digest = sha256(data)
        target = self.path / "blobs" / "sha256" / digest.split(":", 1)[1]
        if not target.exists():
            target.write_bytes(data)
        return digest

    def build(self, shared: int = 3, own_size: int = 8 * 1024) -> BuiltImage:
        """A new image: ``shared`` layers from the pool and one layer of its own."""
        self.count += 1
        name = f"{self.prefix}{self.count}"
        chosen = self.rng.sample(self.pool, k=min(shared, len(self.pool)))
        layers = chosen + [tar_gz(f"{name}/own.bin", os.urandom(own_size))]
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Labels": {"name": name}},
                             "rootfs": {"type": "layers",
                                        "diff_ids": [sha256(raw) for _, raw in layers]}},
                            separators=(",", ":")).encode()
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": self._put(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": self._put(gz), "size": len(gz)}
                       for gz, _ in layers]}, indent=2).encode()
        self._put(manifest)
        self.entries.append({"mediaType": OCI_MANIFEST, "digest": sha256(manifest),
                             "size": len(manifest),
                             "annotations": {"org.opencontainers.image.ref.name": name}})
        (self.path / "index.json").write_text(json.dumps({"schemaVersion": 2,
                                                          "manifests": self.entries}))
        return BuiltImage(name, manifest, {sha256(config): config,
                                           **{sha256(gz): gz for gz, _ in layers}})
