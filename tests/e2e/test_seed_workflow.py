"""The workflow of the seed issue, command for command: aws CLI + docker against a live Dockyard."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from .clients import Docker, aws, output, pushed_digest, require, run
from .images import build_context
from .servers import DockyardProcess

pytestmark = pytest.mark.e2e


def test_seed_workflow(dockyard_server: DockyardProcess, dockerd: Docker, tmp_path: Path) -> None:
    env = dockyard_server.env()
    registry = dockyard_server.host
    repo = "demo-app-repo"
    remote = f"{registry}/{repo}:v1"

    # aws ecr create-repository ...
    created = json.loads(aws(env, "ecr", "create-repository", "--repository-name", repo,
                             "--image-tag-mutability", "IMMUTABLE",
                             "--image-scanning-configuration", "scanOnPush=true").stdout)
    repository = created["repository"]
    assert repository["repositoryName"] == repo
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["repositoryUri"] == f"{registry}/{repo}"
    registry_id = repository["registryId"]
    assert repository["repositoryArn"] == f"arn:aws:ecr:us-east-1:{registry_id}:repository/{repo}"

    # aws ecr get-login-password --region us-east-1 | docker login --username AWS --password-stdin
    aws_cli = require("aws")
    login = run(f"{shlex.quote(aws_cli)} ecr get-login-password --region us-east-1 | "
                f"docker login --username AWS --password-stdin {shlex.quote(registry)}",
                {**env, **dockerd.env()}, shell=True)
    assert "Login Succeeded" in login.stdout

    # docker build -t demo-app:v1 . (multi-layer), docker tag, docker push
    context = build_context(tmp_path / "demo-app", layers=2)
    # a third layer: the distribution's /etc/os-release. An image with nothing recognisable
    # (no distribution, no language package) is UNSUPPORTED_IMAGE, as in ECR, and the
    # image-scan-complete waiter never ends on that status (docs/scanning.md)
    (context.path / "rootfs" / "etc").mkdir(parents=True)
    (context.path / "rootfs" / "etc" / "os-release").write_text(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
        "VERSION_CODENAME=bookworm\n")
    dockerfile = context.path / "Dockerfile"
    lines = dockerfile.read_text().splitlines()
    lines.insert(1, "COPY rootfs/ /")
    dockerfile.write_text("\n".join(lines) + "\n")
    dockerd("build", "-t", "demo-app:v1", str(context.path))
    built_id = dockerd.image_id("demo-app:v1")
    history = dockerd("history", "--format", "{{.Size}}", "demo-app:v1").stdout.split()
    assert sum(1 for size in history if size not in ("0B", "0")) == 3, history
    dockerd("tag", "demo-app:v1", remote)
    pushed = dockerd("push", remote)
    digest = pushed_digest(output(pushed))

    # describe-repositories lists it
    listed = json.loads(aws(env, "ecr", "describe-repositories",
                            "--repository-names", repo).stdout)["repositories"]
    assert [r["repositoryName"] for r in listed] == [repo]

    # remove the local image, pull it back
    dockerd.remove("demo-app:v1", remote)
    assert not dockerd.has_image(remote)
    pulled = dockerd("pull", remote)
    assert f"Digest: {digest}" in pulled.stdout
    assert dockerd.image_id(remote) == built_id
    assert f"{registry}/{repo}@{digest}" in dockerd.repo_digests(remote)

    # aws ecr wait image-scan-complete, then describe-image-scan-findings (scanOnPush=true)
    aws(env, "ecr", "wait", "image-scan-complete", "--repository-name", repo,
        "--image-id", "imageTag=v1")
    scan = json.loads(aws(env, "ecr", "describe-image-scan-findings", "--repository-name", repo,
                          "--image-id", "imageTag=v1").stdout)
    assert scan["imageScanStatus"]["status"] == "COMPLETE", scan
    assert scan["imageId"]["imageDigest"] == digest
    assert scan["imageId"]["imageTag"] == "v1"
    assert "imageScanFindings" in scan, scan
    # FROM scratch with a Debian os-release and random files: no package installed, none found
    assert scan["imageScanFindings"].get("findings", []) == [], scan
    assert sum(scan["imageScanFindings"].get("findingSeverityCounts", {}).values()) == 0, scan

    # aws ecr delete-repository --repository-name demo-app-repo --force
    deleted = json.loads(aws(env, "ecr", "delete-repository", "--repository-name", repo,
                             "--force").stdout)
    assert deleted["repository"]["repositoryName"] == repo
    remaining = json.loads(aws(env, "ecr", "describe-repositories").stdout)["repositories"]
    assert repo not in [r["repositoryName"] for r in remaining]
    missing = aws(env, "ecr", "describe-repositories", "--repository-names", repo, check=False)
    assert missing.returncode != 0
    assert "RepositoryNotFoundException" in missing.stderr

    dockerd.remove(remote)
    failed = dockerd("pull", remote, check=False)
    assert failed.returncode != 0
    assert (f"The repository with name '{repo}' does not exist in the registry with id "
            f"'{registry_id}'") in output(failed), output(failed)

