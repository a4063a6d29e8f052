"""Manifests: PUT/GET/HEAD/DELETE of the four media types and artifacts, validation, immutability."""

from __future__ import annotations

import json

import pytest

from .conftest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    Image,
    Oci,
    assert_oci_error,
    descriptor,
    docker_image,
    index_of,
    oci_image,
    sha256,
    sha512,
)


def _assert_manifest(oci: Oci, repo: str, ref: str, image: Image) -> None:
    r = oci.get(f"/v2/{repo}/manifests/{ref}", headers={"Accept": image.media_type})
    assert r.status_code == 200, r.text
    assert r.content == image.manifest  # byte for byte, whitespace included
    assert r.headers["Content-Type"] == image.media_type
    assert r.headers["Docker-Content-Digest"] == image.digest
    head = oci.head(f"/v2/{repo}/manifests/{ref}", headers={"Accept": image.media_type})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["Content-Type"] == image.media_type
    assert head.headers["Docker-Content-Digest"] == image.digest
    assert int(head.headers["Content-Length"]) == len(image.manifest)


def _assert_no_manifest(oci: Oci, repo: str, ref: str) -> None:
    assert_oci_error(oci.get(f"/v2/{repo}/manifests/{ref}"), 404, "MANIFEST_UNKNOWN")
    r = oci.head(f"/v2/{repo}/manifests/{ref}")
    assert r.status_code == 404
    assert r.content == b""


# --- the four media types -----------------------------------------------------------------------
def test_put_and_get_oci_image_manifest_by_tag_and_digest(oci: Oci, repo: str) -> None:
    image = oci_image("one", layers=2, indent=3)  # odd whitespace, trailing newline
    r = oci.push_image(repo, image, "v1")
    assert r.status_code == 201
    assert r.headers["Docker-Content-Digest"] == image.digest
    assert r.headers["Location"] == f"/v2/{repo}/manifests/{image.digest}"
    assert "OCI-Subject" not in r.headers
    _assert_manifest(oci, repo, "v1", image)
    _assert_manifest(oci, repo, image.digest, image)
    assert oci.get(r.headers["Location"]).content == image.manifest


def test_put_by_digest_reference(oci: Oci, repo: str) -> None:
    image = oci_image("by-digest")
    r = oci.push_image(repo, image, image.digest)
    assert r.headers["Docker-Content-Digest"] == image.digest
    _assert_manifest(oci, repo, image.digest, image)
    assert oci.get(f"/v2/{repo}/tags/list").json()["tags"] == []


def test_put_docker_schema2_manifest(oci: Oci, repo: str) -> None:
    image = docker_image()
    oci.push_image(repo, image, "docker")
    _assert_manifest(oci, repo, "docker", image)
    _assert_manifest(oci, repo, image.digest, image)


def test_put_oci_index(oci: Oci, repo: str) -> None:
    children = [oci_image("amd64"), oci_image("arm64")]
    for child in children:
        oci.push_image(repo, child)
    index = index_of(children)
    oci.push_image(repo, index, "multi")
    _assert_manifest(oci, repo, "multi", index)
    _assert_manifest(oci, repo, index.digest, index)


def test_put_docker_manifest_list(oci: Oci, repo: str) -> None:
    children = [docker_image("x"), docker_image("y")]
    for child in children:
        oci.push_image(repo, child)
    manifest_list = index_of(children, DOCKER_LIST)
    oci.push_image(repo, manifest_list, "list")
    _assert_manifest(oci, repo, "list", manifest_list)


def test_index_with_a_missing_child_is_manifest_blob_unknown(oci: Oci, repo: str) -> None:
    present, missing = oci_image("present"), oci_image("missing")
    oci.push_image(repo, present)
    index = index_of([present, missing])
    r = oci.put_manifest(repo, "multi", index.manifest, OCI_INDEX)
    assert_oci_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
    _assert_no_manifest(oci, repo, "multi")
    _assert_no_manifest(oci, repo, index.digest)


