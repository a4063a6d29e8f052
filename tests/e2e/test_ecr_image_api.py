"""The ECR image and layer API with the real aws CLI, interoperating with docker both ways."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from .clients import aws, output
from .images import oci_image, sha256, unique

pytestmark = pytest.mark.e2e


def _cli_json(env: dict[str, str], *args: str) -> dict:
    return json.loads(aws(env, "ecr", *args, "--output", "json").stdout)


def _push_with_layer_api(env: dict[str, str], repo: str, tmp: Path, tag: str, image) -> dict:  # type: ignore[no-untyped-def]
    """Push blobs with initiate/upload-layer-part/complete, then the manifest with put-image."""
    for digest, data in image.blobs.items():
        upload = _cli_json(env, "initiate-layer-upload", "--repository-name", repo)
        part = tmp / digest.replace(":", "_")
        part.write_bytes(data)
        half = len(data) // 2  # two parts, exercising byte ranges
        first = _cli_json(env, "upload-layer-part", "--repository-name", repo,
                          "--upload-id", upload["uploadId"], "--part-first-byte", "0",
                          "--part-last-byte", str(half - 1),
                          "--layer-part-blob", f"fileb://{_slice(part, 0, half)}")
        assert first["lastByteReceived"] == half - 1
        second = _cli_json(env, "upload-layer-part", "--repository-name", repo,
                           "--upload-id", upload["uploadId"], "--part-first-byte", str(half),
                           "--part-last-byte", str(len(data) - 1),
                           "--layer-part-blob", f"fileb://{_slice(part, half, len(data))}")
        assert second["lastByteReceived"] == len(data) - 1
        done = _cli_json(env, "complete-layer-upload", "--repository-name", repo,
                         "--upload-id", upload["uploadId"], "--layer-digests", digest)
        assert done["layerDigest"] == digest
    manifest = tmp / f"{tag}.json"
    manifest.write_bytes(image.manifest)
    return _cli_json(env, "put-image", "--repository-name", repo, "--image-tag", tag,
                     "--image-manifest", f"file://{manifest}")


def _slice(path: Path, start: int, end: int) -> Path:
    out = path.with_suffix(f".{start}-{end}")
    out.write_bytes(path.read_bytes()[start:end])
    return out


def test_layer_api_push_pulls_with_docker(dockyard_server, docker, tmp_path):
    env = dockyard_server.env()
    repo = unique("api-push")
    aws(env, "ecr", "create-repository", "--repository-name", repo)
    image = oci_image(size=200_000)
    put = _push_with_layer_api(env, repo, tmp_path, "v1", image)
    assert put["image"]["imageId"] == {"imageDigest": image.digest, "imageTag": "v1"}

    ref = f"{dockyard_server.host}/{repo}:v1"
    pulled = output(docker("pull", ref))
    assert image.digest in pulled
    saved = tmp_path / "saved.tar"
    docker("save", "-o", str(saved), ref)
    assert saved.stat().st_size > 200_000

    # the layer is also reachable through a download URL that needs no credentials
    layer = json.loads(image.manifest)["layers"][0]["digest"]
    url = _cli_json(env, "get-download-url-for-layer", "--repository-name", repo,
                    "--layer-digest", layer)["downloadUrl"]
    with urllib.request.urlopen(url) as response:  # noqa: S310 - loopback URL from the server
        assert sha256(response.read()) == layer
    check = _cli_json(env, "batch-check-layer-availability", "--repository-name", repo,
                      "--layer-digests", layer, "sha256:" + "0" * 64)
    availability = {entry["layerDigest"]: entry["layerAvailability"] for entry in check["layers"]}
    assert availability == {layer: "AVAILABLE", "sha256:" + "0" * 64: "UNAVAILABLE"}


def test_docker_push_is_read_by_batch_get_image(dockyard_server, docker, tmp_path):
    env = dockyard_server.env()
    repo = unique("docker-push")
    aws(env, "ecr", "create-repository", "--repository-name", repo)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "hello.txt").write_text("hello from docker\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    ref = f"{dockyard_server.host}/{repo}:v1"
    docker.build(context, ref)
    digest_line = docker.push(ref)

    got = _cli_json(env, "batch-get-image", "--repository-name", repo,
                    "--image-ids", "imageTag=v1", "imageTag=missing")
    assert len(got["images"]) == 1
    image = got["images"][0]
    assert image["imageId"]["imageDigest"] in digest_line
    assert sha256(image["imageManifest"].encode()) == image["imageId"]["imageDigest"]
    assert got["failures"][0]["failureCode"] == "ImageNotFound"

    details = _cli_json(env, "describe-images", "--repository-name", repo)["imageDetails"]
    assert details[0]["imageTags"] == ["v1"]
    assert details[0]["imageSizeInBytes"] > 0
    listed = _cli_json(env, "list-images", "--repository-name", repo)["imageIds"]
    assert listed == [{"imageDigest": image["imageId"]["imageDigest"], "imageTag": "v1"}]

    deleted = _cli_json(env, "batch-delete-image", "--repository-name", repo,
                        "--image-ids", "imageTag=v1")
    assert deleted["imageIds"][0]["imageTag"] == "v1"
    assert _cli_json(env, "list-images", "--repository-name", repo)["imageIds"] == []


def test_put_image_immutability_with_exclusion_filter(dockyard_server, tmp_path):
    env = dockyard_server.env()
    repo = unique("immutable-api")
    aws(env, "ecr", "create-repository", "--repository-name", repo,
        "--image-tag-mutability", "IMMUTABLE_WITH_EXCLUSION",
        "--image-tag-mutability-exclusion-filters", "filterType=WILDCARD,filter=latest")
    first, second = oci_image(size=1000), oci_image("arm64", size=1000)
    _push_with_layer_api(env, repo, tmp_path, "v1", first)
    _cli_json(env, "put-image", "--repository-name", repo, "--image-tag", "latest",
              "--image-manifest", f"file://{tmp_path / 'v1.json'}")
    _push_blobs_only(env, repo, tmp_path, second)
    manifest = tmp_path / "second.json"
    manifest.write_bytes(second.manifest)

    moved = aws(env, "ecr", "put-image", "--repository-name", repo, "--image-tag", "v1",
                "--image-manifest", f"file://{manifest}", check=False)
    assert moved.returncode != 0
    assert "ImageTagAlreadyExistsException" in output(moved)
    # `latest` is excluded from immutability: it moves
    latest = _cli_json(env, "put-image", "--repository-name", repo, "--image-tag", "latest",
                       "--image-manifest", f"file://{manifest}")
    assert latest["image"]["imageId"]["imageDigest"] == second.digest
    # the identical manifest again under the same tag: ECR's ImageAlreadyExistsException
    again = aws(env, "ecr", "put-image", "--repository-name", repo, "--image-tag", "latest",
                "--image-manifest", f"file://{manifest}", check=False)
    assert again.returncode != 0 and "ImageAlreadyExistsException" in output(again)


def _push_blobs_only(env: dict[str, str], repo: str, tmp: Path, image) -> None:  # type: ignore[no-untyped-def]
    for digest, data in image.blobs.items():
        upload = _cli_json(env, "initiate-layer-upload", "--repository-name", repo)
        blob = tmp / f"blob-{digest.split(':')[1][:12]}"
        blob.write_bytes(data)
        _cli_json(env, "upload-layer-part", "--repository-name", repo, "--upload-id",
                  upload["uploadId"], "--part-first-byte", "0", "--part-last-byte",
                  str(len(data) - 1), "--layer-part-blob", f"fileb://{blob}")
        _cli_json(env, "complete-layer-upload", "--repository-name", repo, "--upload-id",
                  upload["uploadId"], "--layer-digests", digest)


def test_upload_layer_part_with_a_gap_is_refused(dockyard_server, tmp_path):
    env = dockyard_server.env()
    repo = unique("gap")
    aws(env, "ecr", "create-repository", "--repository-name", repo)
    upload = _cli_json(env, "initiate-layer-upload", "--repository-name", repo)
    part = tmp_path / "part"
    part.write_bytes(b"x" * 100)
    gap = aws(env, "ecr", "upload-layer-part", "--repository-name", repo, "--upload-id",
              upload["uploadId"], "--part-first-byte", "10", "--part-last-byte", "109",
              "--layer-part-blob", f"fileb://{part}", check=False)
    assert gap.returncode != 0 and "InvalidLayerPartException" in output(gap)
