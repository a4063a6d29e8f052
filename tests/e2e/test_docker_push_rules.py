"""What docker sees when a push breaks a rule: immutable tags, unknown repositories; layer mounts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .clients import Docker, output
from .conftest import ecr_client
from .images import build_context, unique
from .servers import DockyardProcess

pytestmark = pytest.mark.e2e


def _image(docker: Docker, tmp_path: Path, name: str, layers: int = 2) -> str:
    context = build_context(tmp_path / name, layers=layers, files_per_layer=1, file_size=64 * 1024)
    return docker.build(context.path, f"e2e-local/{name}:latest")


def test_immutable_tag_cannot_move(docker: Docker, dockyard_server: DockyardProcess,
                                   tmp_path: Path) -> None:
    repo = unique("immutable")
    ecr_client(dockyard_server).create_repository(repositoryName=repo,
                                                  imageTagMutability="IMMUTABLE")
    ref = f"{dockyard_server.host}/{repo}:v1"
    first = _image(docker, tmp_path, "first")
    second = _image(docker, tmp_path, "second")
    assert first != second

    docker("tag", first, ref)
    digest = docker.push(ref)

    docker("tag", second, ref)
    refused = docker("push", ref, check=False)
    assert refused.returncode != 0
    expected = (f"tag invalid: The image tag 'v1' already exists in the '{repo}' repository and "
                f"cannot be overwritten because the repository is immutable.")
    assert expected in output(refused), output(refused)

    # the same image to the same tag is not a move: accepted
    docker("tag", first, ref)
    assert docker.push(ref) == digest

    # and the tag still names the first image
    docker.remove(ref)
    docker("pull", ref)
    assert docker.image_id(ref) == first
    docker.remove(ref)


def test_mutable_tag_moves(docker: Docker, dockyard_server: DockyardProcess,
                           tmp_path: Path) -> None:
    repo = unique("mutable")
    ecr_client(dockyard_server).create_repository(repositoryName=repo,
                                                  imageTagMutability="MUTABLE")
    ref = f"{dockyard_server.host}/{repo}:v1"
    first = _image(docker, tmp_path, "first")
    second = _image(docker, tmp_path, "second")

    docker("tag", first, ref)
    first_digest = docker.push(ref)
    docker("tag", second, ref)
    second_digest = docker.push(ref)
    assert second_digest != first_digest

    docker.remove(ref)
    pulled = docker("pull", ref)
    assert f"Digest: {second_digest}" in pulled.stdout
    assert docker.image_id(ref) == second
    # the first image is still there, by digest
    docker("pull", f"{dockyard_server.host}/{repo}@{first_digest}")
    assert docker.image_id(f"{dockyard_server.host}/{repo}@{first_digest}") == first
    docker.remove(ref, f"{dockyard_server.host}/{repo}@{first_digest}")


def test_push_to_missing_repository(docker: Docker, dockyard_server: DockyardProcess,
                                    tmp_path: Path) -> None:
    repo = unique("never-created")
    ref = f"{dockyard_server.host}/{repo}:v1"
    image = _image(docker, tmp_path, "orphan", layers=1)
    docker("tag", image, ref)
    refused = docker("push", ref, check=False)
    assert refused.returncode != 0
    pattern = (rf"name unknown: The repository with name '{re.escape(repo)}' does not exist in "
               rf"the registry with id '\d{{12}}'")
    assert re.search(pattern, output(refused)), output(refused)
    docker.remove(ref)


def test_docker_mounts_layers_across_repositories(docker: Docker, dockyard_server: DockyardProcess,
                                                  tmp_path: Path) -> None:
    ecr = ecr_client(dockyard_server)
    source, target = unique("mount-src"), unique("mount-dst")
    ecr.create_repository(repositoryName=source)
    ecr.create_repository(repositoryName=target)
    image = _image(docker, tmp_path, "shared", layers=2)
    docker("tag", image, f"{dockyard_server.host}/{source}:v1")
    docker("tag", image, f"{dockyard_server.host}/{target}:v1")
    first = docker.push(f"{dockyard_server.host}/{source}:v1")

    pushed = docker("push", f"{dockyard_server.host}/{target}:v1")
    # docker asks POST /v2/<target>/blobs/uploads/?mount=<digest>&from=<source> for each layer
    assert output(pushed).count(f"Mounted from {source}") == 2, output(pushed)
    assert f"digest: {first}" in pushed.stdout

    docker.remove(f"{dockyard_server.host}/{source}:v1", f"{dockyard_server.host}/{target}:v1")
    docker("pull", f"{dockyard_server.host}/{target}:v1")
    assert docker.image_id(f"{dockyard_server.host}/{target}:v1") == image
    docker.remove(f"{dockyard_server.host}/{target}:v1")