def test_manifest_list_with_a_missing_child_is_manifest_blob_unknown(oci: Oci, repo: str) -> None:
    manifest_list = index_of([docker_image("absent")], DOCKER_LIST)
    assert_oci_error(oci.put_manifest(repo, "list", manifest_list.manifest, DOCKER_LIST), 400,
                     "MANIFEST_BLOB_UNKNOWN")


def test_child_of_an_index_must_be_in_the_same_repository(oci: Oci, ecr, repo: str) -> None:
    ecr.create_repository("team/other")
    child = oci_image("elsewhere")
    oci.push_image("team/other", child)
    for data in child.blobs.values():
        oci.push_blob(repo, data)
    index = index_of([child])
    assert_oci_error(oci.put_manifest(repo, "multi", index.manifest, OCI_INDEX), 400,
                     "MANIFEST_BLOB_UNKNOWN")


def test_oci_artifact_with_artifact_type_and_empty_config(oci: Oci, repo: str) -> None:
    empty = b"{}"
    payload = b'{"sbom": true}'
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom.v1+json",
        "config": descriptor(OCI_EMPTY, empty),
        "layers": [descriptor("application/vnd.example.sbom.v1+json", payload)],
        "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    }
    artifact = Image(json.dumps(doc).encode(), OCI_MANIFEST, {sha256(empty): empty, sha256(payload): payload})
    assert sha256(empty) == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    oci.push_image(repo, artifact, "sbom")
    _assert_manifest(oci, repo, "sbom", artifact)


def test_artifact_with_no_layers(oci: Oci, repo: str) -> None:
    empty = b"{}"
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.thing",
           "config": descriptor(OCI_EMPTY, empty), "layers": []}
    artifact = Image(json.dumps(doc).encode(), OCI_MANIFEST, {sha256(empty): empty})
    oci.push_image(repo, artifact, "thing")
    _assert_manifest(oci, repo, "thing", artifact)


def test_content_type_parameters_are_ignored(oci: Oci, repo: str) -> None:
    image = oci_image("params")
    for digest, data in image.blobs.items():
        oci.push_blob(repo, data, digest)
    r = oci.put_manifest(repo, "p", image.manifest, OCI_MANIFEST + "; charset=utf-8")
    assert r.status_code == 201, r.text
    assert oci.get(f"/v2/{repo}/manifests/p").headers["Content-Type"] == OCI_MANIFEST


def test_manifest_without_media_type_field_takes_the_content_type(oci: Oci, repo: str) -> None:
    config, layer = b'{"os":"linux"}', b"layer bytes"
    oci.push_blob(repo, config)
    oci.push_blob(repo, layer)
    doc = {"schemaVersion": 2, "config": descriptor(OCI_CONFIG, config),
           "layers": [descriptor(OCI_LAYER, layer)]}
    body = json.dumps(doc).encode()
    assert oci.put_manifest(repo, "bare", body, OCI_MANIFEST).status_code == 201
    _assert_manifest(oci, repo, "bare", Image(body, OCI_MANIFEST))


def test_sha512_manifest_reference(oci: Oci, repo: str) -> None:
    config, layer = b'{"os":"linux","sha":512}', b"sha512 layer"
    c, l = oci.push_blob(repo, config, sha512(config)), oci.push_blob(repo, layer, sha512(layer))
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": OCI_CONFIG, "digest": c, "size": len(config)},
           "layers": [{"mediaType": OCI_LAYER, "digest": l, "size": len(layer)}]}
    body = json.dumps(doc).encode()
    r = oci.put_manifest(repo, sha512(body), body, OCI_MANIFEST)
    assert r.status_code == 201, r.text
    assert r.headers["Docker-Content-Digest"] == sha512(body)
    got = oci.get(f"/v2/{repo}/manifests/{sha512(body)}")
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["Docker-Content-Digest"] == sha512(body)
    mismatch = oci.put_manifest(repo, sha512(b"other"), body, OCI_MANIFEST)
    assert_oci_error(mismatch, 400, "DIGEST_INVALID")


