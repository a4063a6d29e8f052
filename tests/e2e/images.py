"""Test images: docker build contexts of random files, and OCI image layouts written by hand."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import secrets
import tarfile
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


def unique(prefix: str) -> str:
    """A repository name no other test (or earlier run against the same server) uses."""
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass
class BuildContext:
    path: Path
    files: dict[str, bytes]  # path inside the image -> content


def build_context(path: Path, layers: int = 3, files_per_layer: int = 2,
                  file_size: int = 256 * 1024) -> BuildContext:
    """A `FROM scratch` Dockerfile with one `COPY` (one layer) per directory of random files."""
    path.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    lines = ["FROM scratch"]
    for layer in range(layers):
        directory = f"layer{layer}"
        (path / directory).mkdir()
        for n in range(files_per_layer):
            data = os.urandom(file_size)
            (path / directory / f"file{n}.bin").write_bytes(data)
            files[f"{directory}/file{n}.bin"] = data
        lines.append(f"COPY {directory}/ /{directory}/")
    lines.append('LABEL org.opencontainers.image.title="dockyard e2e"')
    (path / "Dockerfile").write_text("\n".join(lines) + "\n")
    return BuildContext(path, files)


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_files(tar_bytes: bytes) -> dict[str, bytes]:
    """Regular files in a (possibly gzipped) layer tarball."""
    if tar_bytes[:2] == b"\x1f\x8b":
        tar_bytes = gzip.decompress(tar_bytes)
    out = {}
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        for member in tar.getmembers():
            if member.isfile():
                f = tar.extractfile(member)
                assert f is not None
                out[member.name.lstrip("./")] = f.read()
    return out


def _tar_gz(files: dict[str, bytes]) -> tuple[bytes, bytes]:
    """(gzipped tar, uncompressed tar) of ``files``, reproducible."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    compressed = gzip.compress(raw.getvalue(), mtime=0)
    return compressed, raw.getvalue()


@dataclass
class ImageBlobs:
    """A single-platform OCI image: manifest, config and one gzipped layer, by digest."""

    manifest: bytes
    blobs: dict[str, bytes]  # digest -> bytes (config and layer)
    files: dict[str, bytes]  # the layer's files

    @property
    def digest(self) -> str:
        return sha256(self.manifest)


def oci_image(arch: str = "amd64", size: int = 64 * 1024) -> ImageBlobs:
    files = {f"etc/{arch}.txt": f"built for {arch}\n".encode(),
             f"data/{arch}.bin": os.urandom(size)}
    layer_gz, layer_tar = _tar_gz(files)
    config = json.dumps({
        "architecture": arch, "os": "linux",
        "config": {"Labels": {"arch": arch}},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer_tar)]},
    }, separators=(",", ":")).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": sha256(layer_gz),
                    "size": len(layer_gz)}],
    }, indent=2).encode()
    return ImageBlobs(manifest, {sha256(config): config, sha256(layer_gz): layer_gz}, files)


def write_dir_image(path: Path, arch: str = "amd64") -> ImageBlobs:
    """containers/image's ``dir:`` transport layout of one image."""
    image = oci_image(arch)
    path.mkdir(parents=True, exist_ok=True)
    (path / "version").write_text("Directory Transport Version: 1.1\n")
    (path / "manifest.json").write_bytes(image.manifest)
    for digest, data in image.blobs.items():
        (path / digest.split(":", 1)[1]).write_bytes(data)
    return image


@dataclass
class OciLayout:
    path: Path
    tag: str
    index_bytes: bytes  # the multi-arch image index, exactly as written
    index_digest: str
    images: dict[str, ImageBlobs]  # platform "os/arch" -> image


def write_multiarch_layout(path: Path, tag: str = "multi") -> OciLayout:
    """An OCI image layout whose ``tag`` is an index of linux/amd64 and linux/arm64 images."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(data: bytes) -> dict:
        digest = sha256(data)
        (blobs / digest.split(":", 1)[1]).write_bytes(data)
        return {"digest": digest, "size": len(data)}

    images, descriptors = {}, []
    for arch in ("amd64", "arm64"):
        image = oci_image(arch)
        for data in image.blobs.values():
            put(data)
        descriptors.append({"mediaType": OCI_MANIFEST, **put(image.manifest),
                            "platform": {"architecture": arch, "os": "linux"}})
        images[f"linux/{arch}"] = image
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors,
                        "annotations": {"org.opencontainers.image.description": "dockyard e2e"}},
                       indent=3).encode()
    index_desc = put(index)
    (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": OCI_INDEX, **index_desc,
        "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    return OciLayout(path, tag, index, index_desc["digest"], images)
