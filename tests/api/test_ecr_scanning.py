"""Image scanning through boto3 against a live ``python -m dockyard serve`` (one per module), with
advisories imported by ``python -m dockyard vulndb import`` from shared/vulndata.

Images are pushed over the OCI API with layers holding real package metadata files (the
``METADATA`` of PyPI releases, npm ``package.json``); expected findings come from the OSV files
through the tests' own logic (``unit/scanning/osv_expected.py``). boto3 parses every response
with botocore's ECR model, and ``aws ecr wait image-scan-complete``'s waiter is botocore's.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, WaiterError

from unit.scanning.osv_expected import expected_findings, load_records, pep440_key, pep503

from .live_server import LiveServer, live_server, running

KEY_ID = "AKIASCANNINGTEST0001"
SECRET = "scanningTestSecretKey/0123456789abcdefGH"
REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[2]
VULNDATA = Path(os.environ.get("DOCKYARD_VULNDATA", ROOT.parent / "shared" / "vulndata")) / "osv"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
# Real releases with PYSEC advisories, and one PyPI package that has none in vulndata
PACKAGES = {"Jinja2": "2.10", "urllib3": "1.24.1", "requests": "2.19.1"}
FIXED_PACKAGE = {"Jinja2": "3.1.4"}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def osv_subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real vulndata records of the packages these tests install (PyPI) plus npm's."""
    if not VULNDATA.is_dir():
        pytest.skip(f"no OSV data at {VULNDATA}")
    folder = tmp_path_factory.mktemp("osv")
    wanted = {pep503(n) for n in PACKAGES}
    for path in (VULNDATA / "PyPI").glob("*.json"):
        record = json.loads(path.read_text())
        if any(pep503(a["package"]["name"]) in wanted for a in record.get("affected", [])):
            shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, osv_subset: Path) -> Iterator[LiveServer]:
    server = live_server(tmp_path_factory.mktemp("ecr-scanning"), KEY_ID, SECRET, REGION)
    server.dockyard("vulndb", "import", str(osv_subset))
    with running(server):
        yield server


