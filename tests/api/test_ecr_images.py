"""ECR image and layer operations through boto3 (its serializers, parsers and paginators) against
the in-process app: happy paths, pagination and the documented errors."""

from __future__ import annotations

import hashlib
import json
import urllib.parse

import pytest
from botocore.exceptions import ClientError

from .conftest import Oci, docker_image, index_of, oci_image, sha256

REPO = "team/images"


def code(info: pytest.ExceptionInfo) -> str:
    return info.value.response["Error"]["Code"]


@pytest.fixture
def pushed(boto, oci: Oci):  # type: ignore[no-untyped-def]
    boto.create_repository(repositoryName=REPO)
    images = [oci_image(f"img{i}") for i in range(3)]
    for i, image in enumerate(images):
        oci.push_image(REPO, image, f"v{i}")
    oci.push_image(REPO, images[0], "latest")
    untagged = docker_image("loose")
    oci.push_image(REPO, untagged)
    return images, untagged


def test_list_images_with_tag_status_and_paginator(boto, pushed):
    images, untagged = pushed
    ids = boto.list_images(repositoryName=REPO)["imageIds"]
    assert {(i["imageDigest"], i.get("imageTag")) for i in ids} == {
        (images[0].digest, "v0"), (images[0].digest, "latest"), (images[1].digest, "v1"),
        (images[2].digest, "v2"), (untagged.digest, None)}
    tagged = boto.list_images(repositoryName=REPO, filter={"tagStatus": "TAGGED"})["imageIds"]
    assert all("imageTag" in i for i in tagged) and len(tagged) == 4
    loose = boto.list_images(repositoryName=REPO, filter={"tagStatus": "UNTAGGED"})["imageIds"]
    assert loose == [{"imageDigest": untagged.digest}]
    pages = list(boto.get_paginator("list_images").paginate(
        repositoryName=REPO, PaginationConfig={"PageSize": 2}))
    assert [len(p["imageIds"]) for p in pages] == [2, 2, 1]
    assert sorted(json.dumps(i, sort_keys=True) for p in pages for i in p["imageIds"]) == \
        sorted(json.dumps(i, sort_keys=True) for i in ids)


def test_describe_images_details_filters_and_errors(boto, pushed):
    images, untagged = pushed
    details = {d["imageDigest"]: d for d in boto.describe_images(repositoryName=REPO)["imageDetails"]}
    first = details[images[0].digest]
    assert sorted(first["imageTags"]) == ["latest", "v0"]
    layers = json.loads(images[0].manifest)["layers"]
    assert first["imageSizeInBytes"] == sum(layer["size"] for layer in layers)
    assert first["imageManifestMediaType"] == images[0].media_type
    assert first["artifactMediaType"] == json.loads(images[0].manifest)["config"]["mediaType"]
    assert "imageTags" not in details[untagged.digest]
    assert "lastRecordedPullTime" not in first

    one = boto.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "v1"}])["imageDetails"]
    assert [d["imageDigest"] for d in one] == [images[1].digest]
    pages = list(boto.get_paginator("describe_images").paginate(
        repositoryName=REPO, PaginationConfig={"PageSize": 3}))
    assert sum(len(p["imageDetails"]) for p in pages) == 4
    with pytest.raises(ClientError) as missing:
        boto.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "nope"}])
    assert code(missing) == "ImageNotFoundException"
    with pytest.raises(ClientError) as no_repo:
        boto.describe_images(repositoryName="team/none")
    assert code(no_repo) == "RepositoryNotFoundException"


def test_batch_get_image_records_the_pull_and_reports_failures(boto, pushed):
    images, _ = pushed
    got = boto.batch_get_image(repositoryName=REPO, imageIds=[
        {"imageTag": "v1"}, {"imageTag": "missing"},
        {"imageDigest": images[2].digest, "imageTag": "v1"},
        {"imageDigest": "sha256:nothex"}])
    assert [i["imageManifest"].encode() for i in got["images"]] == [images[1].manifest]
    assert got["images"][0]["imageId"] == {"imageDigest": images[1].digest, "imageTag": "v1"}
    assert sorted(f["failureCode"] for f in got["failures"]) == [
        "ImageNotFound", "ImageTagDoesNotMatchDigest", "InvalidImageDigest"]
    only_docker = boto.batch_get_image(
        repositoryName=REPO, imageIds=[{"imageTag": "v1"}],
        acceptedMediaTypes=["application/vnd.docker.distribution.manifest.v2+json"])
    assert only_docker["images"] == [] and only_docker["failures"][0]["failureCode"] == \
        "UnsupportedImageType"
    pulled = boto.describe_images(repositoryName=REPO, imageIds=[{"imageTag": "v1"}])
    assert "lastRecordedPullTime" in pulled["imageDetails"][0]


