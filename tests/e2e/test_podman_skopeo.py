"""podman and skopeo (containers/image) against the live server: push, pull, mount, copy, delete."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .clients import Docker, Podman, output, skopeo
from .conftest import ecr_client
from .images import build_context, layer_files, sha256, unique, write_dir_image, write_multiarch_layout
from .servers import DockyardProcess

pytestmark = pytest.mark.e2e


def _login(podman: Podman, server: DockyardProcess, password: str) -> None:
    result = podman("login", "--tls-verify=false", "--username", "AWS", "--password-stdin",
                    server.host, input=password)
    assert "Login Succeeded" in result.stdout


def _digest(podman: Podman, ref: str) -> str:
    return podman("image", "inspect", "--format", "{{.Digest}}", ref).stdout.strip()


def _image_id(podman: Podman, ref: str) -> str:
    return podman("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()


def test_podman_push_then_pull_on_a_fresh_machine(dockyard_server: DockyardProcess,
                                                  registry_password: str, podman_factory,
                                                  tmp_path: Path) -> None:
    repo = unique("podman/app")
    ecr_client(dockyard_server).create_repository(repositoryName=repo)
    ref = f"{dockyard_server.host}/{repo}:v1"

    builder = podman_factory("build")
    context = build_context(tmp_path / "ctx", layers=2, files_per_layer=1, file_size=128 * 1024)
    builder("build", "-t", ref, str(context.path))
    _login(builder, dockyard_server, registry_password)
    digest_file = tmp_path / "digest"
    builder("push", "--tls-verify=false", "--digestfile", str(digest_file), ref)
    pushed = digest_file.read_text().strip()
    assert pushed.startswith("sha256:")

    fresh = podman_factory("fresh")
    _login(fresh, dockyard_server, registry_password)
    fresh("pull", "--tls-verify=false", ref)
    assert _digest(fresh, ref) == pushed
    assert _image_id(fresh, ref) == _image_id(builder, ref)

    # the files, from the pulled image's layers
    archive = tmp_path / "pulled"
    fresh("save", "--format", "oci-dir", "--output", str(archive), ref)
    index = json.loads((archive / "index.json").read_text())
    manifest = json.loads(_oci_blob(archive, index["manifests"][0]["digest"]))
    files: dict[str, bytes] = {}
    for layer in manifest["layers"]:
        files.update(layer_files(_oci_blob(archive, layer["digest"])))
    assert files == context.files


def _oci_blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def _mounting_copy(copy, target: str, ecr, layers: int) -> str:  # type: ignore[no-untyped-def]
    """Run ``copy(target)`` (a containers/image client at --debug) and check that every layer went
    by cross-repository mount (POST ?mount=&from= answered 201).

    The client only tries a mount when its blob-info cache (the system-wide
    /var/lib/containers/cache) knows where the blob lives, and that cache now and then misses a
    location it was just told; such a copy says nothing about the registry, so it is retried into
    a fresh repository (at most 3 times). A registry that refuses mounts fails at once.
    Returns the repository that holds the mounted copy.
    """
    for _ in range(3):
        log = copy(target)
        assert "started an upload instead of mounting" not in log, log
        assert log.count("... mount OK") == log.count("Trying to mount"), log
        if log.count("... mount OK") == layers:
            return target
        assert log.count("Trying to mount") == 0, log
        target = unique(target.rsplit("-", 1)[0])
        ecr.create_repository(repositoryName=target)
    raise AssertionError(f"the client never tried to mount its layers:\n{log}")


def test_podman_push_of_an_image_docker_pushed_mounts_its_layers(
        docker: Docker, dockyard_server: DockyardProcess, registry_password: str,
        podman_factory, tmp_path: Path) -> None:
    ecr = ecr_client(dockyard_server)
    source, target = unique("from-docker"), unique("by-podman")
    ecr.create_repository(repositoryName=source)
    ecr.create_repository(repositoryName=target)
    context = build_context(tmp_path / "ctx", layers=2, files_per_layer=1, file_size=128 * 1024)
    image_id = docker.build(context.path, f"{dockyard_server.host}/{source}:v1")
    docker.push(f"{dockyard_server.host}/{source}:v1")

    podman = podman_factory("mount")
    _login(podman, dockyard_server, registry_password)
    podman("pull", "--tls-verify=false", f"{dockyard_server.host}/{source}:v1")

    def push(into: str) -> str:
        podman("tag", f"{dockyard_server.host}/{source}:v1", f"{dockyard_server.host}/{into}:v1")
        return output(podman("--log-level", "debug", "push", "--tls-verify=false",
                             f"{dockyard_server.host}/{into}:v1"))

    # both layers come over by cross-repository mount, no byte uploaded again
    target = _mounting_copy(push, target, ecr, layers=2)

    docker.remove(f"{dockyard_server.host}/{source}:v1")
    docker("pull", f"{dockyard_server.host}/{target}:v1")
    assert docker.image_id(f"{dockyard_server.host}/{target}:v1") == image_id
    docker.remove(f"{dockyard_server.host}/{target}:v1")


def test_skopeo_copy_inspect_delete(dockyard_server: DockyardProcess, registry_password: str,
                                    tmp_path: Path) -> None:
    ecr = ecr_client(dockyard_server)
    first, second = unique("skopeo/one"), unique("skopeo/two")
    ecr.create_repository(repositoryName=first)
    ecr.create_repository(repositoryName=second)
    creds = f"AWS:{registry_password}"
    image = write_dir_image(tmp_path / "image")

    # dir: -> registry; the manifest goes byte for byte
    one = f"docker://{dockyard_server.host}/{first}:v1"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, "--preserve-digests",
           f"dir:{tmp_path / 'image'}", one)
    inspected = json.loads(skopeo("inspect", "--tls-verify=false", "--creds", creds, one).stdout)
    assert inspected["Digest"] == image.digest
    assert inspected["RepoTags"] == ["v1"]
    raw = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds, one).stdout
    assert raw.encode() == image.manifest

    # registry -> registry across repositories: the layer is mounted, not uploaded again
    # (containers/image always copies the config blob)
    def copy(into: str) -> str:
        return output(skopeo("--debug", "copy", "--src-tls-verify=false", "--src-creds", creds,
                             "--dest-tls-verify=false", "--dest-creds", creds, one,
                             f"docker://{dockyard_server.host}/{into}:v2"))

    second = _mounting_copy(copy, second, ecr, layers=1)
    two = f"docker://{dockyard_server.host}/{second}:v2"
    assert json.loads(skopeo("inspect", "--tls-verify=false", "--creds", creds,
                             two).stdout)["Digest"] == image.digest

    # and back out of the registry: the layer holds the files written
    back = tmp_path / "back"
    skopeo("copy", "--src-tls-verify=false", "--src-creds", creds, two, f"dir:{back}")
    manifest = json.loads((back / "manifest.json").read_bytes())
    layer = (back / manifest["layers"][0]["digest"].split(":", 1)[1]).read_bytes()
    assert sha256(layer) == manifest["layers"][0]["digest"]
    assert layer_files(layer) == image.files

    # delete: the manifest goes from the second repository only
    skopeo("delete", "--tls-verify=false", "--creds", creds, two)
    gone = skopeo("inspect", "--tls-verify=false", "--creds", creds, two, check=False)
    assert gone.returncode != 0
    assert "manifest unknown" in gone.stderr, gone.stderr
    by_digest = f"docker://{dockyard_server.host}/{second}@{image.digest}"
    assert skopeo("inspect", "--tls-verify=false", "--creds", creds, by_digest,
                  check=False).returncode != 0
    assert json.loads(skopeo("inspect", "--tls-verify=false", "--creds", creds,
                             one).stdout)["Digest"] == image.digest


def test_skopeo_copy_all_of_a_multiarch_index(dockyard_server: DockyardProcess,
                                              registry_password: str, tmp_path: Path) -> None:
    repo = unique("multiarch")
    ecr_client(dockyard_server).create_repository(repositoryName=repo)
    creds = f"AWS:{registry_password}"
    layout = write_multiarch_layout(tmp_path / "layout", tag="multi")
    dest = f"docker://{dockyard_server.host}/{repo}:multi"

    skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false", "--dest-creds", creds,
           f"oci:{layout.path}:multi", dest)

    raw = skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds, dest).stdout
    assert raw.encode() == layout.index_bytes
    for platform, image in layout.images.items():
        child = f"docker://{dockyard_server.host}/{repo}@{image.digest}"
        assert skopeo("inspect", "--raw", "--tls-verify=false", "--creds", creds,
                      child).stdout.encode() == image.manifest, platform
    # a client on arm64 resolves the index to the arm64 image
    arm = json.loads(skopeo("--override-arch", "arm64", "--override-os", "linux", "inspect",
                            "--tls-verify=false", "--creds", creds, dest).stdout)
    assert arm["Digest"] == layout.index_digest  # skopeo reports the digest of the reference
    assert arm["Architecture"] == "arm64"
    assert arm["Labels"] == {"arch": "arm64"}


def test_docker_pulls_its_platform_from_a_multiarch_index(
        docker: Docker, dockyard_server: DockyardProcess, registry_password: str,
        tmp_path: Path) -> None:
    """docker sends one Accept header per media type; the index must still be served."""
    repo = unique("multiarch-docker")
    ecr_client(dockyard_server).create_repository(repositoryName=repo)
    layout = write_multiarch_layout(tmp_path / "layout", tag="multi")
    ref = f"{dockyard_server.host}/{repo}:multi"
    skopeo("copy", "--all", "--preserve-digests", "--dest-tls-verify=false", "--dest-creds",
           f"AWS:{registry_password}", f"oci:{layout.path}:multi", f"docker://{ref}")
    pulled = docker("pull", "--platform", "linux/arm64", ref)
    assert f"Digest: {layout.index_digest}" in pulled.stdout
    config = json.loads(layout.images["linux/arm64"].manifest)["config"]["digest"]
    assert docker.image_id(ref) == config
    docker.remove(ref)


def test_skopeo_copy_of_a_docker_archive(docker: Docker, dockyard_server: DockyardProcess,
                                         registry_password: str, tmp_path: Path) -> None:
    """`docker save` -> skopeo -> registry -> `docker pull`: the same image comes back."""
    repo = unique("from-archive")
    ecr_client(dockyard_server).create_repository(repositoryName=repo)
    context = build_context(tmp_path / "ctx", layers=2, files_per_layer=1, file_size=64 * 1024)
    local = f"e2e-local/{repo}:v1"
    image_id = docker.build(context.path, local)
    archive = tmp_path / "image.tar"
    docker("save", "--output", str(archive), local)
    digest_file = tmp_path / "digest"
    ref = f"{dockyard_server.host}/{repo}:v1"
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"AWS:{registry_password}",
           "--digestfile", str(digest_file), f"docker-archive:{archive}", f"docker://{ref}")
    docker.remove(local)
    pulled = docker("pull", ref)
    assert f"Digest: {digest_file.read_text().strip()}" in pulled.stdout
    assert docker.image_id(ref) == image_id
    docker.remove(ref)
    os.remove(archive)


def test_missing_manifest_message_names_the_error_once(dockyard_server: DockyardProcess,
                                                       registry_password: str) -> None:
    """The client prefixes the error code; the registry's message must not repeat it."""
    repo = unique("empty")
    ecr_client(dockyard_server).create_repository(repositoryName=repo)
    result = skopeo("inspect", "--tls-verify=false", "--creds", f"AWS:{registry_password}",
                    f"docker://{dockyard_server.host}/{repo}:nope", check=False)
    assert result.returncode != 0
    assert "manifest unknown" in result.stderr
    assert "manifest unknown: manifest unknown" not in result.stderr, result.stderr