@pytest.fixture(scope="module")
def ecr(live: LiveServer) -> Any:
    return boto3.client("ecr", endpoint_url=live.endpoint, region_name=REGION,
                        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                        config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def http(live: LiveServer, ecr: Any) -> Iterator[httpx.Client]:
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, _, password = base64.b64decode(token).decode().partition(":")
    with httpx.Client(base_url=live.endpoint, auth=(user, password), timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def expected(osv_subset: Path) -> set[tuple[str, str, str]]:
    return expected_findings(load_records(osv_subset), "PyPI", set(PACKAGES.items()), pep440_key,
                             pep503)


# --- images -------------------------------------------------------------------------------------
def tar_layer(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def python_files(packages: dict[str, str]) -> dict[str, bytes]:
    site = "usr/local/lib/python3.12/site-packages"
    return {f"{site}/{name}-{version}.dist-info/METADATA":
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nA description.\n".encode()
            for name, version in packages.items()}


def push_blob(http: httpx.Client, repo: str, data: bytes) -> str:
    digest = sha256(data)
    r = http.post(f"/v2/{repo}/blobs/uploads/?digest={digest}", content=data)
    assert r.status_code == 201, r.text
    return digest


def push_image(http: httpx.Client, repo: str, tag: str | None, files: dict[str, bytes],
               arch: str = "amd64", *, layer: bytes | None = None) -> str:
    layer = layer if layer is not None else tar_layer(files)
    config = json.dumps({"architecture": arch, "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": push_blob(http, repo, config),
                                      "size": len(config)},
                           "layers": [{"mediaType": OCI_LAYER, "digest": push_blob(http, repo, layer),
                                       "size": len(layer)}]}).encode()
    digest = sha256(manifest)
    r = http.put(f"/v2/{repo}/manifests/{tag or digest}", content=manifest,
                 headers={"Content-Type": OCI_MANIFEST})
    assert r.status_code == 201, r.text
    return digest


def wait_complete(ecr: Any, repo: str, image_id: dict[str, str]) -> dict[str, Any]:
    ecr.get_waiter("image_scan_complete").wait(repositoryName=repo, imageId=image_id,
                                                WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return ecr.describe_image_scan_findings(repositoryName=repo, imageId=image_id, maxResults=1000)


def wait_status(ecr: Any, repo: str, image_id: dict[str, str], done: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        result = ecr.describe_image_scan_findings(repositoryName=repo, imageId=image_id,
                                                  maxResults=1000)
        if result["imageScanStatus"]["status"] in done or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def names(result: dict[str, Any]) -> set[tuple[str, str, str]]:
    found = set()
    for finding in result["imageScanFindings"].get("findings", []):
        attrs = {a["key"]: a["value"] for a in finding["attributes"]}
        found.add((finding["name"], attrs["package_name"], attrs["package_version"]))
    return found


def error_code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**params)
    return info.value.response["Error"]["Code"]


# --- tests --------------------------------------------------------------------------------------
def test_scan_on_push_basic_findings(ecr: Any, http: httpx.Client,
                                     expected: set[tuple[str, str, str]]) -> None:
    ecr.create_repository(repositoryName="scan/push", imageScanningConfiguration={"scanOnPush": True})
    push_image(http, "scan/push", "v1", python_files({**PACKAGES, "not-on-pypi-x": "1.0"}))
    result = wait_complete(ecr, "scan/push", {"imageTag": "v1"})
    assert result["imageScanStatus"]["status"] == "COMPLETE"
    assert "operating system was not recognised" in result["imageScanStatus"]["description"]
    findings = result["imageScanFindings"]
    assert names(result) == expected
    assert sum(findings["findingSeverityCounts"].values()) == len(expected)
    assert findings["vulnerabilitySourceUpdatedAt"] <= findings["imageScanCompletedAt"]
    jinja = [f for f in findings["findings"] if f["name"] == "PYSEC-2019-217"]
    assert jinja and jinja[0]["uri"].endswith("PYSEC-2019-217")
    attrs = {a["key"]: a["value"] for a in jinja[0]["attributes"]}
    assert attrs["fixed_in_version"] == "2.10.1"
    detail = ecr.describe_images(repositoryName="scan/push")["imageDetails"][0]
    assert detail["imageScanStatus"]["status"] == "COMPLETE"
    assert detail["imageScanFindingsSummary"]["findingSeverityCounts"] == findings["findingSeverityCounts"]


def test_pagination_of_findings(ecr: Any, expected: set[tuple[str, str, str]]) -> None:
    pages, token = [], None
    while True:
        params = {"nextToken": token} if token else {}
        page = ecr.describe_image_scan_findings(repositoryName="scan/push", imageId={"imageTag": "v1"},
                                                maxResults=3, **params)
        pages.append(page)
        token = page.get("nextToken")
        if not token:
            break
    assert len(pages) == -(-len(expected) // 3)
    assert set().union(*(names(p) for p in pages)) == expected
    paginator = ecr.get_paginator("describe_image_scan_findings")
    total = sum(len(p["imageScanFindings"]["findings"]) for p in paginator.paginate(
        repositoryName="scan/push", imageId={"imageTag": "v1"}, PaginationConfig={"PageSize": 4}))
    assert total == len(expected)
    assert error_code(ecr.describe_image_scan_findings, repositoryName="scan/push",
                      imageId={"imageTag": "v1"}, nextToken="bm90IGEgdG9rZW4=") == \
        "InvalidParameterException"


def test_no_scan_without_scan_on_push_then_start_image_scan(ecr: Any, http: httpx.Client,
                                                            expected: set) -> None:
    ecr.create_repository(repositoryName="scan/manual")
    digest = push_image(http, "scan/manual", "v1", python_files(PACKAGES))
    assert error_code(ecr.describe_image_scan_findings, repositoryName="scan/manual",
                      imageId={"imageTag": "v1"}) == "ScanNotFoundException"
    assert "imageScanStatus" not in ecr.describe_images(repositoryName="scan/manual")["imageDetails"][0]
    started = ecr.start_image_scan(repositoryName="scan/manual", imageId={"imageTag": "v1"})
    assert started["imageScanStatus"]["status"] == "IN_PROGRESS"
    assert started["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    assert names(wait_complete(ecr, "scan/manual", {"imageDigest": digest})) == expected
    # ECR allows one manual scan per image a day
    assert error_code(ecr.start_image_scan, repositoryName="scan/manual",
                      imageId={"imageDigest": digest}) == "LimitExceededException"
    assert error_code(ecr.start_image_scan, repositoryName="scan/manual",
                      imageId={"imageTag": "nope"}) == "ImageNotFoundException"
    assert error_code(ecr.start_image_scan, repositoryName="scan/none",
                      imageId={"imageTag": "v1"}) == "RepositoryNotFoundException"


def test_artifacts_are_not_scannable(ecr: Any, http: httpx.Client) -> None:
    ecr.create_repository(repositoryName="scan/artifact")
    config = b"{}"
    blob = b"helm chart bytes"
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json",
                                      "digest": push_blob(http, "scan/artifact", config), "size": 2},
                           "layers": [{"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                                       "digest": push_blob(http, "scan/artifact", blob),
                                       "size": len(blob)}]}).encode()
    assert http.put("/v2/scan/artifact/manifests/chart", content=manifest,
                    headers={"Content-Type": OCI_MANIFEST}).status_code == 201
    assert error_code(ecr.start_image_scan, repositoryName="scan/artifact",
                      imageId={"imageTag": "chart"}) == "UnsupportedImageTypeException"


def test_unsupported_and_failed_images(ecr: Any, http: httpx.Client) -> None:
    ecr.create_repository(repositoryName="scan/odd", imageScanningConfiguration={"scanOnPush": True})
    push_image(http, "scan/odd", "nothing", {"data/file.bin": os.urandom(1000)})
    push_image(http, "scan/odd", "broken", {}, layer=b"\x1f\x8b but not really gzip" * 10)
    nothing = wait_status(ecr, "scan/odd", {"imageTag": "nothing"}, {"UNSUPPORTED_IMAGE", "COMPLETE"})
    assert nothing["imageScanStatus"]["status"] == "UNSUPPORTED_IMAGE"
    broken = wait_status(ecr, "scan/odd", {"imageTag": "broken"}, {"FAILED", "COMPLETE"})
    assert broken["imageScanStatus"]["status"] == "FAILED"
    with pytest.raises(WaiterError, match="failure"):  # the waiter's FAILED acceptor
        ecr.get_waiter("image_scan_complete").wait(repositoryName="scan/odd",
                                                   imageId={"imageTag": "broken"},
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 3})


def test_image_index_is_the_union_of_its_platforms(ecr: Any, http: httpx.Client,
                                                   osv_subset: Path) -> None:
    repo = "scan/multi"
    ecr.create_repository(repositoryName=repo)
    amd = push_image(http, repo, None, python_files({"Jinja2": "2.10"}), "amd64")
    arm = push_image(http, repo, None, python_files({"urllib3": "1.24.1"}), "arm64")
    bodies = {d: http.get(f"/v2/{repo}/manifests/{d}", headers={"Accept": OCI_MANIFEST}).content
              for d in (amd, arm)}
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": d, "size": len(bodies[d]),
         "platform": {"architecture": a, "os": "linux"}} for d, a in ((amd, "amd64"), (arm, "arm64"))]}).encode()
    assert http.put(f"/v2/{repo}/manifests/multi", content=index,
                    headers={"Content-Type": OCI_INDEX}).status_code == 201
    ecr.start_image_scan(repositoryName=repo, imageId={"imageTag": "multi"})
    result = wait_complete(ecr, repo, {"imageTag": "multi"})
    records = load_records(osv_subset)
    expected = expected_findings(records, "PyPI", {("Jinja2", "2.10"), ("urllib3", "1.24.1")},
                                 pep440_key, pep503)
    assert names(result) == expected
    platforms = {f["name"]: {a["value"] for a in f["attributes"] if a["key"] == "platforms"}
                 for f in result["imageScanFindings"]["findings"]}
    assert platforms["PYSEC-2019-217"] == {"linux/amd64"}