# --- validation ---------------------------------------------------------------------------------
def test_manifest_referencing_a_missing_blob_stores_nothing(oci: Oci, repo: str) -> None:
    image = oci_image("incomplete", layers=2)
    digests = list(image.blobs)
    for digest in digests[:-1]:  # the last layer is never pushed
        oci.push_blob(repo, image.blobs[digest], digest)
    r = oci.put_manifest(repo, "v1", image.manifest, OCI_MANIFEST)
    err = assert_oci_error(r, 400, "MANIFEST_BLOB_UNKNOWN")
    assert digests[-1] in json.dumps(err)
    _assert_no_manifest(oci, repo, "v1")
    _assert_no_manifest(oci, repo, image.digest)
    assert oci.get(f"/v2/{repo}/tags/list").json()["tags"] == []


def test_manifest_referencing_a_missing_config_is_rejected(oci: Oci, repo: str) -> None:
    image = oci_image("noconfig")
    config_digest = next(iter(image.blobs))
    for digest, data in image.blobs.items():
        if digest != config_digest:
            oci.push_blob(repo, data, digest)
    assert_oci_error(oci.put_manifest(repo, "v1", image.manifest, OCI_MANIFEST), 400,
                     "MANIFEST_BLOB_UNKNOWN")


def test_put_by_digest_with_a_mismatching_body(oci: Oci, repo: str) -> None:
    image, other = oci_image("body"), oci_image("claimed")
    for digest, data in image.blobs.items():
        oci.push_blob(repo, data, digest)
    r = oci.put_manifest(repo, other.digest, image.manifest, OCI_MANIFEST)
    assert_oci_error(r, 400, "DIGEST_INVALID")
    _assert_no_manifest(oci, repo, other.digest)
    _assert_no_manifest(oci, repo, image.digest)


@pytest.mark.parametrize("body", [
    b"{not json",
    b"",
    b"[1, 2, 3]",
    b'"a string"',
    b"\xff\xfe\x00",
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"}',
    b'{"schemaVersion": 1, "mediaType": "application/vnd.oci.image.manifest.v1+json",'
    b' "config": {}, "layers": []}',
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",'
    b' "config": {"mediaType": "x", "digest": "sha256:nothex", "size": 1}, "layers": []}',
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",'
    b' "config": {"mediaType": "x", "digest": "sha256:' + b"0" * 64 + b'", "size": -1}, "layers": []}',
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}',
    b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": {}}',
    b'{"schemaVersion": 2, "mediaType": "text/plain", "manifests": []}',
])
def test_invalid_manifests_are_manifest_invalid(oci: Oci, repo: str, body: bytes) -> None:
    r = oci.put_manifest(repo, "bad", body, OCI_MANIFEST)
    assert_oci_error(r, 400, "MANIFEST_INVALID")
    _assert_no_manifest(oci, repo, "bad")


def test_media_type_field_must_match_content_type(oci: Oci, repo: str) -> None:
    image = docker_image("mismatch")
    for digest, data in image.blobs.items():
        oci.push_blob(repo, data, digest)
    r = oci.put_manifest(repo, "v1", image.manifest, OCI_MANIFEST)
    assert_oci_error(r, 400, "MANIFEST_INVALID")


def test_manifest_over_4_mib_is_413(oci: Oci, repo: str) -> None:
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [],
           "annotations": {"padding": "x" * (4 * 1024 * 1024)}}
    body = json.dumps(doc).encode()
    assert len(body) > 4 * 1024 * 1024
    r = oci.put_manifest(repo, "huge", body, OCI_INDEX)
    assert_oci_error(r, 413)
    _assert_no_manifest(oci, repo, "huge")


def test_manifest_of_almost_4_mib_is_accepted(oci: Oci, repo: str) -> None:
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [],
           "annotations": {"padding": ""}}
    room = 4 * 1024 * 1024 - len(json.dumps(doc).encode())
    doc["annotations"]["padding"] = "x" * room
    body = json.dumps(doc).encode()
    assert len(body) == 4 * 1024 * 1024
    assert oci.put_manifest(repo, "big", body, OCI_INDEX).status_code == 201
    assert oci.get(f"/v2/{repo}/manifests/big").content == body


