"""Scan on push, as a user does it: `aws ecr create-repository --image-scanning-configuration
scanOnPush=true`, `docker push` of an image with real pip-installed old Python packages,
`aws ecr wait image-scan-complete`, `aws ecr describe-image-scan-findings`.

The advisories are shared/vulndata's PyPI records, imported with `dockyard vulndb import`; the
expected advisory ids are computed from those files by the tests' own logic."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from unit.scanning.osv_expected import expected_findings, load_records, pep440_key, pep503

from .clients import Docker, aws, output, pushed_digest
from .images import unique
from .servers import DockyardProcess

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
VULNDATA = Path(os.environ.get("DOCKYARD_VULNDATA", ROOT.parent / "shared" / "vulndata")) / "osv"
PACKAGES = ("jinja2==2.10", "urllib3==1.24.1")


def dockyard_cli(server: DockyardProcess, *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "dockyard", *args], env=server.env(),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_scan_on_push_with_the_aws_cli(dockyard_server: DockyardProcess, docker: Docker,
                                       tmp_path: Path) -> None:
    if not (VULNDATA / "PyPI").is_dir():
        pytest.skip(f"no OSV data at {VULNDATA}")
    env = dockyard_server.env()
    dockyard_cli(dockyard_server, "vulndb", "import", str(VULNDATA / "PyPI"))

    # an image whose only content is pip-installed old releases (FROM scratch: no OS)
    context = tmp_path / "ctx"
    site = context / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
                    "--only-binary", ":all:", "--target", str(site), *PACKAGES], check=True,
                   timeout=300)
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY site/ /usr/lib/python3/site-packages/\n")
    installed = {(d.metadata["Name"], d.version)
                 for d in importlib.metadata.distributions(path=[str(site)])}
    expected = {finding for finding in expected_findings(
        load_records(VULNDATA / "PyPI"), "PyPI", installed, pep440_key, pep503)}
    assert len(expected) >= 5

    repo = unique("scanned-app")
    created = json.loads(aws(env, "ecr", "create-repository", "--repository-name", repo,
                             "--image-scanning-configuration", "scanOnPush=true").stdout)
    assert created["repository"]["imageScanningConfiguration"] == {"scanOnPush": True}
    remote = f"{dockyard_server.host}/{repo}:v1"
    docker("build", "-q", "-t", remote, str(context))
    digest = pushed_digest(output(docker("push", remote)))

    aws(env, "ecr", "wait", "image-scan-complete", "--repository-name", repo,
        "--image-id", "imageTag=v1")
    result = json.loads(aws(env, "ecr", "describe-image-scan-findings", "--repository-name", repo,
                            "--image-id", "imageTag=v1").stdout)
    assert result["imageScanStatus"]["status"] == "COMPLETE"
    assert result["imageId"]["imageDigest"] == digest
    findings = result["imageScanFindings"]["findings"]  # the CLI follows nextToken itself
    got = set()
    for finding in findings:
        attributes = {a["key"]: a["value"] for a in finding["attributes"]}
        got.add((finding["name"], attributes["package_name"], attributes["package_version"]))
    assert got == expected
    counts = result["imageScanFindings"]["findingSeverityCounts"]
    assert sum(counts.values()) == len(expected)

    described = json.loads(aws(env, "ecr", "describe-images", "--repository-name", repo).stdout)
    detail = described["imageDetails"][0]
    assert detail["imageScanStatus"]["status"] == "COMPLETE"
    assert detail["imageScanFindingsSummary"]["findingSeverityCounts"] == counts

    sbom = json.loads(dockyard_cli(dockyard_server, "sbom", f"{repo}:v1"))
    assert {c["purl"] for c in sbom["components"]} >= {
        f"pkg:pypi/{pep503(name)}@{version}" for name, version in installed}