def test_batch_delete_image_by_tag_and_digest(boto, oci: Oci, pushed):
    images, _ = pushed
    # untag: the image stays while another tag points to it
    out = boto.batch_delete_image(repositoryName=REPO, imageIds=[{"imageTag": "latest"}])
    assert out["imageIds"] == [{"imageDigest": images[0].digest, "imageTag": "latest"}]
    assert boto.describe_images(repositoryName=REPO, imageIds=[{"imageDigest": images[0].digest}])
    # last tag: the image goes
    boto.batch_delete_image(repositoryName=REPO, imageIds=[{"imageTag": "v0"}])
    with pytest.raises(ClientError):
        boto.describe_images(repositoryName=REPO, imageIds=[{"imageDigest": images[0].digest}])
    # by digest: the image and all its tags
    out = boto.batch_delete_image(repositoryName=REPO, imageIds=[
        {"imageDigest": images[1].digest}, {"imageTag": "gone"}])
    assert out["imageIds"] == [{"imageDigest": images[1].digest, "imageTag": "v1"}]
    assert out["failures"][0]["failureCode"] == "ImageNotFound"
    # an image an index refers to is refused
    index = index_of([images[2]])
    oci.push_image(REPO, index, "multi")
    refused = boto.batch_delete_image(repositoryName=REPO,
                                      imageIds=[{"imageDigest": images[2].digest}])
    assert refused["failures"][0]["failureCode"] == "ImageReferencedByManifestList"


def test_put_image_and_its_errors(boto, oci: Oci):
    boto.create_repository(repositoryName=REPO, imageTagMutability="IMMUTABLE")
    image, other = oci_image("put"), oci_image("other")
    for blob_image in (image, other):
        for digest, data in blob_image.blobs.items():
            oci.push_blob(REPO, data, digest)
    put = boto.put_image(repositoryName=REPO, imageManifest=image.manifest.decode(), imageTag="v1")
    assert put["image"]["imageId"] == {"imageDigest": image.digest, "imageTag": "v1"}
    assert put["image"]["imageManifestMediaType"] == image.media_type
    cases = [
        ({"imageManifest": image.manifest.decode(), "imageTag": "v1"}, "ImageAlreadyExistsException"),
        ({"imageManifest": other.manifest.decode(), "imageTag": "v1"}, "ImageTagAlreadyExistsException"),
        ({"imageManifest": other.manifest.decode(), "imageDigest": image.digest},
         "ImageDigestDoesNotMatchException"),
        ({"imageManifest": oci_image("no-blobs").manifest.decode(), "imageTag": "x"},
         "LayersNotFoundException"),
        ({"imageManifest": index_of([oci_image("absent")]).manifest.decode(), "imageTag": "i"},
         "ReferencedImagesNotFoundException"),
        ({"imageManifest": "{not json", "imageTag": "bad"}, "InvalidParameterException"),
    ]
    for params, expected in cases:
        with pytest.raises(ClientError) as info:
            boto.put_image(repositoryName=REPO, **params)
        assert code(info) == expected, (params, info.value)
    assert oci.get(f"/v2/{REPO}/manifests/v1").content == image.manifest