def test_registry_scanning_configuration(ecr: Any) -> None:
    initial = ecr.get_registry_scanning_configuration()
    assert initial["scanningConfiguration"] == {"scanType": "BASIC", "rules": []}
    ecr.create_repository(repositoryName="prod/api")
    ecr.create_repository(repositoryName="dev/api")
    rules = [{"scanFrequency": "CONTINUOUS_SCAN",
              "repositoryFilters": [{"filter": "prod*", "filterType": "WILDCARD"}]},
             {"scanFrequency": "SCAN_ON_PUSH",
              "repositoryFilters": [{"filter": "api", "filterType": "WILDCARD"}]}]
    put = ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=rules)
    assert put["registryScanningConfiguration"] == {"scanType": "ENHANCED", "rules": rules}
    assert ecr.get_registry_scanning_configuration()["scanningConfiguration"]["rules"] == rules
    batch = ecr.batch_get_repository_scanning_configuration(
        repositoryNames=["prod/api", "dev/api", "scan/push", "missing/repo"])
    by_name = {c["repositoryName"]: c for c in batch["scanningConfigurations"]}
    assert by_name["prod/api"]["scanFrequency"] == "CONTINUOUS_SCAN"
    assert by_name["prod/api"]["appliedScanFilters"] == rules[0]["repositoryFilters"]
    assert by_name["dev/api"]["scanFrequency"] == "SCAN_ON_PUSH"
    assert (by_name["scan/push"]["scanFrequency"], by_name["scan/push"]["scanOnPush"]) == ("MANUAL", False)
    assert batch["failures"] == [{"repositoryName": "missing/repo", "failureCode": "REPOSITORY_NOT_FOUND",
                                  "failureReason": "REPOSITORY_NOT_FOUND"}]
    assert error_code(ecr.put_registry_scanning_configuration, scanType="BASIC",
                      rules=[rules[0]]) == "InvalidParameterException"
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])


