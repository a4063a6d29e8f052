"""A live Dockyard (``python -m dockyard serve``) for the IAM/STS API tests, and boto3 clients.

The IAM and STS tests drive the real query protocol with boto3 and the aws CLI over HTTP, so
they use a server process (the launcher of ``tests/e2e/servers.py``), one per test module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from e2e.servers import REGION, DockyardProcess, free_port

from .live_server import running

NO_RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


@dataclass
class Keys:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None


class Aws:
    """boto3 clients for one set of credentials against the live server."""

    def __init__(self, server: DockyardProcess, keys: Keys) -> None:
        self.server = server
        self.keys = keys

    def client(self, service: str, *, parameter_validation: bool = True) -> Any:
        config = NO_RETRIES.merge(Config(parameter_validation=parameter_validation))
        return boto3.client(service, endpoint_url=server_url(self.server), region_name=REGION,
                            aws_access_key_id=self.keys.access_key_id,
                            aws_secret_access_key=self.keys.secret_access_key,
                            aws_session_token=self.keys.session_token, config=config)

    @property
    def iam(self) -> Any:
        return self.client("iam")

    @property
    def sts(self) -> Any:
        return self.client("sts")

    @property
    def ecr(self) -> Any:
        return self.client("ecr")


def server_url(server: DockyardProcess) -> str:
    return server.endpoint


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def status(exc: pytest.ExceptionInfo[ClientError]) -> int:
    return exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(action: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def new_user(admin: Aws, name: str, *, policies: tuple[str, ...] = (),
             inline: str | None = None) -> Aws:
    """A user with an access key (and managed/inline policies), as a client set of its own."""
    admin.iam.create_user(UserName=name)
    for arn in policies:
        admin.iam.attach_user_policy(UserName=name, PolicyArn=arn)
    if inline is not None:
        admin.iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=inline)
    key = admin.iam.create_access_key(UserName=name)["AccessKey"]
    return Aws(admin.server, Keys(key["AccessKeyId"], key["SecretAccessKey"]))


def dockyard_cli(server: DockyardProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m dockyard ...`` on the server's data directory."""
    return subprocess.run([sys.executable, "-m", "dockyard", *args], env=server.env(),
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DockyardProcess]:
    with running(DockyardProcess(tmp_path_factory.mktemp("iam") / "data", free_port())) as process:
        yield process


@pytest.fixture(scope="module")
def admin(server: DockyardProcess) -> Aws:
    assert server.access_key_id and server.secret_access_key
    return Aws(server, Keys(server.access_key_id, server.secret_access_key))


@pytest.fixture(scope="module")
def account(admin: Aws) -> str:
    return admin.sts.get_caller_identity()["Account"]
