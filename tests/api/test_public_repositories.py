"""Public repositories: anonymous pulls work; nothing else is anonymous."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dockyard.cli import main

from .conftest import Oci, assert_oci_error, oci_image


@pytest.fixture
def published(app, ecr, oci: Oci):  # type: ignore[no-untyped-def]
    ecr.create_repository("team/open")
    ecr.create_repository("team/closed")
    image = oci_image("public")
    oci.push_image("team/open", image, "v1")
    oci.push_image("team/closed", image, "v1")
    return image


def _make_public(settings, name: str) -> None:  # type: ignore[no-untyped-def]
    env = {"DOCKYARD_DATA_DIR": str(settings.data_dir),
           "DOCKYARD_ADMIN_ACCESS_KEY_ID": settings.admin_access_key_id}
    result = CliRunner().invoke(main, ["repository", "visibility", name, "public"], env=env)
    assert result.exit_code == 0, result.output
    listed = CliRunner().invoke(main, ["repository", "list"], env=env)
    assert any(line.split()[:2] == [name, "public"] for line in listed.output.splitlines())


def test_anonymous_pull_of_a_public_repository(app, settings, oci: Oci, published):
    assert_oci_error(oci.get("/v2/team/open/manifests/v1", auth=None), 401, "UNAUTHORIZED")
    _make_public(settings, "team/open")
    # the CLI changed the database behind this app: drop its 2-second authorization cache
    app.services.repositories.authz.forget()

    manifest = oci.get("/v2/team/open/manifests/v1", auth=None)
    assert manifest.status_code == 200 and manifest.content == published.manifest
    for digest, data in published.blobs.items():
        blob = oci.get(f"/v2/team/open/blobs/{digest}", auth=None)
        assert blob.status_code == 200 and blob.content == data
    listed = oci.get("/v2/team/open/tags/list", auth=None)  # as in ECR Public
    assert listed.status_code == 200 and listed.json() == {"name": "team/open", "tags": ["v1"]}


def test_nothing_else_is_anonymous(app, settings, oci: Oci, published):
    _make_public(settings, "team/open")
    app.services.repositories.authz.forget()
    assert_oci_error(oci.get("/v2/team/closed/manifests/v1", auth=None), 401, "UNAUTHORIZED")
    assert_oci_error(oci.post("/v2/team/open/blobs/uploads/", auth=None), 401, "UNAUTHORIZED")
    assert_oci_error(oci.delete(f"/v2/team/open/manifests/{published.digest}", auth=None), 401)
    assert_oci_error(oci.get("/v2/team/closed/tags/list", auth=None), 401, "UNAUTHORIZED")
    assert_oci_error(oci.get("/v2/_catalog", auth=None), 401, "UNAUTHORIZED")
    pushed = oci.put("/v2/team/open/manifests/v2", auth=None, content=published.manifest,
                     headers={"Content-Type": published.media_type})
    assert_oci_error(pushed, 401, "UNAUTHORIZED")
