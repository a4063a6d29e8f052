"""containerd, the Kubernetes runtime: `ctr images pull` from the live server (the dockerd's containerd)."""

from __future__ import annotations

import json
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from .clients import REQUIRED, Docker, require, run, skopeo
from .conftest import ecr_client
from .images import build_context, layer_files, unique, write_multiarch_layout
from .servers import DockyardProcess

pytestmark = pytest.mark.e2e


@dataclass
class Ctr:
    binary: str
    socket: Path
    namespace: str

    def _cmd(self, *args: str) -> list[str]:
        return [self.binary, "--address", str(self.socket), "--namespace", self.namespace, *args]

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(self._cmd(*args), check=check, timeout=300)

    def pull(self, ref: str, password: str, *extra: str,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        # the native snapshotter works everywhere (no overlayfs needed)
        return self("images", "pull", "--plain-http", "--snapshotter", "native",
                    "--user", f"AWS:{password}", *extra, ref, check=check)

    def content(self, digest: str) -> bytes:
        """Raw bytes of a blob in containerd's content store."""
        result = subprocess.run(self._cmd("content", "get", digest), capture_output=True,
                                timeout=60, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result.stdout

    def image_digest(self, ref: str) -> str:
        for line in self("images", "ls").stdout.splitlines()[1:]:
            fields = line.split()
            if fields and fields[0] == ref:
                return next(f for f in fields if f.startswith("sha256:"))
        raise AssertionError(f"{ref} not in `ctr images ls`")


@pytest.fixture
def ctr(docker: Docker):  # type: ignore[no-untyped-def]
    """`ctr` on the containerd the session dockerd started, in a namespace of its own."""
    binary = require("ctr", "containerd's client (Debian package containerd)")
    socket = docker.containerd_socket
    if not socket.exists():
        message = f"dockerd started no containerd at {socket}"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    client = Ctr(binary, socket, f"dockyard-e2e-{secrets.token_hex(3)}")
    yield client
    for name in client("images", "ls", "--quiet", check=False).stdout.split():
        client("images", "rm", name, check=False)
    client("namespaces", "remove", client.namespace, check=False)


def test_ctr_pulls_a_docker_pushed_image(ctr: Ctr, docker: Docker,
                                         dockyard_server: DockyardProcess,
                                         registry_password: str, tmp_path: Path) -> None:
    repo = unique("containerd/app")
    ecr_client(dockyard_server).create_repository(repositoryName=repo)
    ref = f"{dockyard_server.host}/{repo}:v1"
    context = build_context(tmp_path / "ctx", layers=2, files_per_layer=1, file_size=128 * 1024)
    docker.build(context.path, ref)
    digest = docker.push(ref)
    docker.remove(ref)

    refused = ctr.pull(ref, "not-a-password", check=False)
    assert refused.returncode != 0
    assert "401" in refused.stderr or "unauthorized" in refused.stderr.lower(), refused.stderr

    ctr.pull(ref, registry_password)
    assert ctr.image_digest(ref) == digest
    manifest = json.loads(ctr.content(digest))
    files: dict[str, bytes] = {}
    for layer in manifest["layers"]:
        files.update(layer_files(ctr.content(layer["digest"])))
    assert files == context.files


def test_ctr_pulls_one_platform_of_a_multiarch_index(ctr: Ctr, dockyard_server: DockyardProcess,
                                                     registry_password: str,
                                                     tmp_path: Path) -> None:
    repo = unique("containerd/multi")
    ecr_client(dockyard_server).create_repository(repositoryName=repo)
    layout = write_multiarch_layout(tmp_path / "layout", tag="multi")
    ref = f"{dockyard_server.host}/{repo}:multi"
    skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false", "--dest-creds",
           f"AWS:{registry_password}", f"oci:{layout.path}:multi", f"docker://{ref}")

    ctr.pull(ref, registry_password, "--platform", "linux/arm64")
    assert ctr.image_digest(ref) == layout.index_digest
    assert ctr.content(layout.index_digest) == layout.index_bytes
    arm = layout.images["linux/arm64"]
    assert ctr.content(arm.digest) == arm.manifest
    layer = json.loads(arm.manifest)["layers"][0]["digest"]
    assert layer_files(ctr.content(layer)) == arm.files
