"""Helpers for the IAM end-to-end tests: identities made with the real `aws iam` CLI, clients that
act as them (aws CLI environments, docker CLIs with their own DOCKER_CONFIG on the suite's dockerd).
"""

from __future__ import annotations

import json
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .clients import Docker, aws, output, require, run
from .images import unique
from .servers import DockyardProcess

AWS_MANAGED = "arn:aws:iam::aws:policy/"
PUSH_ACTIONS = ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
                "ecr:PutImage", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer"]


def document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@dataclass
class Identity:
    """Credentials of an IAM user or a role session, as a client environment."""

    name: str
    arn: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def env(self, server: DockyardProcess) -> dict[str, str]:
        env = server.env(self.access_key_id, self.secret_access_key)
        if self.session_token:
            env["AWS_SESSION_TOKEN"] = self.session_token
        return env


def create_user(server: DockyardProcess, prefix: str, *, managed: tuple[str, ...] = (),
                inline: dict[str, str] | None = None) -> Identity:
    """`aws iam create-user`, `attach-user-policy` (AWS managed names), `put-user-policy`,
    `create-access-key`, all as the administrator."""
    admin = server.env()
    name = unique(prefix)
    user = json.loads(aws(admin, "iam", "create-user", "--user-name", name).stdout)["User"]
    assert user["UserName"] == name
    for policy in managed:
        aws(admin, "iam", "attach-user-policy", "--user-name", name,
            "--policy-arn", AWS_MANAGED + policy)
    for policy_name, text in (inline or {}).items():
        aws(admin, "iam", "put-user-policy", "--user-name", name, "--policy-name", policy_name,
            "--policy-document", text)
    key = json.loads(aws(admin, "iam", "create-access-key", "--user-name", name).stdout)
    key = key["AccessKey"]
    assert key["UserName"] == name and key["Status"] == "Active"
    return Identity(name, user["Arn"], key["AccessKeyId"], key["SecretAccessKey"])


def user_docker(dockerd: Docker, name: str) -> Docker:
    """A docker CLI on the suite's dockerd with a DOCKER_CONFIG of its own (its own logins)."""
    config = Path(tempfile.mkdtemp(prefix=f"dye2e-cfg-{name[:8]}-", dir="/tmp"))
    return Docker(dockerd.socket, dockerd.exec_root, config)


def pipe_login(server: DockyardProcess, who: Identity, docker: Docker, *, check: bool = True):  # type: ignore[no-untyped-def]
    """`aws ecr get-login-password --region us-east-1 | docker login --username AWS
    --password-stdin HOST`, with ``who``'s credentials and ``docker``'s config."""
    aws_cli = require("aws")
    result = run(f"{shlex.quote(aws_cli)} ecr get-login-password --region us-east-1 | "
                 f"docker login --username AWS --password-stdin {shlex.quote(server.host)}",
                 {**who.env(server), **docker.env()}, shell=True, check=check)
    if check:
        assert "Login Succeeded" in result.stdout, output(result)
    return result


def dockyard_cli(server: DockyardProcess, *args: str, check: bool = True):  # type: ignore[no-untyped-def]
    """The operator's CLI next to the server (same DOCKYARD_DATA_DIR)."""
    return run([sys.executable, "-m", "dockyard", *args],
               {**server.env(), "DOCKYARD_DATA_DIR": str(server.data_dir)}, check=check,
               timeout=120)


def access_denied(result, action: str) -> str:  # type: ignore[no-untyped-def]
    """The aws CLI's AccessDeniedException for ``action``; the message."""
    text = output(result)
    assert result.returncode != 0, text
    assert "AccessDeniedException" in text, text
    assert f"is not authorized to perform: {action}" in text, text
    return text