def test_podman_push_honours_tag_immutability(dockyard_server: DockyardProcess,
                                              registry_password: str, podman_factory,
                                              tmp_path: Path) -> None:
    repo = unique("podman/immutable")
    ecr_client(dockyard_server).create_repository(
        repositoryName=repo, imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}])
    podman = podman_factory("immut")
    _login(podman, dockyard_server, registry_password)
    first = build_context(tmp_path / "one", layers=1, files_per_layer=1, file_size=4096)
    second = build_context(tmp_path / "two", layers=1, files_per_layer=1, file_size=4096)
    for tag in ("v1", "latest"):
        podman("build", "-t", f"{dockyard_server.host}/{repo}:{tag}", str(first.path))
        podman("push", "--tls-verify=false", f"{dockyard_server.host}/{repo}:{tag}")
    # the identical image again under the immutable tag: a no-op, not an error
    podman("push", "--tls-verify=false", f"{dockyard_server.host}/{repo}:v1")
    for tag in ("v1", "latest"):
        podman("build", "-t", f"{dockyard_server.host}/{repo}:{tag}", str(second.path))
    refused = podman("push", "--tls-verify=false", f"{dockyard_server.host}/{repo}:v1", check=False)
    assert refused.returncode != 0
    assert (f"The image tag 'v1' already exists in the '{repo}' repository and cannot be "
            "overwritten because the repository is immutable.") in output(refused)
    # `latest` matches the exclusion filter: it moves
    podman("push", "--tls-verify=false", f"{dockyard_server.host}/{repo}:latest")
