"""The `aws ecr` API against the live server, with the real aws CLI and boto3."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import botocore.auth
import httpx
import pytest
from botocore.exceptions import ClientError

from .clients import aws, skopeo
from .conftest import ecr_client
from .images import unique, write_dir_image
from .servers import DockyardProcess

pytestmark = pytest.mark.e2e

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _error_code(excinfo: pytest.ExceptionInfo[ClientError]) -> str:
    return excinfo.value.response["Error"]["Code"]


def _cli_json(env: dict[str, str], *args: str) -> dict:
    return json.loads(aws(env, "ecr", *args).stdout)


def _cli_error(env: dict[str, str], *args: str) -> str:
    result = aws(env, "ecr", *args, check=False)
    assert result.returncode != 0, result.stdout
    return result.stderr


# --- CreateRepository / DescribeRepositories -----------------------------------------------------
def test_create_repository_with_every_option_cli(dockyard_server: DockyardProcess) -> None:
    env = dockyard_server.env()
    name = unique("team/options")
    created = _cli_json(env, "create-repository", "--repository-name", name,
                        "--tags", "Key=team,Value=core", "Key=env,Value=e2e",
                        "--encryption-configuration", f"encryptionType=KMS,kmsKey={KMS_KEY}",
                        "--image-tag-mutability", "IMMUTABLE",
                        "--image-scanning-configuration", "scanOnPush=true")["repository"]
    described = _cli_json(env, "describe-repositories", "--repository-names",
                          name)["repositories"]
    assert len(described) == 1
    repo = described[0]
    assert repo == created
    assert repo["repositoryName"] == name
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repo["encryptionConfiguration"] == {"encryptionType": "KMS", "kmsKey": KMS_KEY}
    assert repo["registryId"].isdigit() and len(repo["registryId"]) == 12
    assert repo["repositoryArn"] == (f"arn:aws:ecr:us-east-1:{repo['registryId']}:"
                                     f"repository/{name}")
    assert repo["repositoryUri"] == f"{dockyard_server.host}/{name}"
    tags = _cli_json(env, "list-tags-for-resource", "--resource-arn", repo["repositoryArn"])
    assert sorted((t["Key"], t["Value"]) for t in tags["tags"]) == [("env", "e2e"),
                                                                    ("team", "core")]

    again = _cli_error(env, "create-repository", "--repository-name", name)
    assert "RepositoryAlreadyExistsException" in again
    assert (f"The repository with name '{name}' already exists in the registry with id "
            f"'{repo['registryId']}'") in again


def test_create_repository_defaults_boto3(dockyard_server: DockyardProcess) -> None:
    ecr = ecr_client(dockyard_server)
    name = unique("defaults")
    before = datetime.now(timezone.utc)
    repo = ecr.create_repository(repositoryName=name)["repository"]
    assert repo["imageTagMutability"] == "MUTABLE"
    assert repo["imageScanningConfiguration"] == {"scanOnPush": False}
    assert repo["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert before - timedelta(seconds=5) <= repo["createdAt"] <= datetime.now(timezone.utc) \
        + timedelta(seconds=5)
    described = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert described == [repo]


# botocore's ECR model is the spec: 2-256 characters matching RepositoryName's pattern
VALID_NAMES = ["ab", "a" * 256, "a-b_c.d/e", "team/sub/app", "0x/1y", "a__b", "a--b", "a---b"]
INVALID_NAMES = ["a", "a" * 257, "Upper", "UPPER/case", "-lead", "trail-", "a..b", "a___b",
                 "a_-b", "double//slash", "trailing/", "/leading", "sp ace", "a:b", "é"]


def _model_accepts(name: str) -> bool:
    import re

    import botocore.session

    shape = botocore.session.get_session().get_service_model("ecr").shape_for("RepositoryName")
    return (shape.metadata["min"] <= len(name) <= shape.metadata["max"]
            and re.fullmatch(shape.metadata["pattern"], name) is not None)


def test_name_lists_agree_with_botocore_model() -> None:
    assert all(_model_accepts(n) for n in VALID_NAMES)
    assert not any(_model_accepts(n) for n in INVALID_NAMES)


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_repository_names(dockyard_server: DockyardProcess, name: str) -> None:
    ecr = ecr_client(dockyard_server, validate=False)
    try:
        ecr.create_repository(repositoryName=name)
    except ecr.exceptions.RepositoryAlreadyExistsException:
        pass
    assert ecr.describe_repositories(repositoryNames=[name])["repositories"][0][
        "repositoryName"] == name
    ecr.delete_repository(repositoryName=name)


@pytest.mark.parametrize("name", INVALID_NAMES)
def test_invalid_repository_names(dockyard_server: DockyardProcess, name: str) -> None:
    ecr = ecr_client(dockyard_server, validate=False)
    with pytest.raises(ClientError) as excinfo:
        ecr.create_repository(repositoryName=name)
    code = _error_code(excinfo)
    if name.lower() == name and 2 <= len(name) <= 256:
        assert code == "InvalidParameterException", excinfo.value.response
    else:
        # ECR answers length violations with ValidationException or InvalidParameterException
        assert code in ("InvalidParameterException", "ValidationException"), excinfo.value.response
    assert "repositoryName" in excinfo.value.response["Error"]["Message"]


def test_uppercase_name_is_invalid_parameter(dockyard_server: DockyardProcess) -> None:
    ecr = ecr_client(dockyard_server, validate=False)
    with pytest.raises(ClientError) as excinfo:
        ecr.create_repository(repositoryName="Demo-App")
    assert _error_code(excinfo) == "InvalidParameterException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_describe_repositories_pagination(dockyard_server: DockyardProcess) -> None:
    ecr = ecr_client(dockyard_server)
    env = dockyard_server.env()
    mine = sorted(unique(f"page{n}") for n in range(5))
    for name in mine:
        ecr.create_repository(repositoryName=name)

    everything = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert "nextToken" not in ecr.describe_repositories()
    assert set(mine) <= set(everything)
    assert len(everything) > 3

    pages, token = [], None
    while True:
        kwargs = {"maxResults": 2, **({"nextToken": token} if token else {})}
        page = ecr.describe_repositories(**kwargs)
        assert 1 <= len(page["repositories"]) <= 2
        pages.append([r["repositoryName"] for r in page["repositories"]])
        token = page.get("nextToken")
        if not token:
            break
        assert len(pages) <= len(everything)
    flat = [name for page in pages for name in page]
    assert flat == everything  # every repository exactly once, in the same order
    assert len(pages) == (len(everything) + 1) // 2

    # the aws CLI: --page-size sets maxResults and follows nextToken itself
    assert [r["repositoryName"] for r in _cli_json(env, "describe-repositories", "--page-size",
                                                   "2")["repositories"]] == everything
    # --max-items hands out a NextToken, --starting-token resumes from it
    first = _cli_json(env, "describe-repositories", "--page-size", "2", "--max-items", "3")
    assert len(first["repositories"]) == 3 and first.get("NextToken")
    rest = _cli_json(env, "describe-repositories", "--page-size", "2",
                     "--starting-token", first["NextToken"])
    assert [r["repositoryName"] for r in first["repositories"] + rest["repositories"]] == everything

    # by name
    chosen = [mine[3], mine[1]]
    named = ecr.describe_repositories(repositoryNames=chosen)["repositories"]
    assert sorted(r["repositoryName"] for r in named) == sorted(chosen)
    cli_named = _cli_json(env, "describe-repositories", "--repository-names", *chosen)
    assert sorted(r["repositoryName"] for r in cli_named["repositories"]) == sorted(chosen)

    missing = unique("missing")
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories(repositoryNames=[mine[0], missing])
    assert _error_code(excinfo) == "RepositoryNotFoundException"
    assert f"'{missing}'" in excinfo.value.response["Error"]["Message"]
    assert "RepositoryNotFoundException" in _cli_error(env, "describe-repositories",
                                                       "--repository-names", missing)
    for name in mine:
        ecr.delete_repository(repositoryName=name)


# --- DeleteRepository ----------------------------------------------------------------------------
def test_delete_repository_needs_force_when_it_holds_images(dockyard_server: DockyardProcess,
                                                            registry_password: str,
                                                            tmp_path: Path) -> None:
    ecr = ecr_client(dockyard_server)
    env = dockyard_server.env()
    name = unique("full")
    ecr.create_repository(repositoryName=name)
    creds = f"AWS:{registry_password}"
    ref = f"docker://{dockyard_server.host}/{name}:v1"
    image = write_dir_image(tmp_path / "image")
    skopeo("copy", "--dest-tls-verify=false", "--dest-creds", creds, "--preserve-digests",
           f"dir:{tmp_path / 'image'}", ref)

    with pytest.raises(ClientError) as excinfo:
        ecr.delete_repository(repositoryName=name)
    assert _error_code(excinfo) == "RepositoryNotEmptyException"
    assert "RepositoryNotEmptyException" in _cli_error(env, "delete-repository",
                                                       "--repository-name", name)
    # still there, image and all
    assert skopeo("inspect", "--tls-verify=false", "--creds", creds, ref).returncode == 0

    deleted = _cli_json(env, "delete-repository", "--repository-name", name, "--force")
    assert deleted["repository"]["repositoryName"] == name
    gone = skopeo("copy", "--src-tls-verify=false", "--src-creds", creds, ref,
                  f"dir:{tmp_path / 'pulled'}", check=False)
    assert gone.returncode != 0
    assert "name unknown" in gone.stderr, gone.stderr

    # a new repository of the same name does not bring the old images back
    ecr.create_repository(repositoryName=name)
    again = skopeo("inspect", "--tls-verify=false", "--creds", creds,
                   f"docker://{dockyard_server.host}/{name}@{image.digest}", check=False)
    assert again.returncode != 0
    assert "manifest unknown" in again.stderr, again.stderr
    ecr.delete_repository(repositoryName=name)

    with pytest.raises(ClientError) as excinfo:
        ecr.delete_repository(repositoryName=name)
    assert _error_code(excinfo) == "RepositoryNotFoundException"


# --- GetAuthorizationToken -----------------------------------------------------------------------
def test_get_authorization_token_shape(dockyard_server: DockyardProcess) -> None:
    ecr = ecr_client(dockyard_server)
    data = ecr.get_authorization_token()["authorizationData"]
    assert len(data) == 1
    token = data[0]
    user, sep, password = base64.b64decode(token["authorizationToken"]).decode().partition(":")
    assert (user, sep) == ("AWS", ":")
    assert password and ":" not in password
    now = datetime.now(timezone.utc)
    assert timedelta(hours=11, minutes=55) <= token["expiresAt"] - now <= timedelta(hours=12,
                                                                                    minutes=5)
    assert token["proxyEndpoint"] == dockyard_server.endpoint

    # the password opens the registry
    response = httpx.get(f"{dockyard_server.endpoint}/v2/", auth=("AWS", password))
    assert response.status_code == 200

    # the aws CLI sees the same shape
    cli = _cli_json(dockyard_server.env(), "get-authorization-token")["authorizationData"][0]
    assert base64.b64decode(cli["authorizationToken"]).decode().startswith("AWS:")
    assert cli["proxyEndpoint"] == dockyard_server.endpoint


# --- SigV4 -------------------------------------------------------------------------------------
def test_wrong_secret_is_invalid_signature(dockyard_server: DockyardProcess) -> None:
    ecr = ecr_client(dockyard_server, secret_access_key="x" * 40)
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories()
    assert _error_code(excinfo) == "InvalidSignatureException"
    assert "signature we calculated does not match" in excinfo.value.response["Error"]["Message"]
    stderr = _cli_error(dockyard_server.env(secret_access_key="y" * 40), "describe-repositories")
    assert "InvalidSignatureException" in stderr


def test_unknown_access_key_is_unrecognized_client(dockyard_server: DockyardProcess) -> None:
    ecr = ecr_client(dockyard_server, access_key_id="AKIAUNKNOWNKEY000000")
    with pytest.raises(ClientError) as excinfo:
        ecr.get_authorization_token()
    assert _error_code(excinfo) == "UnrecognizedClientException"
    stderr = _cli_error(dockyard_server.env(access_key_id="AKIAUNKNOWNKEY000001"),
                        "get-login-password")
    assert "UnrecognizedClientException" in stderr


@pytest.mark.parametrize("skew", [timedelta(minutes=-20), timedelta(minutes=20)])
def test_signature_outside_15_minutes_is_expired(dockyard_server: DockyardProcess,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 skew: timedelta) -> None:
    """A request signed 20 minutes away from the server's clock (botocore's signing clock moved)."""
    ecr = ecr_client(dockyard_server)
    ecr.describe_repositories(maxResults=1)  # fine with the real clock
    real = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: real() + skew)
    with pytest.raises(ClientError) as excinfo:
        ecr.describe_repositories(maxResults=1)
    assert _error_code(excinfo) == "InvalidSignatureException"
    assert "Signature expired" in excinfo.value.response["Error"]["Message"]


def test_unsigned_request_is_refused(dockyard_server: DockyardProcess) -> None:
    response = httpx.post(dockyard_server.endpoint + "/", content=b"{}", headers={
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
        "Content-Type": "application/x-amz-json-1.1"})
    assert response.status_code in (400, 403)
    assert response.json()["__type"] == "MissingAuthenticationTokenException"
