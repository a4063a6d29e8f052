"""Repository settings, resource tags, policies and account settings through boto3, against a live
``python -m dockyard serve`` (one per module), plus the services' own authorization checks."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from dockyard.app import bootstrap, build_services
from dockyard.domain.models import Principal
from dockyard.errors import AccessDenied
from dockyard.services import Services
from dockyard.settings import Settings
from e2e.servers import DockyardProcess

from .live_server import live_server, running

KEY_ID = "AKIASETTINGSTEST0001"
SECRET = "settingsTestSecretKey/0123456789abcdefGH"
REGION = "us-east-1"
INVALID_POLICY = "Invalid parameter at 'PolicyText' failed to satisfy constraint: "


# --- the live server ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockyardProcess]:
    with running(live_server(tmp_path_factory.mktemp("ecr-settings"), KEY_ID, SECRET,
                             REGION)) as server:
        yield server


@pytest.fixture(scope="module")
def ecr(live: DockyardProcess) -> Any:
    """boto3's ECR client, without client-side validation so that the server's is what is tested."""
    return boto3.client("ecr", endpoint_url=live.endpoint, region_name=REGION,
                        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                        config=Config(parameter_validation=False, retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def registry_id(ecr: Any) -> str:
    return ecr.describe_registry()["registryId"]


@pytest.fixture(scope="module")
def http(live: DockyardProcess, ecr: Any) -> Iterator[httpx.Client]:
    """An OCI client logged in with a registry password from GetAuthorizationToken."""
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, _, password = base64.b64decode(token).decode().partition(":")
    assert user == "AWS"
    with httpx.Client(base_url=live.endpoint, auth=(user, password), timeout=30) as client:
        yield client


def new_repo(ecr: Any, prefix: str = "settings", **params: Any) -> dict[str, Any]:
    return ecr.create_repository(repositoryName=f"{prefix}/{uuid.uuid4().hex[:10]}",
                                 **params)["repository"]


def expect_error(code: str, call: Callable[..., Any], **params: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**params)
    error = info.value.response["Error"]
    assert error["Code"] == code, (error, params)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Message"]
    return error["Message"]


def describe(ecr: Any, name: str) -> dict[str, Any]:
    return ecr.describe_repositories(repositoryNames=[name])["repositories"][0]


def wildcard(*patterns: str) -> list[dict[str, str]]:
    return [{"filterType": "WILDCARD", "filter": p} for p in patterns]


# --- PutImageTagMutability ------------------------------------------------------------------------
@pytest.mark.parametrize("mode, filters", [
    ("MUTABLE", None), ("IMMUTABLE", None),
    ("IMMUTABLE_WITH_EXCLUSION", wildcard("dev-*", "latest")),
    ("MUTABLE_WITH_EXCLUSION", wildcard("v*.*.*", "*-release", "a", "b", "c")),
])
def test_put_image_tag_mutability_modes(ecr: Any, registry_id: str, mode: str,
                                        filters: list[dict[str, str]] | None) -> None:
    name = new_repo(ecr)["repositoryName"]
    params: dict[str, Any] = {"repositoryName": name, "imageTagMutability": mode}
    if filters is not None:
        params["imageTagMutabilityExclusionFilters"] = filters
    result = ecr.put_image_tag_mutability(**params)
    result.pop("ResponseMetadata")
    expected: dict[str, Any] = {"registryId": registry_id, "repositoryName": name,
                                "imageTagMutability": mode}
    if filters:
        expected["imageTagMutabilityExclusionFilters"] = filters
    assert result == expected
    repo = describe(ecr, name)
    assert repo["imageTagMutability"] == mode
    assert repo.get("imageTagMutabilityExclusionFilters") == filters


def test_put_image_tag_mutability_back_to_mutable_drops_the_filters(ecr: Any) -> None:
    name = new_repo(ecr, imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                    imageTagMutabilityExclusionFilters=wildcard("dev-*"))["repositoryName"]
    assert describe(ecr, name)["imageTagMutabilityExclusionFilters"] == wildcard("dev-*")
    ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="MUTABLE")
    repo = describe(ecr, name)
    assert repo["imageTagMutability"] == "MUTABLE"
    assert "imageTagMutabilityExclusionFilters" not in repo


def test_a_filter_may_have_128_characters_and_wildcards(ecr: Any) -> None:
    name = new_repo(ecr)["repositoryName"]
    long_filter = "a" * 127 + "*"
    result = ecr.put_image_tag_mutability(repositoryName=name,
                                          imageTagMutability="MUTABLE_WITH_EXCLUSION",
                                          imageTagMutabilityExclusionFilters=wildcard(long_filter, "*"))
    assert result["imageTagMutabilityExclusionFilters"] == wildcard(long_filter, "*")


BAD_MUTABILITY = [
    pytest.param({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION"}, "requires", id="exclusion-without-filters"),
    pytest.param({"imageTagMutability": "MUTABLE_WITH_EXCLUSION"}, "requires", id="mutable-exclusion-without-filters"),
    pytest.param({"imageTagMutability": "IMMUTABLE", "imageTagMutabilityExclusionFilters": wildcard("x")},
                 "can only be given", id="filters-with-immutable"),
    pytest.param({"imageTagMutability": "MUTABLE", "imageTagMutabilityExclusionFilters": wildcard("x")},
                 "can only be given", id="filters-with-mutable"),
    pytest.param({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION", "imageTagMutabilityExclusionFilters": []},
                 "length between 1 and 5", id="empty-filter-list"),
    pytest.param({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                  "imageTagMutabilityExclusionFilters": wildcard(*"abcdef")},
                 "length between 1 and 5", id="six-filters"),
    pytest.param({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                  "imageTagMutabilityExclusionFilters": [{"filterType": "REGEX", "filter": "x"}]},
                 "WILDCARD", id="filter-type"),
    pytest.param({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                  "imageTagMutabilityExclusionFilters": [{"filter": "x"}]},
                 "WILDCARD", id="no-filter-type"),
    pytest.param({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                  "imageTagMutabilityExclusionFilters": wildcard("a" * 129)},
                 "between 1 and 128", id="filter-too-long"),
    pytest.param({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                  "imageTagMutabilityExclusionFilters": wildcard("")},
                 "between 1 and 128", id="empty-filter"),
    pytest.param({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                  "imageTagMutabilityExclusionFilters": wildcard("release/*")},
                 "regular expression", id="slash"),
    pytest.param({"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
                  "imageTagMutabilityExclusionFilters": wildcard("v?")},
                 "regular expression", id="question-mark"),
    pytest.param({"imageTagMutability": "SOMETIMES"}, "enum value set", id="unknown-mode"),
]


@pytest.mark.parametrize("params, message", BAD_MUTABILITY)
def test_put_image_tag_mutability_refuses(ecr: Any, params: dict[str, Any], message: str) -> None:
    repo = new_repo(ecr, imageTagMutability="IMMUTABLE")
    text = expect_error("InvalidParameterException", ecr.put_image_tag_mutability,
                        repositoryName=repo["repositoryName"], **params)
    assert message in text
    assert describe(ecr, repo["repositoryName"])["imageTagMutability"] == "IMMUTABLE"


@pytest.mark.parametrize("params, message", BAD_MUTABILITY)
def test_create_repository_validates_mutability_the_same_way(ecr: Any, params: dict[str, Any],
                                                             message: str) -> None:
    name = f"settings/{uuid.uuid4().hex[:10]}"
    assert message in expect_error("InvalidParameterException", ecr.create_repository,
                                   repositoryName=name, **params)
    expect_error("RepositoryNotFoundException", ecr.describe_repositories, repositoryNames=[name])


def test_put_image_tag_mutability_errors(ecr: Any) -> None:
    expect_error("RepositoryNotFoundException", ecr.put_image_tag_mutability,
                 repositoryName="settings/missing", imageTagMutability="IMMUTABLE")
    expect_error("InvalidParameterException", ecr.put_image_tag_mutability,
                 repositoryName="Not_Valid", imageTagMutability="IMMUTABLE")
    name = new_repo(ecr)["repositoryName"]
    expect_error("InvalidParameterException", ecr.put_image_tag_mutability,
                 repositoryName=name, imageTagMutability="IMMUTABLE", registryId="000000000000")
    expect_error("InvalidParameterException", ecr.put_image_tag_mutability, repositoryName=name)


def _push(http: httpx.Client, repo: str, tag: str, seed: str) -> httpx.Response:
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    layer = f"layer {seed}".encode()
    for blob in (config, layer):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        r = http.post(f"/v2/{repo}/blobs/uploads/?digest={digest}", content=blob)
        assert r.status_code == 201, r.text
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                           "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                            "size": len(layer)}]}
    return http.put(f"/v2/{repo}/manifests/{tag}", content=json.dumps(manifest).encode(),
                    headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})


def test_the_new_mutability_is_enforced_on_push(ecr: Any, http: httpx.Client) -> None:
    name = new_repo(ecr)["repositoryName"]
    for tag in ("v1", "dev-1"):
        assert _push(http, name, tag, "one").status_code == 201
    ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
                                 imageTagMutabilityExclusionFilters=wildcard("dev-*"))
    refused = _push(http, name, "v1", "two")
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["code"] == "TAG_INVALID"
    assert _push(http, name, "dev-1", "two").status_code == 201
    ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="MUTABLE")
    assert _push(http, name, "v1", "two").status_code == 201


# --- PutImageScanningConfiguration ----------------------------------------------------------------
def test_put_image_scanning_configuration(ecr: Any, registry_id: str) -> None:
    name = new_repo(ecr)["repositoryName"]
    for flag in (True, False, True):
        result = ecr.put_image_scanning_configuration(
            repositoryName=name, imageScanningConfiguration={"scanOnPush": flag})
        result.pop("ResponseMetadata")
        assert result == {"registryId": registry_id, "repositoryName": name,
                          "imageScanningConfiguration": {"scanOnPush": flag}}
        assert describe(ecr, name)["imageScanningConfiguration"] == {"scanOnPush": flag}


def test_put_image_scanning_configuration_errors(ecr: Any) -> None:
    expect_error("RepositoryNotFoundException", ecr.put_image_scanning_configuration,
                 repositoryName="settings/missing", imageScanningConfiguration={"scanOnPush": True})
    name = new_repo(ecr)["repositoryName"]
    expect_error("InvalidParameterException", ecr.put_image_scanning_configuration,
                 repositoryName=name)
    expect_error("ValidationException", ecr.put_image_scanning_configuration,
                 repositoryName=name, imageScanningConfiguration={"scanOnPush": "yes"})
    expect_error("InvalidParameterException", ecr.put_image_scanning_configuration,
                 repositoryName=name, imageScanningConfiguration={"scanOnPush": True},
                 registryId="000000000000")


# --- TagResource, UntagResource, ListTagsForResource ----------------------------------------------
def tags(ecr: Any, arn: str) -> list[dict[str, str]]:
    return ecr.list_tags_for_resource(resourceArn=arn)["tags"]


def test_tag_untag_and_list(ecr: Any) -> None:
    arn = new_repo(ecr, tags=[{"Key": "team", "Value": "core"}])["repositoryArn"]
    assert tags(ecr, arn) == [{"Key": "team", "Value": "core"}]
    result = ecr.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "prod"},
                                                     {"Key": "team", "Value": "infra"}])
    result.pop("ResponseMetadata")
    assert result == {}
    assert tags(ecr, arn) == [{"Key": "team", "Value": "infra"}, {"Key": "env", "Value": "prod"}]
    ecr.untag_resource(resourceArn=arn, tagKeys=["team", "not-there"])
    assert tags(ecr, arn) == [{"Key": "env", "Value": "prod"}]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "Cost Center", "Value": ""},
                                            {"Key": "a.b:c/d=e+f-g@h_i", "Value": "x y"}])
    assert {t["Key"] for t in tags(ecr, arn)} == {"env", "Cost Center", "a.b:c/d=e+f-g@h_i"}
    ecr.untag_resource(resourceArn=arn, tagKeys=["env", "Cost Center", "a.b:c/d=e+f-g@h_i"])
    assert tags(ecr, arn) == []


def test_at_most_fifty_tags(ecr: Any) -> None:
    arn = new_repo(ecr)["repositoryArn"]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": f"k{i}", "Value": "v"} for i in range(49)])
    expect_error("TooManyTagsException", ecr.tag_resource, resourceArn=arn,
                 tags=[{"Key": "k100", "Value": "v"}, {"Key": "k101", "Value": "v"}])
    assert len(tags(ecr, arn)) == 49
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "k0", "Value": "new"}, {"Key": "k49", "Value": "v"}])
    assert len(tags(ecr, arn)) == 50
    expect_error("TooManyTagsException", ecr.create_repository,
                 repositoryName=f"settings/{uuid.uuid4().hex[:10]}",
                 tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])


@pytest.mark.parametrize("tag", [
    pytest.param({"Key": "k" * 129, "Value": "v"}, id="key-too-long"),
    pytest.param({"Key": "", "Value": "v"}, id="empty-key"),
    pytest.param({"Key": "k", "Value": "v" * 257}, id="value-too-long"),
    pytest.param({"Key": "aws:reserved", "Value": "v"}, id="reserved-prefix"),
    pytest.param({"Key": "AWS:Reserved", "Value": "v"}, id="reserved-prefix-any-case"),
    pytest.param({"Key": "a#b", "Value": "v"}, id="key-character"),
    pytest.param({"Key": "k", "Value": "50%"}, id="value-character"),
])
def test_invalid_tags(ecr: Any, tag: dict[str, str]) -> None:
    arn = new_repo(ecr)["repositoryArn"]
    expect_error("InvalidTagParameterException", ecr.tag_resource, resourceArn=arn, tags=[tag])
    assert tags(ecr, arn) == []
    expect_error("InvalidTagParameterException", ecr.create_repository,
                 repositoryName=f"settings/{uuid.uuid4().hex[:10]}", tags=[tag])


@pytest.mark.parametrize("tag", [{"Key": "k"}, {"Value": "v"}], ids=["no-value", "no-key"])
def test_malformed_tags(ecr: Any, tag: dict[str, str]) -> None:
    arn = new_repo(ecr)["repositoryArn"]
    expect_error("InvalidParameterException", ecr.tag_resource, resourceArn=arn, tags=[tag])
    expect_error("InvalidParameterException", ecr.create_repository,
                 repositoryName=f"settings/{uuid.uuid4().hex[:10]}", tags=[tag])


def test_tag_limits_are_inclusive(ecr: Any) -> None:
    arn = new_repo(ecr)["repositoryArn"]
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "k" * 128, "Value": "v" * 256}])
    assert tags(ecr, arn) == [{"Key": "k" * 128, "Value": "v" * 256}]


def test_untag_refuses_reserved_keys(ecr: Any) -> None:
    arn = new_repo(ecr)["repositoryArn"]
    expect_error("InvalidTagParameterException", ecr.untag_resource, resourceArn=arn,
                 tagKeys=["aws:cloudformation:stack-name"])
    expect_error("InvalidTagParameterException", ecr.untag_resource, resourceArn=arn, tagKeys=[""])


def test_resource_arn_must_be_a_repository_of_this_registry(ecr: Any, registry_id: str) -> None:
    repo = new_repo(ecr)
    name = repo["repositoryName"]
    assert repo["repositoryArn"] == f"arn:aws:ecr:{REGION}:{registry_id}:repository/{name}"
    other_account = "000000000000" if registry_id != "000000000000" else "111111111111"
    for arn in (f"arn:aws:ecr:{REGION}:{other_account}:repository/{name}",
                f"arn:aws:ecr:eu-west-1:{registry_id}:repository/{name}",
                f"arn:aws:s3:::{name}",
                f"arn:aws:ecr:{REGION}:{registry_id}:repository/",
                f"arn:aws:ecr:{REGION}:{registry_id}:repository/Bad_Name",
                name, ""):
        for call, extra in ((ecr.list_tags_for_resource, {}),
                            (ecr.tag_resource, {"tags": [{"Key": "k", "Value": "v"}]}),
                            (ecr.untag_resource, {"tagKeys": ["k"]})):
            expect_error("InvalidParameterException", call, resourceArn=arn, **extra)
    expect_error("InvalidParameterException", ecr.list_tags_for_resource)
    expect_error("InvalidParameterException", ecr.tag_resource, resourceArn=repo["repositoryArn"])
    expect_error("InvalidParameterException", ecr.untag_resource, resourceArn=repo["repositoryArn"])


def test_tags_of_a_missing_repository(ecr: Any, registry_id: str) -> None:
    arn = f"arn:aws:ecr:{REGION}:{registry_id}:repository/settings/missing"
    expect_error("RepositoryNotFoundException", ecr.list_tags_for_resource, resourceArn=arn)
    expect_error("RepositoryNotFoundException", ecr.tag_resource, resourceArn=arn,
                 tags=[{"Key": "k", "Value": "v"}])
    expect_error("RepositoryNotFoundException", ecr.untag_resource, resourceArn=arn, tagKeys=["k"])


# --- repository policies --------------------------------------------------------------------------
def policy(*statements: dict[str, Any], version: str = "2012-10-17") -> str:
    return json.dumps({"Version": version, "Statement": list(statements)}, indent=2)


PULL_FOR_ALL = {"Sid": "pull", "Effect": "Allow", "Principal": "*",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}


def test_repository_policy_round_trip(ecr: Any, registry_id: str) -> None:
    name = new_repo(ecr)["repositoryName"]
    text = policy(PULL_FOR_ALL) + "\n"
    expected = {"registryId": registry_id, "repositoryName": name, "policyText": text}
    for call in (ecr.set_repository_policy, ):
        result = call(repositoryName=name, policyText=text)
        result.pop("ResponseMetadata")
        assert result == expected
    got = ecr.get_repository_policy(repositoryName=name)
    got.pop("ResponseMetadata")
    assert got == expected  # stored and returned exactly as given
    replaced = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{registry_id}:root"},
                       "Action": "ecr:*"}, version="2008-10-17")
    unversioned = json.dumps({"Statement": PULL_FOR_ALL})
    ecr.set_repository_policy(repositoryName=name, policyText=unversioned)
    assert ecr.get_repository_policy(repositoryName=name)["policyText"] == unversioned
    ecr.set_repository_policy(repositoryName=name, policyText=replaced)
    assert ecr.get_repository_policy(repositoryName=name)["policyText"] == replaced
    deleted = ecr.delete_repository_policy(repositoryName=name)
    deleted.pop("ResponseMetadata")
    assert deleted == {"registryId": registry_id, "repositoryName": name, "policyText": replaced}
    message = expect_error("RepositoryPolicyNotFoundException", ecr.get_repository_policy,
                           repositoryName=name)
    assert name in message
    expect_error("RepositoryPolicyNotFoundException", ecr.delete_repository_policy,
                 repositoryName=name)


def test_a_new_repository_of_the_same_name_has_no_policy(ecr: Any) -> None:
    name = new_repo(ecr)["repositoryName"]
    ecr.set_repository_policy(repositoryName=name, policyText=policy(PULL_FOR_ALL))
    ecr.delete_repository(repositoryName=name)
    ecr.create_repository(repositoryName=name)
    expect_error("RepositoryPolicyNotFoundException", ecr.get_repository_policy, repositoryName=name)


INVALID_POLICIES = [
    pytest.param("not json", "not valid JSON", id="not-json"),
    pytest.param("", "not valid JSON", id="empty"),
    pytest.param("[]", "JSON object", id="array"),
    pytest.param(json.dumps({"Version": "2012-10-17"}), "no Statement", id="no-statement"),
    pytest.param(json.dumps({"Version": "2012-10-17", "Statement": []}), "non-empty", id="empty-statements"),
    pytest.param(policy(PULL_FOR_ALL, version="2020-01-01"), "Version must be", id="bad-version"),
    pytest.param(policy({**PULL_FOR_ALL, "Effect": "Maybe"}), "Effect", id="effect"),
    pytest.param(policy({**PULL_FOR_ALL, "Effect": "allow"}), "Effect", id="effect-case"),
    pytest.param(policy({k: v for k, v in PULL_FOR_ALL.items() if k != "Principal"}),
                 "no Principal", id="no-principal"),
    pytest.param(policy({**PULL_FOR_ALL, "Principal": {"Robot": "x"}}), "principal type", id="principal-type"),
    pytest.param(policy({k: v for k, v in PULL_FOR_ALL.items() if k != "Action"}), "no Action", id="no-action"),
    pytest.param(policy({**PULL_FOR_ALL, "Action": "s3:GetObject"}), "not an ecr action", id="other-service"),
    pytest.param(policy({**PULL_FOR_ALL, "Action": "BatchGetImage"}), "must look like", id="no-prefix"),
    pytest.param(policy({**PULL_FOR_ALL, "Action": []}), "non-empty", id="empty-actions"),
    pytest.param(policy({**PULL_FOR_ALL, "Action": 7}), "string", id="action-number"),
    pytest.param(policy({**PULL_FOR_ALL, "Resource": "repo"}), "must be an ARN", id="resource"),
    pytest.param(policy({**PULL_FOR_ALL, "Colour": "blue"}), "unknown element", id="unknown-element"),
    pytest.param(policy({**PULL_FOR_ALL, "Condition": {"Sometimes": {"aws:x": "y"}}}),
                 "condition operator", id="condition"),
    pytest.param(json.dumps({"Version": "2012-10-17", "Statement": [PULL_FOR_ALL], "Extra": 1}),
                 "unknown policy element", id="unknown-top-level"),
]


@pytest.mark.parametrize("text, detail", INVALID_POLICIES)
def test_set_repository_policy_refuses_invalid_documents(ecr: Any, text: str, detail: str) -> None:
    name = new_repo(ecr)["repositoryName"]
    message = expect_error("InvalidParameterException", ecr.set_repository_policy,
                           repositoryName=name, policyText=text)
    assert message.startswith(INVALID_POLICY + "'Invalid repository policy provided'"), message
    assert detail in message
    expect_error("RepositoryPolicyNotFoundException", ecr.get_repository_policy, repositoryName=name)


def test_policy_text_is_limited_to_10240_characters(ecr: Any) -> None:
    name = new_repo(ecr)["repositoryName"]
    text = policy(PULL_FOR_ALL)
    padded = text[:-1] + " " * (10240 - len(text)) + text[-1]
    assert len(padded) == 10240
    ecr.set_repository_policy(repositoryName=name, policyText=padded)
    expect_error("InvalidParameterException", ecr.set_repository_policy,
                 repositoryName=name, policyText=padded[:-1] + " }")


def test_a_policy_that_locks_you_out_needs_force(ecr: Any, registry_id: str) -> None:
    name = new_repo(ecr)["repositoryName"]
    lockout = policy(PULL_FOR_ALL, {"Effect": "Deny", "Principal": {"AWS": registry_id},
                                    "Action": "ecr:Set*"})
    message = expect_error("InvalidParameterException", ecr.set_repository_policy,
                           repositoryName=name, policyText=lockout)
    assert "force" in message
    expect_error("RepositoryPolicyNotFoundException", ecr.get_repository_policy, repositoryName=name)
    ecr.set_repository_policy(repositoryName=name, policyText=lockout, force=True)
    assert ecr.get_repository_policy(repositoryName=name)["policyText"] == lockout
    # the policy is in force at once: the administrator can no longer change it...
    harmless = policy({"Effect": "Deny", "Principal": "*", "Action": "ecr:DeleteRepository"})
    with pytest.raises(ClientError) as denied:
        ecr.set_repository_policy(repositoryName=name, policyText=harmless, force=True)
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    # ...only delete it (which the policy does not deny), then set another
    ecr.delete_repository_policy(repositoryName=name)
    ecr.set_repository_policy(repositoryName=name, policyText=harmless)
    assert ecr.get_repository_policy(repositoryName=name)["policyText"] == harmless


def test_repository_policy_errors(ecr: Any) -> None:
    for call, extra in ((ecr.set_repository_policy, {"policyText": policy(PULL_FOR_ALL)}),
                        (ecr.get_repository_policy, {}), (ecr.delete_repository_policy, {})):
        expect_error("RepositoryNotFoundException", call, repositoryName="settings/missing", **extra)
        expect_error("InvalidParameterException", call, repositoryName="UPPER/case", **extra)
        expect_error("InvalidParameterException", call, **extra)
    name = new_repo(ecr)["repositoryName"]
    expect_error("InvalidParameterException", ecr.set_repository_policy, repositoryName=name)
    expect_error("InvalidParameterException", ecr.get_repository_policy, repositoryName=name,
                 registryId="000000000000")


# --- the registry policy --------------------------------------------------------------------------
def test_registry_policy_round_trip(ecr: Any, registry_id: str) -> None:
    expect_error("RegistryPolicyNotFoundException", ecr.get_registry_policy)
    expect_error("RegistryPolicyNotFoundException", ecr.delete_registry_policy)
    text = policy({"Sid": "replicate", "Effect": "Allow",
                   "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
                   "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
                   "Resource": f"arn:aws:ecr:{REGION}:{registry_id}:repository/*"})
    put = ecr.put_registry_policy(policyText=text)
    put.pop("ResponseMetadata")
    assert put == {"registryId": registry_id, "policyText": text}
    got = ecr.get_registry_policy()
    got.pop("ResponseMetadata")
    assert got == put
    message = expect_error("InvalidParameterException", ecr.put_registry_policy,
                           policyText=policy({"Effect": "Allow", "Action": "ecr:*"}))
    assert message.startswith(INVALID_POLICY + "'Invalid registry policy provided'"), message
    assert ecr.get_registry_policy()["policyText"] == text
    deleted = ecr.delete_registry_policy()
    deleted.pop("ResponseMetadata")
    assert deleted == put
    expect_error("RegistryPolicyNotFoundException", ecr.get_registry_policy)
    expect_error("InvalidParameterException", ecr.put_registry_policy)


def test_a_registry_policy_is_in_force_at_once(ecr: Any, registry_id: str) -> None:
    arn = new_repo(ecr)["repositoryArn"]
    assert tags(ecr, arn) == []
    deny_listing = policy({"Effect": "Deny", "Principal": {"AWS": registry_id},
                           "Action": "ecr:ListTagsForResource",
                           "Resource": f"arn:aws:ecr:{REGION}:{registry_id}:repository/*"})
    ecr.put_registry_policy(policyText=deny_listing)
    try:
        expect_error("AccessDeniedException", ecr.list_tags_for_resource, resourceArn=arn)
    finally:
        ecr.delete_registry_policy()
    assert tags(ecr, arn) == []


# --- DescribeRegistry and account settings --------------------------------------------------------
def test_describe_registry(ecr: Any) -> None:
    repo = new_repo(ecr)
    result = ecr.describe_registry()
    result.pop("ResponseMetadata")
    assert result == {"registryId": repo["registryId"], "replicationConfiguration": {"rules": []}}


@pytest.fixture
def restore_settings(ecr: Any) -> Iterator[None]:
    names = ("BASIC_SCAN_TYPE_VERSION", "REGISTRY_POLICY_SCOPE", "BLOB_MOUNTING")
    before = {n: ecr.get_account_setting(name=n)["value"] for n in names}
    yield
    for name, value in before.items():
        ecr.put_account_setting(name=name, value=value)


def test_account_setting_defaults(ecr: Any, tmp_path: Path) -> None:
    # A fresh registry of its own, so that no other test's PutAccountSetting is seen.
    services = _in_process(tmp_path)
    admin = _admin(services)
    assert {n: services.account_settings.get(admin, n) for n in
            ("BASIC_SCAN_TYPE_VERSION", "REGISTRY_POLICY_SCOPE", "BLOB_MOUNTING")} == {
        "BASIC_SCAN_TYPE_VERSION": "AWS_NATIVE", "REGISTRY_POLICY_SCOPE": "V2",
        "BLOB_MOUNTING": "ENABLED"}
    result = ecr.get_account_setting(name="REGISTRY_POLICY_SCOPE")
    result.pop("ResponseMetadata")
    assert result["name"] == "REGISTRY_POLICY_SCOPE" and result["value"] in ("V1", "V2")


@pytest.mark.usefixtures("restore_settings")
@pytest.mark.parametrize("name, values", [
    ("BASIC_SCAN_TYPE_VERSION", ["CLAIR", "AWS_NATIVE"]),
    ("REGISTRY_POLICY_SCOPE", ["V1", "V2"]),
    ("BLOB_MOUNTING", ["DISABLED", "ENABLED"]),
])
def test_put_account_setting(ecr: Any, name: str, values: list[str]) -> None:
    for value in values:
        result = ecr.put_account_setting(name=name, value=value)
        result.pop("ResponseMetadata")
        assert result == {"name": name, "value": value}
        got = ecr.get_account_setting(name=name)
        got.pop("ResponseMetadata")
        assert got == {"name": name, "value": value}


@pytest.mark.usefixtures("restore_settings")
def test_account_setting_errors(ecr: Any) -> None:
    for params in ({"name": "NOT_A_SETTING"}, {"name": ""}, {}):
        expect_error("InvalidParameterException", ecr.get_account_setting, **params)
    for params in ({"name": "NOT_A_SETTING", "value": "ENABLED"},
                   {"name": "BLOB_MOUNTING", "value": "MAYBE"},
                   {"name": "BLOB_MOUNTING", "value": "enabled"},
                   {"name": "REGISTRY_POLICY_SCOPE", "value": "V3"},
                   {"name": "BASIC_SCAN_TYPE_VERSION", "value": "V2"},
                   {"name": "BLOB_MOUNTING"}):
        expect_error("InvalidParameterException", ecr.put_account_setting, **params)
    assert ecr.get_account_setting(name="BLOB_MOUNTING")["value"] in ("ENABLED", "DISABLED")


@pytest.mark.usefixtures("restore_settings")
def test_blob_mounting_setting_decides_cross_repository_mounts(ecr: Any, http: httpx.Client) -> None:
    source, target = new_repo(ecr)["repositoryName"], new_repo(ecr)["repositoryName"]
    data = os.urandom(4096)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert http.post(f"/v2/{source}/blobs/uploads/?digest={digest}", content=data).status_code == 201
    mount = f"/v2/{target}/blobs/uploads/?mount={digest}&from={source}"

    ecr.put_account_setting(name="BLOB_MOUNTING", value="DISABLED")
    started = http.post(mount)
    assert started.status_code == 202, started.text
    assert f"/v2/{target}/blobs/uploads/" in started.headers["Location"]
    assert http.head(f"/v2/{target}/blobs/{digest}").status_code == 404
    assert http.delete(started.headers["Location"]).status_code == 204

    ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    mounted = http.post(mount)
    assert mounted.status_code == 201, mounted.text
    assert mounted.headers["Location"] == f"/v2/{target}/blobs/{digest}"
    assert http.get(f"/v2/{target}/blobs/{digest}").content == data


@pytest.mark.usefixtures("restore_settings")
def test_no_mount_between_different_encryption_configurations(ecr: Any, http: httpx.Client) -> None:
    ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")
    source = new_repo(ecr)["repositoryName"]
    target = new_repo(ecr, encryptionConfiguration={"encryptionType": "KMS"})["repositoryName"]
    data = os.urandom(1024)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert http.post(f"/v2/{source}/blobs/uploads/?digest={digest}", content=data).status_code == 201
    assert http.post(f"/v2/{target}/blobs/uploads/?mount={digest}&from={source}").status_code == 202


# --- authorization inside the services ------------------------------------------------------------
def _in_process(tmp_path: Path) -> Services:
    settings = Settings(data_dir=tmp_path / "data", database_url="", admin_access_key_id=KEY_ID,
                        admin_secret_access_key=SECRET, region=REGION, secret_key=None)
    bootstrap(settings)
    return build_services(settings)


def _admin(services: Services) -> Principal:
    """The administrator as authentication resolves it (with its policies), via a registry password."""
    identity = services.identity
    key = identity.store.access_key(KEY_ID)
    assert key is not None
    row = identity.store.principal(key.principal_id)
    assert row is not None
    return identity.authenticate_password(identity.password(identity.issue_password(row, KEY_ID)))


def _caller(services: Services, *statements: dict[str, Any]) -> Principal:
    account = services.identity.registry.registry_id
    return Principal("AIDATESTUSER", "user", "tester", f"arn:aws:iam::{account}:user/tester",
                     ({"Version": "2012-10-17", "Statement": list(statements)},))


OPERATIONS: dict[str, Callable[[Services, Principal, str, str], Any]] = {
    "PutImageTagMutability": lambda s, p, name, arn: s.repository_settings.put_tag_mutability(
        p, name, "IMMUTABLE", None),
    "PutImageScanningConfiguration": lambda s, p, name, arn:
        s.repository_settings.put_scanning_configuration(p, name, True),
    "TagResource": lambda s, p, name, arn: s.repository_settings.tag(p, arn, [{"Key": "k", "Value": "v"}]),
    "UntagResource": lambda s, p, name, arn: s.repository_settings.untag(p, arn, ["k"]),
    "ListTagsForResource": lambda s, p, name, arn: s.repository_settings.list_tags(p, arn),
    "SetRepositoryPolicy": lambda s, p, name, arn: s.policies.set_repository_policy(
        p, name, policy(PULL_FOR_ALL)),
    "GetRepositoryPolicy": lambda s, p, name, arn: s.policies.get_repository_policy(p, name),
    "DeleteRepositoryPolicy": lambda s, p, name, arn: s.policies.delete_repository_policy(p, name),
    "PutRegistryPolicy": lambda s, p, name, arn: s.policies.put_registry_policy(p, policy(PULL_FOR_ALL)),
    "GetRegistryPolicy": lambda s, p, name, arn: s.policies.get_registry_policy(p),
    "DeleteRegistryPolicy": lambda s, p, name, arn: s.policies.delete_registry_policy(p),
    "DescribeRegistry": lambda s, p, name, arn: s.account_settings.describe_registry(p),
    "GetAccountSetting": lambda s, p, name, arn: s.account_settings.get(p, "BLOB_MOUNTING"),
    "PutAccountSetting": lambda s, p, name, arn: s.account_settings.put(p, "BLOB_MOUNTING", "DISABLED"),
}
REGISTRY_LEVEL = {"PutRegistryPolicy", "GetRegistryPolicy", "DeleteRegistryPolicy",
                  "DescribeRegistry", "GetAccountSetting", "PutAccountSetting"}


def test_every_operation_is_authorized_by_its_service(tmp_path: Path) -> None:
    services = _in_process(tmp_path)
    admin = _admin(services)
    address = services.repositories.address
    name = services.repositories.create(admin, "authz/repo").name
    arn = address.repository_arn(name)
    registry = f"arn:aws:ecr:{address.region}:{address.registry_id}:*"
    nobody = _caller(services, {"Effect": "Allow", "Action": "ecr:DescribeRepositories",
                                "Resource": "*"})
    for operation, run in OPERATIONS.items():
        with pytest.raises(AccessDenied) as denied:
            run(services, nobody, name, arn)
        assert f"ecr:{operation}" in denied.value.message
        assert (registry if operation in REGISTRY_LEVEL else arn) in denied.value.message
        allowed = _caller(services, {"Effect": "Allow", "Action": f"ecr:{operation}",
                                     "Resource": registry if operation in REGISTRY_LEVEL else arn})
        run(services, allowed, name, arn)  # in table order: Set before Get before Delete
        denied_explicitly = _caller(
            services, {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"},
            {"Effect": "Deny", "Action": f"ecr:{operation}", "Resource": "*"})
        with pytest.raises(AccessDenied):
            run(services, denied_explicitly, name, arn)
    assert services.repository_settings.list_tags(admin, arn) == ()  # tagged, then untagged
    assert services.repositories.find(admin, name, "ecr:DescribeRepositories").scan_on_push
    assert services.account_settings.get(admin, "BLOB_MOUNTING") == "DISABLED"


def test_tag_changes_reach_tag_conditions_at_once(tmp_path: Path) -> None:
    services = _in_process(tmp_path)
    admin = _admin(services)
    name = services.repositories.create(admin, "authz/tagged").name
    arn = services.repositories.address.repository_arn(name)
    team_only = _caller(services, {"Effect": "Allow", "Action": "ecr:ListTagsForResource",
                                   "Resource": "*",
                                   "Condition": {"StringEquals": {"aws:ResourceTag/team": "core"}}})
    with pytest.raises(AccessDenied):
        services.repository_settings.list_tags(team_only, arn)
    services.repository_settings.tag(admin, arn, [{"Key": "team", "Value": "core"}])
    assert services.repository_settings.list_tags(team_only, arn) == ({"Key": "team", "Value": "core"},)
    services.repository_settings.untag(admin, arn, ["team"])
    with pytest.raises(AccessDenied):
        services.repository_settings.list_tags(team_only, arn)
