"""GET /v2/ and the Basic ``AWS:<password>`` authentication every OCI endpoint relies on."""

from __future__ import annotations

import base64

import pytest
from starlette.testclient import TestClient

from dockyard.app import create_app

from .conftest import Oci, assert_oci_error, basic


def _challenged(response) -> None:
    assert_oci_error(response, 401, "UNAUTHORIZED")
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.lower().startswith("basic ")
    assert "realm=" in challenge
    assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"


def test_base_with_a_registry_password_is_200(oci: Oci) -> None:
    r = oci.get("/v2/")
    assert r.status_code == 200
    assert r.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    assert r.json() == {}


def test_base_without_trailing_slash_is_the_same_endpoint(oci: Oci) -> None:
    assert oci.get("/v2").status_code == 200
    _challenged(oci.get("/v2", auth=None))


def test_head_base(oci: Oci) -> None:
    r = oci.head("/v2/")
    assert r.status_code == 200
    assert r.content == b""


def test_base_without_credentials_is_challenged(oci: Oci) -> None:
    _challenged(oci.get("/v2/", auth=None))


@pytest.mark.parametrize("auth", [
    pytest.param(basic("AWS", "not-a-password"), id="no-dot"),
    pytest.param(basic("AWS", "eyJwIjoiQUlEQSJ9.c2lnbmF0dXJl"), id="forged-signature"),
    pytest.param(basic("AWS", "a.b.c"), id="three-parts"),
    pytest.param(basic("AWS", "é.é"), id="non-ascii"),
    pytest.param(basic("AWS", ""), id="empty-password"),
    pytest.param("Basic !!!not-base64!!!", id="garbage-base64"),
    pytest.param("Basic " + base64.b64encode(b"\xff\xfe:\xfd").decode(), id="not-utf8"),
    pytest.param("Basic", id="basic-without-credentials"),
    pytest.param("Bearer abc.def", id="bearer"),
    pytest.param("Digest username=AWS", id="other-scheme"),
])
def test_base_with_bad_credentials_is_challenged(oci: Oci, auth: str) -> None:
    _challenged(oci.get("/v2/", auth=auth))


def test_a_real_password_under_another_user_name_is_refused(oci: Oci) -> None:
    _challenged(oci.get("/v2/", auth=basic("admin", oci.password)))
    _challenged(oci.get("/v2/", auth=basic("aws", oci.password)))


def test_a_tampered_password_is_refused(oci: Oci) -> None:
    payload, mac = oci.password.split(".")
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    _challenged(oci.get("/v2/", auth=basic("AWS", f"{payload}.{flipped}")))


@pytest.mark.parametrize("method,path", [
    ("GET", "/v2/team/app/tags/list"),
    ("GET", "/v2/team/app/manifests/latest"),
    ("HEAD", "/v2/team/app/manifests/latest"),
    ("PUT", "/v2/team/app/manifests/latest"),
    ("DELETE", "/v2/team/app/manifests/latest"),
    ("GET", "/v2/team/app/blobs/sha256:" + "0" * 64),
    ("POST", "/v2/team/app/blobs/uploads/"),
    ("GET", "/v2/team/app/referrers/sha256:" + "0" * 64),
    ("GET", "/v2/_catalog"),
])
def test_every_endpoint_needs_credentials(oci: Oci, repo: str, method: str, path: str) -> None:
    response = oci.request(method, path, auth=None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].lower().startswith("basic ")
    if method != "HEAD":
        assert_oci_error(response, 401, "UNAUTHORIZED")


def test_unknown_repository_is_not_revealed_to_anonymous_callers(oci: Oci) -> None:
    assert oci.get("/v2/nope/tags/list", auth=None).status_code == 401


def test_password_of_a_deactivated_key_stops_working(app, settings, oci: Oci) -> None:
    identity = app.services.identity
    second = identity.create_access_key("admin")
    key = identity.store.access_key(second.access_key_id)
    principal = identity.store.principal(key.principal_id)
    password = identity.password(identity.issue_password(principal, second.access_key_id))
    assert oci.get("/v2/", auth=basic("AWS", password)).status_code == 200
    identity.set_access_key_status(second.access_key_id, "Inactive")
    # a second app on the same data (another worker process) has no verification cache
    with TestClient(create_app(settings)) as other:
        fresh = Oci(other, oci.password)
        _challenged(fresh.get("/v2/", auth=basic("AWS", password)))
        assert fresh.get("/v2/").status_code == 200  # the administrator's own key still works