@pytest.mark.parametrize("tag", ["-leading-dash", ".dot", "x" * 129, "a+b", "sha256"])
def test_invalid_tags(oci: Oci, repo: str, tag: str) -> None:
    image = oci_image("tags")
    for digest, data in image.blobs.items():
        oci.push_blob(repo, data, digest)
    r = oci.put_manifest(repo, tag, image.manifest, OCI_MANIFEST)
    if tag == "sha256":  # a valid tag after all
        assert r.status_code == 201
        return
    assert 400 <= r.status_code < 500
    assert_oci_error(r, r.status_code)


def test_longest_valid_tag(oci: Oci, repo: str) -> None:
    image = oci_image("long")
    tag = "T" + "a" * 127
    oci.push_image(repo, image, tag)
    _assert_manifest(oci, repo, tag, image)


# --- content negotiation ------------------------------------------------------------------------
def test_index_get_with_an_accept_that_excludes_indexes(oci: Oci, repo: str) -> None:
    child = oci_image("child")
    oci.push_image(repo, child)
    index = index_of([child])
    oci.push_image(repo, index, "multi")
    accept = f"{OCI_MANIFEST}, {DOCKER_MANIFEST}"
    assert_oci_error(oci.get(f"/v2/{repo}/manifests/multi", headers={"Accept": accept}), 404,
                     "MANIFEST_UNKNOWN")
    assert oci.head(f"/v2/{repo}/manifests/multi", headers={"Accept": accept}).status_code == 404
    ok = oci.get(f"/v2/{repo}/manifests/multi", headers={"Accept": f"{accept}, {OCI_INDEX}"})
    assert ok.status_code == 200
    assert ok.content == index.manifest
    assert oci.get(f"/v2/{repo}/manifests/multi", headers={"Accept": "*/*"}).status_code == 200
    assert oci.get(f"/v2/{repo}/manifests/multi").status_code == 200


# --- subject ------------------------------------------------------------------------------------
def test_manifest_with_subject_returns_oci_subject(oci: Oci, repo: str) -> None:
    subject = oci_image("subject")
    oci.push_image(repo, subject, "app")
    signature = oci_image("sig", subject=subject, artifact_type="application/vnd.example.sig")
    r = oci.push_image(repo, signature)
    assert r.status_code == 201
    assert r.headers["OCI-Subject"] == subject.digest


def test_subject_need_not_exist(oci: Oci, repo: str) -> None:
    absent = oci_image("not pushed")
    referrer = oci_image("ref", subject=absent, artifact_type="application/vnd.example.x")
    r = oci.push_image(repo, referrer)
    assert r.headers["OCI-Subject"] == absent.digest


def test_index_with_subject_returns_oci_subject(oci: Oci, repo: str) -> None:
    subject, child = oci_image("s"), oci_image("c")
    oci.push_image(repo, subject)
    oci.push_image(repo, child)
    index = index_of([child], subject=subject, artifact_type="application/vnd.example.bundle")
    r = oci.push_image(repo, index)
    assert r.headers["OCI-Subject"] == subject.digest


# --- tags and deletion --------------------------------------------------------------------------
def test_retagging_moves_the_tag(oci: Oci, repo: str) -> None:
    first, second = oci_image("first"), oci_image("second")
    oci.push_image(repo, first, "latest")
    oci.push_image(repo, second, "latest")
    _assert_manifest(oci, repo, "latest", second)
    _assert_manifest(oci, repo, first.digest, first)


