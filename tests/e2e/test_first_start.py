"""The first start of a server without DOCKYARD_ADMIN_*: credentials printed once, secrets kept private."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from .clients import aws, login_password
from .conftest import ecr_client
from .servers import DockyardProcess, free_port

pytestmark = pytest.mark.e2e


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_start_prints_credentials_once(tmp_path: Path) -> None:
    server = DockyardProcess(tmp_path / "data", free_port(), access_key_id=None,
                             secret_access_key=None)
    server.start()
    try:
        first = server.stdout()
        key_ids = re.findall(r"aws configure set aws_access_key_id (\S+)", first)
        secrets = re.findall(r"aws configure set aws_secret_access_key (\S+)", first)
        assert len(key_ids) == 1 and len(secrets) == 1, first
        key_id, secret = key_ids[0], secrets[0]
        assert re.fullmatch(r"AKIA[A-Z0-9]{16}", key_id)
        assert len(secret) == 40 and not secret.startswith("<")
        assert first.count(secret) == 1 and first.count(key_id) == 1
        assert re.search(rf"^\s*export AWS_ENDPOINT_URL={re.escape(server.endpoint)}\s*$", first,
                         re.M), first

        # the printed credentials are the administrator's: the aws CLI works with them
        env = server.env(key_id, secret)
        password = login_password(env)
        aws(env, "ecr", "create-repository", "--repository-name", "first-start")
        assert [r["repositoryName"] for r in ecr_client(server, key_id, secret)
                .describe_repositories()["repositories"]] == ["first-start"]
        # a wrong password in a request must not end up in the log either
        aws(server.env(key_id, "W" * 40), "ecr", "describe-repositories", check=False)

        # restart on the same data directory: no new key, no secret printed
        server.stop()
        server.start()
        second = server.stdout()
        assert secret not in second
        assert "aws_secret_access_key" not in second
        assert not re.search(r"AKIA[A-Z0-9]{16}", second), second
        assert [r["repositoryName"] for r in ecr_client(server, key_id, secret)
                .describe_repositories()["repositories"]] == ["first-start"]

        # the secret and the registry password never reach the log (stderr)
        for start in (1, 2):
            log = server.stderr(start)
            assert secret not in log
            assert password not in log
        _assert_private(server.data_dir, secret)  # while running (SQLite's -wal/-shm exist)
    finally:
        server.stop()
    _assert_private(server.data_dir, secret)


def _assert_private(data: Path, secret: str) -> None:
    """The data directory and its secrets are private to the server's user."""
    assert _mode(data) & 0o077 == 0, oct(_mode(data))
    assert _mode(data / "secret.key") == 0o600
    db_files = [p for p in data.iterdir() if p.name.startswith("dockyard.db")]
    assert data / "dockyard.db" in db_files
    for path in db_files:
        assert _mode(path) == 0o600, (path.name, oct(_mode(path)))
        # the secret access key is stored encrypted, never in clear
        assert secret.encode() not in path.read_bytes(), path.name


def test_configured_admin_secret_is_not_printed(dockyard_server: DockyardProcess) -> None:
    """With DOCKYARD_ADMIN_SECRET_ACCESS_KEY set, the first start shows a placeholder only."""
    out = dockyard_server.stdout(1)
    assert dockyard_server.access_key_id in out
    assert dockyard_server.secret_access_key not in out
    assert dockyard_server.secret_access_key not in dockyard_server.stderr(1)
    assert "<DOCKYARD_ADMIN_SECRET_ACCESS_KEY>" in out