def test_enhanced_continuous_scanning_and_rematch_after_import(
        ecr: Any, http: httpx.Client, live: LiveServer, tmp_path: Path) -> None:
    repo = "cont/app"
    ecr.create_repository(repositoryName=repo)
    ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=[
        {"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": [{"filter": "cont/*", "filterType": "WILDCARD"}]}])
    try:
        layer = tar_layer(python_files({"Jinja2": "2.10", "dockyard-demo": "1.0"}))
        digest = push_image(http, repo, "v1", {}, layer=layer)
        first = wait_status(ecr, repo, {"imageTag": "v1"}, {"ACTIVE", "FAILED", "COMPLETE"})
        assert first["imageScanStatus"]["status"] == "ACTIVE"
        enhanced = first["imageScanFindings"]["enhancedFindings"]
        assert "findings" not in first["imageScanFindings"]
        jinja = next(f for f in enhanced if f["packageVulnerabilityDetails"]["vulnerabilityId"] == "PYSEC-2019-217")
        package = jinja["packageVulnerabilityDetails"]["vulnerablePackages"][0]
        assert (package["name"], package["version"], package["fixedInVersion"],
                package["packageManager"]) == ("Jinja2", "2.10", "2.10.1", "PYTHONPKG")
        assert package["sourceLayerHash"] == sha256(layer)
        assert jinja["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"] == digest
        assert jinja["status"] == "ACTIVE" and jinja["type"] == "PACKAGE_VULNERABILITY"
        assert not any(f["packageVulnerabilityDetails"]["vulnerablePackages"][0]["name"] == "dockyard-demo"
                       for f in enhanced)
        # the layer blob goes away: the rematch must not need it
        blob = live.data_dir / "blobs" / "sha256" / sha256(layer)[7:9] / sha256(layer)[7:]
        blob.unlink()
        osv = tmp_path / "new"
        osv.mkdir()
        (osv / "DEMO-2099-1.json").write_text(json.dumps({
            "id": "DEMO-2099-1", "modified": "2099-01-01T00:00:00Z", "summary": "demo",
            "database_specific": {"severity": "HIGH"},
            "affected": [{"package": {"ecosystem": "PyPI", "name": "dockyard_demo"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1"}]}]}]}))
        live.dockyard("vulndb", "import", str(osv))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            result = ecr.describe_image_scan_findings(repositoryName=repo, imageId={"imageTag": "v1"},
                                                      maxResults=1000)
            ids = {f["packageVulnerabilityDetails"]["vulnerabilityId"]
                   for f in result["imageScanFindings"]["enhancedFindings"]}
            if "DEMO-2099-1" in ids:
                break
            time.sleep(0.5)
        assert "DEMO-2099-1" in ids and "PYSEC-2019-217" in ids
        assert result["imageScanStatus"]["status"] == "ACTIVE"
        assert result["imageScanFindings"]["findingSeverityCounts"]["HIGH"] >= 1
    finally:
        ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])


def test_sbom_route(http: httpx.Client, live: LiveServer) -> None:
    cyclonedx = http.get("/dockyard/sbom/scan/push:v1")
    assert cyclonedx.status_code == 200, cyclonedx.text
    assert cyclonedx.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    document = cyclonedx.json()
    assert document["bomFormat"] == "CycloneDX"
    purls = {c.get("purl") for c in document["components"]}
    assert {"pkg:pypi/jinja2@2.10", "pkg:pypi/urllib3@1.24.1", "pkg:pypi/requests@2.19.1"} <= purls
    spdx = http.get("/dockyard/sbom/scan/push:v1?format=spdx").json()
    assert spdx["spdxVersion"] == "SPDX-2.3"
    assert {p["name"] for p in spdx["packages"]} >= set(PACKAGES)
    assert http.get("/dockyard/sbom/scan/manual:nope").status_code == 404
    assert httpx.get(f"{live.endpoint}/dockyard/sbom/scan/push:v1").status_code == 401
    # the CLI gives the same packages
    out = json.loads(live.dockyard("sbom", "scan/push:v1"))
    assert {c.get("purl") for c in out["components"]} == purls


def test_deleting_an_image_deletes_its_scan(ecr: Any, http: httpx.Client) -> None:
    ecr.create_repository(repositoryName="scan/gone", imageScanningConfiguration={"scanOnPush": True})
    digest = push_image(http, "scan/gone", "v1", python_files({"Jinja2": "2.10"}))
    wait_complete(ecr, "scan/gone", {"imageTag": "v1"})
    ecr.batch_delete_image(repositoryName="scan/gone", imageIds=[{"imageDigest": digest}])
    push_image(http, "scan/gone", "v1", python_files({"Jinja2": "2.10"}))  # same digest again
    result = wait_complete(ecr, "scan/gone", {"imageTag": "v1"})
    assert result["imageScanStatus"]["status"] == "COMPLETE"