def test_layer_upload_api_round_trip(boto, oci: Oci):
    boto.create_repository(repositoryName=REPO)
    data = bytes(range(256)) * 1000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    upload = boto.initiate_layer_upload(repositoryName=REPO)
    assert upload["partSize"] > 0
    first = boto.upload_layer_part(repositoryName=REPO, uploadId=upload["uploadId"],
                                   partFirstByte=0, partLastByte=99_999, layerPartBlob=data[:100_000])
    assert first["lastByteReceived"] == 99_999
    with pytest.raises(ClientError) as gap:
        boto.upload_layer_part(repositoryName=REPO, uploadId=upload["uploadId"],
                               partFirstByte=100_001, partLastByte=100_010,
                               layerPartBlob=data[100_001:100_011])
    assert code(gap) == "InvalidLayerPartException"
    boto.upload_layer_part(repositoryName=REPO, uploadId=upload["uploadId"],
                           partFirstByte=100_000, partLastByte=len(data) - 1,
                           layerPartBlob=data[100_000:])
    with pytest.raises(ClientError) as wrong:
        boto.complete_layer_upload(repositoryName=REPO, uploadId=upload["uploadId"],
                                   layerDigests=["sha256:" + "0" * 64])
    assert code(wrong) == "InvalidLayerException"
    done = boto.complete_layer_upload(repositoryName=REPO, uploadId=upload["uploadId"],
                                      layerDigests=[digest])
    assert done["layerDigest"] == digest
    assert oci.get(f"/v2/{REPO}/blobs/{digest}").content == data

    again = boto.initiate_layer_upload(repositoryName=REPO)
    boto.upload_layer_part(repositoryName=REPO, uploadId=again["uploadId"], partFirstByte=0,
                           partLastByte=len(data) - 1, layerPartBlob=data)
    with pytest.raises(ClientError) as exists:
        boto.complete_layer_upload(repositoryName=REPO, uploadId=again["uploadId"],
                                   layerDigests=[digest])
    assert code(exists) == "LayerAlreadyExistsException"
    empty = boto.initiate_layer_upload(repositoryName=REPO)
    with pytest.raises(ClientError) as nothing:
        boto.complete_layer_upload(repositoryName=REPO, uploadId=empty["uploadId"],
                                   layerDigests=[digest])
    assert code(nothing) == "EmptyUploadException"
    with pytest.raises(ClientError) as unknown:
        boto.upload_layer_part(repositoryName=REPO, uploadId="00000000-0000-0000-0000-000000000000",
                               partFirstByte=0, partLastByte=0, layerPartBlob=b"x")
    assert code(unknown) == "UploadNotFoundException"

    check = boto.batch_check_layer_availability(repositoryName=REPO,
                                                layerDigests=[digest, "sha256:" + "1" * 64, "bad"])
    assert {(layer["layerDigest"], layer["layerAvailability"]) for layer in check["layers"]} == {
        (digest, "AVAILABLE"), ("sha256:" + "1" * 64, "UNAVAILABLE")}
    assert check["failures"][0]["failureCode"] == "InvalidLayerDigest"


def test_download_url_serves_the_layer_until_it_is_tampered_with(boto, oci: Oci, client):
    boto.create_repository(repositoryName=REPO)
    image = oci_image("url")
    oci.push_image(REPO, image, "v1")
    layer = json.loads(image.manifest)["layers"][0]["digest"]
    url = boto.get_download_url_for_layer(repositoryName=REPO, layerDigest=layer)["downloadUrl"]
    parts = urllib.parse.urlsplit(url)
    path = f"{parts.path}?{parts.query}"
    fetched = client.get(path)
    assert fetched.status_code == 200 and sha256(fetched.content) == layer
    assert client.get(path.replace("signature=", "signature=x")).status_code == 403
    with pytest.raises(ClientError) as missing:
        boto.get_download_url_for_layer(repositoryName=REPO, layerDigest="sha256:" + "2" * 64)
    assert code(missing) == "LayersNotFoundException"


def test_list_image_referrers(boto, oci: Oci):
    boto.create_repository(repositoryName=REPO)
    subject = oci_image("subject")
    oci.push_image(REPO, subject, "v1")
    signature = oci_image("sig", subject=subject, artifact_type="application/vnd.example.sig")
    sbom = oci_image("sbom", subject=subject, artifact_type="application/spdx+json")
    oci.push_image(REPO, signature)
    oci.push_image(REPO, sbom)
    found = boto.list_image_referrers(repositoryName=REPO, subjectId={"imageDigest": subject.digest})
    assert {r["digest"] for r in found["referrers"]} == {signature.digest, sbom.digest}
    only = boto.list_image_referrers(repositoryName=REPO, subjectId={"imageDigest": subject.digest},
                                     filter={"artifactTypes": ["application/spdx+json"]})
    assert [r["artifactType"] for r in only["referrers"]] == ["application/spdx+json"]
