"""The registry's Basic challenge: who gets a 401, against the live server over real HTTP."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from .images import unique
from .conftest import ecr_client
from .servers import DockyardProcess

pytestmark = pytest.mark.e2e


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _assert_challenge(response: httpx.Response) -> None:
    assert response.status_code == 401, (response.status_code, response.text)
    challenge = response.headers.get("www-authenticate", "")
    assert challenge.startswith("Basic "), challenge
    assert 'realm="' in challenge
    if response.request.method != "HEAD":
        assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


class _PastClock:
    def __init__(self, delta: timedelta) -> None:
        self.delta = delta

    def now(self) -> datetime:
        return datetime.now(timezone.utc) - self.delta


def expired_password(server: DockyardProcess) -> str:
    """A registry password issued 13 hours ago (valid 12 h) for the server's administrator key.

    Minted the way the server mints them, with the server's own token key from its data
    directory, as `GetAuthorizationToken` would have answered 13 hours ago.
    """
    from dockyard.app import open_identity
    from dockyard.settings import Settings

    db, identity, _ = open_identity(Settings(data_dir=server.data_dir),
                                    clock=_PastClock(timedelta(hours=13)))
    try:
        principal = identity.store.principal_by_name("user", "admin")
        assert principal is not None
        claims = identity.issue_password(principal, server.access_key_id)
        assert claims.expires_at < datetime.now(timezone.utc)
        return identity.password(claims)
    finally:
        db.engine.dispose()


def test_valid_password_opens_the_api_base(dockyard_server: DockyardProcess,
                                           registry_password: str) -> None:
    response = httpx.get(f"{dockyard_server.endpoint}/v2/", headers=_basic("AWS", registry_password))
    assert response.status_code == 200
    assert response.headers["docker-distribution-api-version"] == "registry/2.0"


@pytest.mark.parametrize("method,path", [
    ("GET", "/v2/"), ("HEAD", "/v2/"), ("GET", "/v2"),
    ("GET", "/v2/_catalog"),
    ("GET", "/v2/{repo}/tags/list"), ("GET", "/v2/{repo}/manifests/latest"),
    ("HEAD", "/v2/{repo}/manifests/latest"), ("POST", "/v2/{repo}/blobs/uploads/"),
    ("GET", "/v2/does-not-exist/tags/list"),
])
def test_anonymous_requests_are_challenged(dockyard_server: DockyardProcess, method: str,
                                           path: str) -> None:
    repo = "auth-probe"
    try:
        ecr_client(dockyard_server).create_repository(repositoryName=repo)
    except ecr_client(dockyard_server).exceptions.RepositoryAlreadyExistsException:
        pass
    response = httpx.request(method, dockyard_server.endpoint + path.format(repo=repo))
    _assert_challenge(response)


@pytest.mark.parametrize("case", ["garbage", "wrong-user", "tampered", "truncated", "bearer",
                                  "not-base64", "empty", "expired", "sigv4-secret"])
def test_bad_credentials_are_challenged(dockyard_server: DockyardProcess, registry_password: str,
                                        case: str) -> None:
    headers = {
        "garbage": _basic("AWS", "this-is-not-a-password"),
        "wrong-user": _basic("admin", registry_password),
        # flip one character of the signature part
        "tampered": _basic("AWS", registry_password[:-2]
                           + ("A" if registry_password[-2] != "A" else "B")
                           + registry_password[-1]),
        "truncated": _basic("AWS", registry_password[: len(registry_password) // 2]),
        "bearer": {"Authorization": f"Bearer {registry_password}"},
        "not-base64": {"Authorization": "Basic %%%not-base64%%%"},
        "empty": _basic("AWS", ""),
        "expired": _basic("AWS", expired_password(dockyard_server)) if case == "expired" else {},
        # the secret access key is not a registry password
        "sigv4-secret": _basic("AWS", dockyard_server.secret_access_key or ""),
    }[case]
    for path in ("/v2/", f"/v2/{unique('nothing')}/tags/list"):
        response = httpx.get(dockyard_server.endpoint + path, headers=headers)
        _assert_challenge(response)


def test_expired_password_message(dockyard_server: DockyardProcess) -> None:
    response = httpx.get(f"{dockyard_server.endpoint}/v2/",
                         headers=_basic("AWS", expired_password(dockyard_server)))
    _assert_challenge(response)
    assert "expired" in response.json()["errors"][0]["message"].lower()