def test_delete_manifest_by_digest_removes_its_tags(oci: Oci, repo: str) -> None:
    image, other = oci_image("doomed"), oci_image("kept")
    oci.push_image(repo, image, "a")
    oci.put_manifest(repo, "b", image.manifest, OCI_MANIFEST)
    oci.push_image(repo, other, "c")
    r = oci.delete(f"/v2/{repo}/manifests/{image.digest}")
    assert r.status_code == 202, r.text
    _assert_no_manifest(oci, repo, image.digest)
    _assert_no_manifest(oci, repo, "a")
    _assert_no_manifest(oci, repo, "b")
    assert oci.get(f"/v2/{repo}/tags/list").json()["tags"] == ["c"]
    _assert_manifest(oci, repo, "c", other)
    assert_oci_error(oci.delete(f"/v2/{repo}/manifests/{image.digest}"), 404, "MANIFEST_UNKNOWN")


def test_delete_tag_keeps_the_manifest(oci: Oci, repo: str) -> None:
    image = oci_image("tagged")
    oci.push_image(repo, image, "one")
    oci.put_manifest(repo, "two", image.manifest, OCI_MANIFEST)
    r = oci.delete(f"/v2/{repo}/manifests/one")
    assert r.status_code == 202, r.text
    _assert_no_manifest(oci, repo, "one")
    _assert_manifest(oci, repo, "two", image)
    _assert_manifest(oci, repo, image.digest, image)
    assert oci.get(f"/v2/{repo}/tags/list").json()["tags"] == ["two"]
    assert_oci_error(oci.delete(f"/v2/{repo}/manifests/one"), 404, "MANIFEST_UNKNOWN")


def test_delete_of_a_manifest_referenced_by_an_index_is_refused(oci: Oci, repo: str) -> None:
    child = oci_image("child")
    oci.push_image(repo, child, "child")
    index = index_of([child])
    oci.push_image(repo, index, "multi")
    r = oci.delete(f"/v2/{repo}/manifests/{child.digest}")
    assert 400 <= r.status_code < 500
    assert_oci_error(r, r.status_code)
    _assert_manifest(oci, repo, "child", child)
    _assert_manifest(oci, repo, "multi", index)
    # once the index is gone the child can go
    assert oci.delete(f"/v2/{repo}/manifests/{index.digest}").status_code == 202
    assert oci.delete(f"/v2/{repo}/manifests/{child.digest}").status_code == 202
    _assert_no_manifest(oci, repo, child.digest)


def test_unknown_manifest(oci: Oci, repo: str) -> None:
    _assert_no_manifest(oci, repo, "nope")
    _assert_no_manifest(oci, repo, sha256(b"nope"))
    assert_oci_error(oci.delete(f"/v2/{repo}/manifests/nope"), 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize("ref", ["sha256:abc", "sha256:" + "A" * 64, "md5:" + "0" * 32])
def test_malformed_digest_reference(oci: Oci, repo: str, ref: str) -> None:
    assert_oci_error(oci.get(f"/v2/{repo}/manifests/{ref}"), 400, "DIGEST_INVALID")


def test_manifests_are_per_repository(oci: Oci, ecr, repo: str) -> None:
    ecr.create_repository("team/other")
    image = oci_image("mine")
    oci.push_image(repo, image, "v1")
    _assert_no_manifest(oci, "team/other", image.digest)
    _assert_no_manifest(oci, "team/other", "v1")


# --- immutable repositories ---------------------------------------------------------------------
def test_immutable_repository_refuses_to_move_a_tag(oci: Oci, ecr) -> None:
    ecr.create_repository("frozen", imageTagMutability="IMMUTABLE")
    first, second = oci_image("first"), oci_image("second")
    oci.push_image("frozen", first, "v1")
    for digest, data in second.blobs.items():
        oci.push_blob("frozen", data, digest)
    r = oci.put_manifest("frozen", "v1", second.manifest, OCI_MANIFEST)
    err = assert_oci_error(r, 400, "TAG_INVALID")
    assert err["message"] == ("The image tag 'v1' already exists in the 'frozen' repository and "
                              "cannot be overwritten because the repository is immutable.")
    _assert_manifest(oci, "frozen", "v1", first)
    # the same manifest again is fine
    again = oci.put_manifest("frozen", "v1", first.manifest, OCI_MANIFEST)
    assert again.status_code == 201, again.text
    # and the other manifest can get a new tag or be pushed by digest
    assert oci.put_manifest("frozen", "v2", second.manifest, OCI_MANIFEST).status_code == 201
    assert oci.put_manifest("frozen", second.digest, second.manifest, OCI_MANIFEST).status_code == 201


def test_immutable_with_exclusion_lets_excluded_tags_move(oci: Oci, ecr) -> None:
    ecr.create_repository("partly", imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                          imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD",
                                                               "filter": "latest*"}])
    first, second = oci_image("first"), oci_image("second")
    oci.push_image("partly", first, "latest")
    oci.push_image("partly", first, "v1")
    for digest, data in second.blobs.items():
        oci.push_blob("partly", data, digest)
    assert oci.put_manifest("partly", "latest", second.manifest, OCI_MANIFEST).status_code == 201
    assert_oci_error(oci.put_manifest("partly", "v1", second.manifest, OCI_MANIFEST), 400, "TAG_INVALID")


