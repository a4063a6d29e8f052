"""End-to-end harness: one live Dockyard server and one dockerd per session, real clients only.

Client binaries that are missing skip their tests, except under ``DOCKYARD_E2E_REQUIRED=1``
(``make test``), where they fail them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from .clients import (
    REQUIRED,
    Docker,
    Podman,
    login_password,
    require,
    start_dockerd,
    stop_dockerd,
)
from .servers import LIVE, REGION, DockyardProcess, free_port


_SERVERS_BEFORE = pytest.StashKey[int]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):  # type: ignore[no-untyped-def]
    item.stash[_SERVERS_BEFORE] = len(LIVE)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """A failing e2e test shows the logs of the Dockyard servers it ran against: the session
    server and the servers it started itself."""
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        before = item.stash.get(_SERVERS_BEFORE, 0)
        servers = [s for s in LIVE[:before] if s.session] + LIVE[before:]
        for server in servers:
            tail = server.log_tail()
            if tail:
                report.sections.append((f"dockyard server log ({server.data_dir})", tail))


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def dockyard_server(e2e_dir: Path) -> Iterator[DockyardProcess]:
    """The session's live server, with fixed administrator keys (DOCKYARD_ADMIN_*)."""
    server = DockyardProcess(e2e_dir / "session" / "data", free_port(), session=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def registry_password(dockyard_server: DockyardProcess) -> str:
    return login_password(dockyard_server.env())


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Docker]:
    """A private dockerd (vfs, no networking); the Docker object carries DOCKER_HOST & DOCKER_CONFIG."""
    require("dockerd", "apt-get install docker.io")
    if os.geteuid() != 0:
        message = "dockerd needs root here (run the e2e suite as root)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    base = Path(tempfile.mkdtemp(prefix="dye2e-", dir="/tmp"))
    proc, docker = start_dockerd(base)
    try:
        yield docker
    finally:
        stop_dockerd(proc, docker)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def docker(dockerd: Docker, dockyard_server: DockyardProcess, registry_password: str) -> Docker:
    """The docker CLI, logged in to the session server."""
    dockerd.login(dockyard_server.host, registry_password)
    return dockerd


@pytest.fixture
def podman_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Fresh podman storage roots (each one is a machine that has never seen the image)."""
    made: list[Path] = []

    def make(name: str = "podman") -> Podman:
        base = Path(tempfile.mkdtemp(prefix=f"dye2e-{name[:4]}-", dir="/tmp"))
        made.append(base)
        return Podman(base)

    yield make
    for base in made:
        # vfs layers of a podman root are plain directories
        shutil.rmtree(base, ignore_errors=True)


def ecr_client(server: DockyardProcess, access_key_id: str | None = None,
               secret_access_key: str | None = None, validate: bool = True):  # type: ignore[no-untyped-def]
    return boto3.client(
        "ecr", region_name=REGION, endpoint_url=server.endpoint,
        aws_access_key_id=access_key_id or server.access_key_id,
        aws_secret_access_key=secret_access_key or server.secret_access_key,
        config=Config(parameter_validation=validate, retries={"max_attempts": 1}))


@pytest.fixture(scope="session")
def ecr(dockyard_server: DockyardProcess):  # type: ignore[no-untyped-def]
    """boto3 ECR client signed with the administrator key."""
    return ecr_client(dockyard_server)
