"""Lifecycle policies end to end with the real aws CLI: put a policy, preview it (and wait with
`aws ecr wait lifecycle-policy-preview-complete`), run it with `dockyard lifecycle run`, and see
the survivors with `aws ecr describe-images`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .clients import aws, skopeo
from .images import unique
from .oci_layouts import Layout
from .servers import DockyardProcess

pytestmark = pytest.mark.e2e

POLICY = {"rules": [
    {"rulePriority": 1, "description": "keep one untagged image",
     "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
     "action": {"type": "expire"}},
    {"rulePriority": 2, "description": "keep the two newest builds",
     "selection": {"tagStatus": "tagged", "tagPatternList": ["build-*"],
                   "countType": "imageCountMoreThan", "countNumber": 2},
     "action": {"type": "expire"}},
]}


def dockyard(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "dockyard", *args], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_put_preview_run_and_describe_with_the_aws_cli(dockyard_server: DockyardProcess,
                                                       registry_password: str, tmp_path: Path):
    env = dockyard_server.env()
    repo = unique("lifecycle/app")
    aws(env, "ecr", "create-repository", "--repository-name", repo)
    layout = Layout(tmp_path / "layout", pool_size=3, layer_size=8 * 1024)
    pushed: dict[str, str] = {}

    def push(name: str, tag: str) -> None:
        image = layout.build(shared=2)
        skopeo("copy", "--dest-tls-verify=false", "--dest-creds", f"AWS:{registry_password}",
               f"oci:{layout.path}:{image.ref}", f"docker://{dockyard_server.host}/{repo}:{tag}")
        pushed[name] = image.digest

    for i in range(1, 5):
        push(f"build-{i}", f"build-{i}")
    for name in ("first", "second", "third"):  # `latest` moves on: the earlier two are untagged
        push(name, "latest")

    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(POLICY, indent=2))
    put = json.loads(aws(env, "ecr", "put-lifecycle-policy", "--repository-name", repo,
                         "--lifecycle-policy-text", f"file://{policy_file}").stdout)
    assert json.loads(put["lifecyclePolicyText"]) == POLICY

    started = json.loads(aws(env, "ecr", "start-lifecycle-policy-preview",
                             "--repository-name", repo).stdout)
    assert started["status"] == "IN_PROGRESS"
    aws(env, "ecr", "wait", "lifecycle-policy-preview-complete", "--repository-name", repo)
    preview = json.loads(aws(env, "ecr", "get-lifecycle-policy-preview",
                             "--repository-name", repo).stdout)
    assert preview["status"] == "COMPLETE"
    expiring = {r["imageDigest"]: r for r in preview["previewResults"]}
    expected = {pushed["first"]: 1, pushed["build-1"]: 2, pushed["build-2"]: 2}
    assert {d: r["appliedRulePriority"] for d, r in expiring.items()} == expected
    assert preview["summary"]["expiringImageTotalCount"] == 3
    assert all(r["action"]["type"] == "EXPIRE" for r in expiring.values())

    out = dockyard(env, "lifecycle", "run", repo)
    assert "3 images expired in 1 repositories" in out
    for digest in expected:
        assert f"expired {repo}@{digest}" in out

    images = json.loads(aws(env, "ecr", "describe-images", "--repository-name", repo).stdout)
    survivors = {d["imageDigest"]: sorted(d.get("imageTags", [])) for d in images["imageDetails"]}
    assert survivors == {pushed["build-3"]: ["build-3"], pushed["build-4"]: ["build-4"],
                         pushed["second"]: [], pushed["third"]: ["latest"]}

    policy = json.loads(aws(env, "ecr", "get-lifecycle-policy", "--repository-name", repo).stdout)
    assert "lastEvaluatedAt" in policy
    history = dockyard(env, "lifecycle", "history", repo)
    assert sum(f"{repo}@" in line for line in history.splitlines()) == 3
    assert f"{repo}@{pushed['first']} <untagged> rule 1" in history
    assert f"{repo}@{pushed['build-1']} build-1 rule 2" in history

    usage = json.loads(dockyard(env, "storage", repo, "--json"))
    [row] = usage["repositories"]
    assert row["repositoryName"] == repo and row["imageCount"] == 4
    assert "would free" in dockyard(env, "gc", "--dry-run")

    # nothing is left to expire: a second run is a no-op
    assert "0 images would expire" in dockyard(env, "lifecycle", "run", repo, "--dry-run")
