"""dockyard.domain.manifest: what a manifest references, its media type, subject and artifact type."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from dockyard.domain.digest import Digest
from dockyard.domain.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_MEDIA_TYPES,
    MAX_MANIFEST_BYTES,
    OCI_EMPTY_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    effective_artifact_type,
    parse_manifest,
)
from dockyard.errors import ManifestInvalid, ManifestTooLarge

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def _d(media_type: str, seed: str, size: int = 10, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": "sha256:" + hashlib.sha256(seed.encode()).hexdigest(),
            "size": size, **extra}


def _image(media_type: str = OCI_MANIFEST, config_type: str = OCI_CONFIG,
           layer_type: str = OCI_LAYER, **extra: Any) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": media_type, "config": _d(config_type, "config", 3),
            "layers": [_d(layer_type, "l1", 100), _d(layer_type, "l2", 200)], **extra}


def _index(media_type: str = OCI_INDEX, child_type: str = OCI_MANIFEST, **extra: Any) -> dict[str, Any]:
    return {"schemaVersion": 2, "mediaType": media_type,
            "manifests": [_d(child_type, "m1", 500, platform={"os": "linux", "architecture": "amd64"}),
                          _d(child_type, "m2", 600)], **extra}


def _b(doc: Any) -> bytes:
    return json.dumps(doc).encode()


@pytest.mark.parametrize("media_type,config_type,layer_type", [
    (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER),
    (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER),
])
def test_image_manifests(media_type: str, config_type: str, layer_type: str) -> None:
    doc = _image(media_type, config_type, layer_type)
    parsed = parse_manifest(_b(doc), media_type)
    assert parsed.media_type == media_type
    assert not parsed.is_index
    assert [str(d.digest) for d in parsed.blobs] == [doc["config"]["digest"]] + \
        [layer["digest"] for layer in doc["layers"]]
    assert parsed.blobs[0].media_type == config_type
    assert [d.size for d in parsed.blobs] == [3, 100, 200]
    assert parsed.layers_size() == 300  # ECR counts the layers, not the config
    assert parsed.manifests == ()
    assert parsed.config_media_type == config_type
    assert parsed.subject is None
    assert parsed.artifact_type is None
    assert parsed.annotations == {}


@pytest.mark.parametrize("media_type,child_type", [(OCI_INDEX, OCI_MANIFEST),
                                                   (DOCKER_LIST, DOCKER_MANIFEST)])
def test_indexes(media_type: str, child_type: str) -> None:
    doc = _index(media_type, child_type)
    parsed = parse_manifest(_b(doc), media_type)
    assert parsed.media_type == media_type
    assert parsed.is_index
    assert parsed.blobs == ()
    assert [str(d.digest) for d in parsed.manifests] == [m["digest"] for m in doc["manifests"]]
    assert [d.media_type for d in parsed.manifests] == [child_type, child_type]
    assert parsed.config_media_type is None


def test_index_media_types() -> None:
    assert INDEX_MEDIA_TYPES == {OCI_INDEX, DOCKER_LIST}


def test_empty_index_is_valid() -> None:
    parsed = parse_manifest(_b({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}), OCI_INDEX)
    assert parsed.manifests == ()


def test_image_with_no_layers_is_valid() -> None:
    doc = _image()
    doc["layers"] = []
    assert len(parse_manifest(_b(doc), OCI_MANIFEST).blobs) == 1


def test_artifact_with_artifact_type_and_empty_config() -> None:
    doc = _image(config_type=OCI_EMPTY_CONFIG, layer_type="application/vnd.example.sbom",
                 artifactType="application/vnd.example.sbom.v1")
    parsed = parse_manifest(_b(doc), OCI_MANIFEST)
    assert parsed.artifact_type == "application/vnd.example.sbom.v1"
    assert parsed.config_media_type == OCI_EMPTY_CONFIG
    assert effective_artifact_type(parsed) == "application/vnd.example.sbom.v1"


def test_artifact_type_falls_back_to_the_config_media_type() -> None:
    parsed = parse_manifest(_b(_image(config_type="application/vnd.cncf.helm.config.v1+json")),
                            OCI_MANIFEST)
    assert parsed.artifact_type is None
    assert effective_artifact_type(parsed) == "application/vnd.cncf.helm.config.v1+json"


def test_index_artifact_type() -> None:
    parsed = parse_manifest(_b(_index(artifactType="application/vnd.example.bundle")), OCI_INDEX)
    assert effective_artifact_type(parsed) == "application/vnd.example.bundle"
    assert effective_artifact_type(parse_manifest(_b(_index()), OCI_INDEX)) is None


def test_subject_and_annotations() -> None:
    subject = _d(OCI_MANIFEST, "subject", 1234)
    doc = _image(subject=subject, annotations={"org.example.a": "1", "org.example.b": "two"})
    parsed = parse_manifest(_b(doc), OCI_MANIFEST)
    assert parsed.subject == Digest.parse(subject["digest"])
    assert parsed.annotations == {"org.example.a": "1", "org.example.b": "two"}
    # the subject is not a blob the manifest needs
    assert subject["digest"] not in [str(d.digest) for d in parsed.blobs]


def test_index_with_subject() -> None:
    subject = _d(OCI_MANIFEST, "subject", 1234)
    parsed = parse_manifest(_b(_index(subject=subject)), OCI_INDEX)
    assert parsed.subject == Digest.parse(subject["digest"])
    assert subject["digest"] not in [str(d.digest) for d in parsed.manifests]


def test_sha512_descriptors() -> None:
    doc = _image()
    doc["layers"][0]["digest"] = "sha512:" + hashlib.sha512(b"x").hexdigest()
    parsed = parse_manifest(_b(doc), OCI_MANIFEST)
    assert parsed.blobs[1].digest.algorithm == "sha512"


# --- media type resolution ----------------------------------------------------------------------
def test_media_type_from_content_type_when_the_body_has_none() -> None:
    doc = _image()
    del doc["mediaType"]
    assert parse_manifest(_b(doc), OCI_MANIFEST).media_type == OCI_MANIFEST
    assert parse_manifest(_b(doc), DOCKER_MANIFEST).media_type == DOCKER_MANIFEST


def test_media_type_inferred_without_either() -> None:
    image, index = _image(), _index()
    del image["mediaType"], index["mediaType"]
    assert parse_manifest(_b(image), None).media_type == OCI_MANIFEST
    assert parse_manifest(_b(index), None).media_type == OCI_INDEX
    assert parse_manifest(_b(index), "application/octet-stream").media_type == OCI_INDEX


def test_body_media_type_wins_over_a_generic_content_type() -> None:
    assert parse_manifest(_b(_image(DOCKER_MANIFEST)), "application/json").media_type == DOCKER_MANIFEST
    assert parse_manifest(_b(_image(DOCKER_MANIFEST)), None).media_type == DOCKER_MANIFEST


def test_content_type_parameters_and_case_are_ignored() -> None:
    parsed = parse_manifest(_b(_image()), "Application/VND.oci.image.manifest.v1+json; charset=utf-8")
    assert parsed.media_type == OCI_MANIFEST


@pytest.mark.parametrize("body_type,content_type", [
    (OCI_MANIFEST, DOCKER_MANIFEST),
    (DOCKER_MANIFEST, OCI_MANIFEST),
    (OCI_MANIFEST, OCI_INDEX),
])
def test_media_type_and_content_type_mismatch(body_type: str, content_type: str) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(_b(_image(body_type)), content_type)


def test_index_body_under_an_image_content_type_is_a_mismatch() -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(_b(_index()), OCI_MANIFEST)


@pytest.mark.parametrize("media_type", ["application/vnd.docker.distribution.manifest.v1+json",
                                        "application/vnd.docker.distribution.manifest.v1+prettyjws",
                                        "text/plain", "application/vnd.oci.artifact.manifest.v1+json"])
def test_unsupported_media_types(media_type: str) -> None:
    doc = _image()
    doc["mediaType"] = media_type
    with pytest.raises(ManifestInvalid):
        parse_manifest(_b(doc), None)


# --- malformed ----------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [b"", b"{", b"null", b"[]", b"42", b'"text"', b"\xff\xfe", b"{}garbage"])
def test_not_a_json_object(body: bytes) -> None:
    with pytest.raises(ManifestInvalid) as info:
        parse_manifest(body, OCI_MANIFEST)
    assert info.value.oci_code == "MANIFEST_INVALID"
    assert info.value.http_status == 400


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("schemaVersion"),
    lambda d: d.update(schemaVersion=1),
    lambda d: d.update(schemaVersion="2"),
    lambda d: d.pop("config"),
    lambda d: d.update(config=None),
    lambda d: d.update(config="sha256:abc"),
    lambda d: d.pop("layers"),
    lambda d: d.update(layers={}),
    lambda d: d.update(layers=["sha256:abc"]),
    lambda d: d.update(mediaType=5),
    lambda d: d.update(subject="sha256:abc"),
    lambda d: d.update(subject={"mediaType": OCI_MANIFEST, "size": 1}),
    lambda d: d.update(artifactType=7),
    lambda d: d.update(annotations=["a"]),
])
def test_malformed_image_manifests(mutate) -> None:
    doc = _image()
    mutate(doc)
    with pytest.raises(ManifestInvalid):
        parse_manifest(_b(doc), OCI_MANIFEST)


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("mediaType"),
    lambda d: d.update(mediaType=""),
    lambda d: d.update(mediaType=None),
    lambda d: d.pop("digest"),
    lambda d: d.update(digest=None),
    lambda d: d.update(digest=5),
    lambda d: d.update(digest="sha256:xyz"),
    lambda d: d.update(digest="sha256:" + "A" * 64),
    lambda d: d.update(digest="md5:" + "0" * 32),
    lambda d: d.pop("size"),
    lambda d: d.update(size=-1),
    lambda d: d.update(size="10"),
    lambda d: d.update(size=1.5),
    lambda d: d.update(size=True),
    lambda d: d.update(size=None),
])
@pytest.mark.parametrize("where", ["config", "layer", "child"])
def test_malformed_descriptors(mutate, where: str) -> None:
    if where == "child":
        doc = _index()
        mutate(doc["manifests"][0])
        content_type = OCI_INDEX
    else:
        doc = _image()
        mutate(doc["config"] if where == "config" else doc["layers"][1])
        content_type = OCI_MANIFEST
    with pytest.raises(ManifestInvalid) as info:
        parse_manifest(_b(doc), content_type)
    assert info.value.oci_code == "MANIFEST_INVALID"


def test_descriptor_that_is_not_an_object() -> None:
    doc = _index()
    doc["manifests"].append("sha256:" + "0" * 64)
    with pytest.raises(ManifestInvalid):
        parse_manifest(_b(doc), OCI_INDEX)


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("manifests"),
    lambda d: d.update(manifests=None),
    lambda d: d.update(manifests={"a": 1}),
])
def test_malformed_indexes(mutate) -> None:
    doc = _index()
    mutate(doc)
    with pytest.raises(ManifestInvalid):
        parse_manifest(_b(doc), OCI_INDEX)


def test_zero_size_descriptor_is_valid() -> None:
    doc = _image()
    doc["layers"][0]["size"] = 0
    assert parse_manifest(_b(doc), OCI_MANIFEST).blobs[1].size == 0


# --- size limit ---------------------------------------------------------------------------------
def _padded(total: int) -> bytes:
    doc = _index(annotations={"pad": ""})
    room = total - len(_b(doc))
    doc["annotations"]["pad"] = "x" * room
    body = _b(doc)
    assert len(body) == total
    return body


def test_size_limit_is_4_mib() -> None:
    assert MAX_MANIFEST_BYTES == 4 * 1024 * 1024
    assert parse_manifest(_padded(MAX_MANIFEST_BYTES), OCI_INDEX).media_type == OCI_INDEX
    with pytest.raises(ManifestTooLarge) as info:
        parse_manifest(_padded(MAX_MANIFEST_BYTES + 1), OCI_INDEX)
    assert info.value.http_status == 413


def test_descriptor_size_is_an_int64() -> None:
    doc = _image()
    doc["layers"][0]["size"] = 2**63 - 1
    assert parse_manifest(_b(doc), OCI_MANIFEST).blobs[1].size == 2**63 - 1
    doc["layers"][0]["size"] = 2**63
    with pytest.raises(ManifestInvalid):
        parse_manifest(_b(doc), OCI_MANIFEST)


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000,
                                  b'{"a":' * 50_000 + b"1" + b"}" * 50_000],
                         ids=["arrays", "objects"])
def test_deeply_nested_json_is_manifest_invalid(body: bytes) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(body, OCI_MANIFEST)
