"""`dockyard access-key ...` on the data directory of a running server, seen by real clients."""

from __future__ import annotations

import base64
import re
import sys
import time

import httpx
import pytest
from botocore.exceptions import ClientError

from .clients import Docker, output, run
from .conftest import ecr_client
from .servers import DockyardProcess

pytestmark = pytest.mark.e2e

PASSWORD_CACHE_SECONDS = 5  # the server trusts a checked registry password this long


def dockyard(server: DockyardProcess, *args: str, check: bool = True):  # type: ignore[no-untyped-def]
    """The admin CLI, as an operator runs it next to the server (same DOCKYARD_DATA_DIR)."""
    return run([sys.executable, "-m", "dockyard", *args], server.env(), check=check, timeout=60)


def _parse_key(text: str) -> tuple[str, str]:
    key_id = re.search(r"^AccessKeyId: (\S+)$", text, re.M)
    secret = re.search(r"^SecretAccessKey: (\S+)$", text, re.M)
    assert key_id and secret, text
    return key_id[1], secret[1]


def _listed(server: DockyardProcess, out: str | None = None) -> dict[str, str]:
    """access key id -> status, from `dockyard access-key list`."""
    out = dockyard(server, "access-key", "list").stdout if out is None else out
    keys = {}
    for line in out.splitlines():
        fields = line.split()
        if fields and fields[0].startswith("AKIA"):
            keys[fields[0]] = next(f for f in fields if f in ("Active", "Inactive"))
    return keys


def _password(server: DockyardProcess, key_id: str, secret: str) -> str:
    token = ecr_client(server, key_id, secret).get_authorization_token()
    return base64.b64decode(token["authorizationData"][0]["authorizationToken"]).decode()[4:]


def _registry_status(server: DockyardProcess, password: str) -> int:
    return httpx.get(f"{server.endpoint}/v2/", auth=("AWS", password)).status_code


def _sigv4_error(server: DockyardProcess, key_id: str, secret: str) -> str | None:
    try:
        ecr_client(server, key_id, secret).describe_repositories(maxResults=1)
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return None


def test_access_key_lifecycle(dockyard_server: DockyardProcess, docker: Docker) -> None:
    try:
        _lifecycle(dockyard_server, docker)
    finally:
        # docker was logged in with a key this test deletes: log it back in as the administrator
        docker.login(dockyard_server.host, _password(
            dockyard_server, dockyard_server.access_key_id or "",
            dockyard_server.secret_access_key or ""))


def _lifecycle(server: DockyardProcess, docker: Docker) -> None:
    created = dockyard(server, "access-key", "create")
    first_id, first_secret = _parse_key(created.stdout)
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", first_id)
    assert len(first_secret) == 40

    listing = dockyard(server, "access-key", "list").stdout
    assert first_secret not in listing and (server.secret_access_key or "") not in listing
    keys = _listed(server, listing)
    assert keys[first_id] == "Active"
    assert keys[server.access_key_id or ""] == "Active"

    # the new key signs requests and gets registry passwords
    assert _sigv4_error(server, first_id, first_secret) is None
    first_password = _password(server, first_id, first_secret)
    assert _registry_status(server, first_password) == 200

    # rotate: a new key for the same user; the old one is deactivated at once for SigV4
    rotated = dockyard(server, "access-key", "rotate", first_id)
    second_id, second_secret = _parse_key(rotated.stdout)
    assert second_id != first_id and second_secret != first_secret
    keys = _listed(server)
    assert (keys[first_id], keys[second_id]) == ("Inactive", "Active")
    assert _sigv4_error(server, first_id, first_secret) == "UnrecognizedClientException"
    assert _sigv4_error(server, second_id, second_secret) is None
    second_password = _password(server, second_id, second_secret)
    assert _registry_status(server, second_password) == 200
    docker.login(server.host, second_password)

    # delete: SigV4 refused at once, passwords once the server's 5 s password cache has passed
    deleted = dockyard(server, "access-key", "delete", second_id)
    assert second_id in deleted.stdout
    assert _sigv4_error(server, second_id, second_secret) == "UnrecognizedClientException"
    time.sleep(PASSWORD_CACHE_SECONDS + 1)
    assert _registry_status(server, second_password) == 401
    assert _registry_status(server, first_password) == 401
    refused = docker("login", "--username", "AWS", "--password-stdin", server.host,
                     input=second_password, check=False)
    assert refused.returncode != 0
    assert "401" in output(refused) or "unauthorized" in output(refused).lower(), output(refused)

    # deleting a key that does not exist says so
    missing = dockyard(server, "access-key", "delete", second_id, check=False)
    assert missing.returncode != 0
    assert second_id in output(missing)

    dockyard(server, "access-key", "delete", first_id)
    keys = _listed(server)
    assert first_id not in keys and second_id not in keys
    assert keys[server.access_key_id or ""] == "Active"
    # the administrator key was never touched
    assert _sigv4_error(server, server.access_key_id or "", server.secret_access_key or "") is None