def test_tag_with_a_trailing_newline_is_invalid(oci: Oci, repo: str) -> None:
    """``latest%0A`` decodes to ``latest\\n``, which the tag grammar does not allow."""
    image = oci_image("newline")
    for digest, data in image.blobs.items():
        oci.push_blob(repo, data, digest)
    r = oci.put_manifest(repo, "latest%0A", image.manifest, OCI_MANIFEST)
    assert_oci_error(r, 400, "TAG_INVALID")
    assert oci.get(f"/v2/{repo}/tags/list").json()["tags"] == []


def test_streamed_manifest_over_4_mib_is_413(oci: Oci, repo: str) -> None:
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [],
           "annotations": {"padding": "x" * (4 * 1024 * 1024)}}
    body = json.dumps(doc).encode()
    chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))  # no Content-Length
    r = oci.put(f"/v2/{repo}/manifests/huge", content=chunks, headers={"Content-Type": OCI_INDEX})
    assert_oci_error(r, 413)
    _assert_no_manifest(oci, repo, "huge")


def test_streamed_manifest_is_accepted(oci: Oci, repo: str) -> None:
    image = oci_image("streamed")
    for digest, data in image.blobs.items():
        oci.push_blob(repo, data, digest)
    chunks = iter([image.manifest[:10], image.manifest[10:]])
    r = oci.put(f"/v2/{repo}/manifests/s", content=chunks, headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    _assert_manifest(oci, repo, "s", image)


def test_descriptor_size_beyond_int64_is_manifest_invalid(oci: Oci, repo: str) -> None:
    """OCI descriptors carry an int64 size; a larger one must be refused, not crash the store."""
    config, layer = b'{"os":"linux"}', b"layer"
    oci.push_blob(repo, config)
    oci.push_blob(repo, layer)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
           "layers": [{**descriptor(OCI_LAYER, layer), "size": 2**63}]}
    r = oci.put_manifest(repo, "huge-size", json.dumps(doc).encode(), OCI_MANIFEST)
    assert_oci_error(r, 400, "MANIFEST_INVALID")


def test_layer_sizes_adding_up_beyond_int64_do_not_crash(oci: Oci, repo: str) -> None:
    config, layer = b'{"os":"linux"}', b"layer"
    oci.push_blob(repo, config)
    oci.push_blob(repo, layer)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
           "layers": [{**descriptor(OCI_LAYER, layer), "size": 2**62}] * 2}
    r = oci.put_manifest(repo, "sum", json.dumps(doc).encode(), OCI_MANIFEST)
    assert r.status_code in (201, 400), r.text
    if r.status_code == 400:
        assert_oci_error(r, 400, "MANIFEST_INVALID")


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000,
                                  b'{"a":' * 50_000 + b"1" + b"}" * 50_000],
                         ids=["arrays", "objects"])
def test_deeply_nested_json_is_manifest_invalid(oci: Oci, repo: str, body: bytes) -> None:
    assert_oci_error(oci.put_manifest(repo, "deep", body, OCI_MANIFEST), 400, "MANIFEST_INVALID")
