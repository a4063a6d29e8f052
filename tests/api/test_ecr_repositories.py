"""ECR repository operations over the AWS JSON 1.1 protocol, signed with botocore's SigV4."""

from __future__ import annotations

import base64
import time

import pytest

from .conftest import KEY_ID, REGION, Ecr, Oci, assert_aws_error, basic, oci_image


def test_create_repository_with_every_option(ecr: Ecr, registry_id: str, settings) -> None:
    before = time.time()
    repo = ecr.create_repository(
        "team/full",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest*"},
                                            {"filterType": "WILDCARD", "filter": "dev-*"}],
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS",
                                 "kmsKey": f"arn:aws:kms:{REGION}:{registry_id}:key/abcd"},
        tags=[{"Key": "team", "Value": "platform"}, {"Key": "env", "Value": ""}],
    )
    expected = {
        "repositoryArn": f"arn:aws:ecr:{REGION}:{registry_id}:repository/team/full",
        "registryId": registry_id,
        "repositoryName": "team/full",
        "repositoryUri": f"{settings.registry_host}/team/full",
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "latest*"},
                                               {"filterType": "WILDCARD", "filter": "dev-*"}],
        "imageScanningConfiguration": {"scanOnPush": True},
        "encryptionConfiguration": {"encryptionType": "KMS",
                                    "kmsKey": f"arn:aws:kms:{REGION}:{registry_id}:key/abcd"},
    }
    created_at = repo.pop("createdAt")
    assert before - 1 <= created_at <= time.time() + 1
    assert repo == expected
    described = ecr.ok("DescribeRepositories", repositoryNames=["team/full"])["repositories"]
    assert len(described) == 1
    assert described[0].pop("createdAt") == created_at
    assert described[0] == expected


def test_create_repository_defaults(ecr: Ecr, registry_id: str) -> None:
    repo = ecr.create_repository("plain")
    assert repo["imageTagMutability"] == "MUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": False}
    assert repo["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert repo["registryId"] == registry_id
    assert "imageTagMutabilityExclusionFilters" not in repo


def test_create_repository_with_own_registry_id(ecr: Ecr, registry_id: str) -> None:
    assert ecr.create_repository("mine", registryId=registry_id)["registryId"] == registry_id
    assert_aws_error(ecr.call("CreateRepository", repositoryName="theirs", registryId="999999999999"),
                     "InvalidParameterException", 400)


def test_resource_tags_are_stored(ecr: Ecr, app) -> None:
    ecr.create_repository("tagged", tags=[{"Key": "team", "Value": "platform"}])
    stored = app.services.repositories.store.get_repository("tagged")
    assert list(stored.tags) == [{"Key": "team", "Value": "platform"}]


def test_create_existing_repository(ecr: Ecr, registry_id: str) -> None:
    ecr.create_repository("dup")
    message = assert_aws_error(ecr.call("CreateRepository", repositoryName="dup"),
                               "RepositoryAlreadyExistsException", 400)
    assert message == (f"The repository with name 'dup' already exists in the registry with id "
                       f"'{registry_id}'")


@pytest.mark.parametrize("name", ["A", "Upper", "a..b", "a/", "/a", "a" * 257, "ab\n", ""])
def test_create_repository_with_an_invalid_name(ecr: Ecr, name: str) -> None:
    r = ecr.call("CreateRepository", repositoryName=name)
    assert r.status_code == 400, r.text
    assert r.json()["__type"] in ("InvalidParameterException", "ValidationException")
    listed = ecr.ok("DescribeRepositories")["repositories"]
    assert listed == []


@pytest.mark.parametrize("params,error", [
    ({}, "InvalidParameterException"),
    ({"repositoryName": 5}, "ValidationException"),
    ({"repositoryName": "x1", "imageTagMutability": "FROZEN"}, "InvalidParameterException"),
    ({"repositoryName": "x1", "encryptionConfiguration": {"encryptionType": "ROT13"}},
     "InvalidParameterException"),
    ({"repositoryName": "x1", "encryptionConfiguration": {"encryptionType": "AES256",
                                                          "kmsKey": "arn:aws:kms:x"}},
     "InvalidParameterException"),
    ({"repositoryName": "x1", "tags": [{"Value": "no key"}]}, "InvalidParameterException"),
    ({"repositoryName": "x1", "tags": "team=x"}, "ValidationException"),
])
def test_create_repository_parameter_validation(ecr: Ecr, params: dict, error: str) -> None:
    assert_aws_error(ecr.call("CreateRepository", **params), error, 400)


def test_describe_repositories_pagination(ecr: Ecr) -> None:
    names = [f"repo-{i:02d}" for i in range(7)]
    for name in reversed(names):
        ecr.create_repository(name)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"maxResults": 3}
        if token:
            params["nextToken"] = token
        page = ecr.ok("DescribeRepositories", **params)
        assert len(page["repositories"]) <= 3
        seen += [r["repositoryName"] for r in page["repositories"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names
    assert pages == 3
    everything = ecr.ok("DescribeRepositories")
    assert [r["repositoryName"] for r in everything["repositories"]] == names
    assert "nextToken" not in everything


def test_describe_repositories_exact_page_size_has_no_dangling_token(ecr: Ecr) -> None:
    for name in ("aa", "bb", "cc", "dd"):
        ecr.create_repository(name)
    first = ecr.ok("DescribeRepositories", maxResults=2)
    second = ecr.ok("DescribeRepositories", maxResults=2, nextToken=first["nextToken"])
    assert [r["repositoryName"] for r in second["repositories"]] == ["cc", "dd"]
    assert "nextToken" not in second


def test_describe_repositories_by_name(ecr: Ecr, registry_id: str) -> None:
    for name in ("one", "two", "three"):
        ecr.create_repository(name)
    got = ecr.ok("DescribeRepositories", repositoryNames=["three", "one"])["repositories"]
    assert [r["repositoryName"] for r in got] == ["three", "one"]
    message = assert_aws_error(ecr.call("DescribeRepositories", repositoryNames=["one", "missing"]),
                               "RepositoryNotFoundException", 400)
    assert message == (f"The repository with name 'missing' does not exist in the registry with id "
                       f"'{registry_id}'")


@pytest.mark.parametrize("params", [
    {"maxResults": 0},
    {"maxResults": 1001},
    {"repositoryNames": []},
    {"repositoryNames": ["one"], "maxResults": 5},
    {"nextToken": "not-a-token"},
])
def test_describe_repositories_invalid_parameters(ecr: Ecr, params: dict) -> None:
    ecr.create_repository("one")
    r = ecr.call("DescribeRepositories", **params)
    assert r.status_code == 400, r.text
    assert r.json()["__type"] in ("InvalidParameterException", "ValidationException")


def test_delete_empty_repository(ecr: Ecr, oci: Oci) -> None:
    created = ecr.create_repository("gone")
    deleted = ecr.ok("DeleteRepository", repositoryName="gone")["repository"]
    assert deleted["repositoryName"] == "gone"
    assert deleted["repositoryArn"] == created["repositoryArn"]
    assert ecr.ok("DescribeRepositories")["repositories"] == []
    assert_aws_error(ecr.call("DeleteRepository", repositoryName="gone"), "RepositoryNotFoundException", 400)
    assert oci.get("/v2/gone/tags/list").status_code == 404


def test_delete_repository_with_images_needs_force(ecr: Ecr, oci: Oci) -> None:
    ecr.create_repository("full")
    image = oci_image("keep")
    oci.push_image("full", image, "v1")
    assert_aws_error(ecr.call("DeleteRepository", repositoryName="full"), "RepositoryNotEmptyException", 400)
    assert oci.get("/v2/full/manifests/v1").status_code == 200
    assert_aws_error(ecr.call("DeleteRepository", repositoryName="full", force=False),
                     "RepositoryNotEmptyException", 400)
    assert ecr.ok("DeleteRepository", repositoryName="full", force=True)["repository"]["repositoryName"] == "full"
    assert oci.get("/v2/full/manifests/v1").status_code == 404
    assert oci.get(f"/v2/full/blobs/{next(iter(image.blobs))}").status_code == 404
    # a new repository with the same name starts empty
    ecr.create_repository("full")
    assert oci.get("/v2/full/manifests/v1").status_code == 404
    assert oci.get(f"/v2/full/blobs/{next(iter(image.blobs))}").status_code == 404
    assert oci.get("/v2/full/tags/list").json()["tags"] == []


def test_delete_repository_with_only_blobs_or_uploads_is_allowed(ecr: Ecr, oci: Oci) -> None:
    ecr.create_repository("blobs")
    oci.push_blob("blobs", b"orphan")
    oci.start_upload("blobs")
    assert ecr.ok("DeleteRepository", repositoryName="blobs")["repository"]["repositoryName"] == "blobs"


def test_get_authorization_token(ecr: Ecr, client, settings) -> None:
    before = time.time()
    data = ecr.ok("GetAuthorizationToken")["authorizationData"]
    assert len(data) == 1
    entry = data[0]
    assert set(entry) == {"authorizationToken", "expiresAt", "proxyEndpoint"}
    assert entry["proxyEndpoint"] == settings.endpoint
    assert before + 11 * 3600 < entry["expiresAt"] <= time.time() + 12 * 3600 + 1
    user, _, password = base64.b64decode(entry["authorizationToken"]).decode().partition(":")
    assert user == "AWS"
    assert password and ":" not in password
    oci = Oci(client, password)
    assert oci.get("/v2/").status_code == 200
    assert oci.get("/v2/", auth=basic("AWS", password + "x")).status_code == 401


def test_get_authorization_token_with_registry_ids(ecr: Ecr, registry_id: str) -> None:
    r = ecr.call("GetAuthorizationToken", registryIds=[registry_id])
    assert r.status_code == 200, r.text
    assert len(r.json()["authorizationData"]) == 1


def test_unknown_key_is_unrecognized(client) -> None:
    other = Ecr(client, key_id="AKIANOSUCHKEY0000000", secret="whatever")
    assert_aws_error(other.call("DescribeRepositories"), "UnrecognizedClientException", 403)


def test_wrong_secret_is_an_invalid_signature(client) -> None:
    other = Ecr(client, key_id=KEY_ID, secret="not-the-secret")
    r = other.call("DescribeRepositories")
    assert r.status_code == 403, r.text
    assert r.json()["__type"] in ("InvalidSignatureException", "SignatureDoesNotMatch")


@pytest.mark.parametrize("name", ["my__repo", "my--repo", "team/a---b"])
def test_names_allowed_by_ecr_s_model(ecr: Ecr, oci: Oci, name: str) -> None:
    """botocore's ECR model: ``[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*``."""
    r = ecr.call("CreateRepository", repositoryName=name)
    assert r.status_code == 200, r.text
    image = oci_image(name)
    oci.push_image(name, image, "v1")
    assert oci.get(f"/v2/{name}/manifests/v1").content == image.manifest


@pytest.mark.parametrize("value", ["false", "yes", 1])
def test_scan_on_push_must_be_a_boolean(ecr: Ecr, value) -> None:
    """``{"scanOnPush": "false"}`` must not turn scanning on: the model says Boolean."""
    r = ecr.call("CreateRepository", repositoryName="scan", imageScanningConfiguration={"scanOnPush": value})
    if r.status_code == 200:
        assert r.json()["repository"]["imageScanningConfiguration"]["scanOnPush"] is False, r.text
    else:
        assert_aws_error(r, "ValidationException", 400)


def test_authorization_token_lifetime_follows_the_settings(tmp_path) -> None:
    from starlette.testclient import TestClient

    from dockyard.app import bootstrap, create_app

    from .conftest import make_settings

    settings = make_settings(tmp_path / "ttl").model_copy(update={"token_ttl_seconds": 3600})
    bootstrap(settings)
    with TestClient(create_app(settings)) as client:
        before = time.time()
        entry = Ecr(client).ok("GetAuthorizationToken")["authorizationData"][0]
        assert before + 3600 - 5 <= entry["expiresAt"] <= time.time() + 3600 + 1
