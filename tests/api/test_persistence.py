"""Data written through one app survives a restart: a second app on the same data directory."""

from __future__ import annotations

import os

from starlette.testclient import TestClient

from dockyard.app import bootstrap, create_app

from .conftest import Ecr, Oci, oci_image, registry_password, sha256, with_query


def test_pushed_data_survives_a_restart(app, settings, oci: Oci, ecr: Ecr, registry_id: str) -> None:
    ecr.create_repository("durable", imageTagMutability="IMMUTABLE")
    image = oci_image("durable", layers=2, indent=2)
    oci.push_image("durable", image, "v1")
    monolithic = os.urandom(1500)
    oci.push_blob("durable", monolithic)
    # an upload in progress on the first app
    location = oci.start_upload("durable")
    partial = os.urandom(3000)
    oci.patch(location, content=partial[:1000], headers={"Content-Range": "0-999"})

    assert bootstrap(settings) is None  # the second start finds the registry
    second = create_app(settings)
    assert second.services.identity.registry.registry_id == registry_id
    with TestClient(second) as client:
        # the old password still works: the token key is persisted
        old = Oci(client, oci.password)
        assert old.get("/v2/").status_code == 200
        new = Oci(client, registry_password(second))
        for api in (old, new):
            r = api.get("/v2/durable/manifests/v1")
            assert r.status_code == 200
            assert r.content == image.manifest
            assert r.headers["Content-Type"] == image.media_type
            assert r.headers["Docker-Content-Digest"] == image.digest
            for digest, data in image.blobs.items():
                assert api.get(f"/v2/durable/blobs/{digest}").content == data
            assert api.get(f"/v2/durable/blobs/{sha256(monolithic)}").content == monolithic
        assert new.get("/v2/durable/tags/list").json() == {"name": "durable", "tags": ["v1"]}
        assert new.get("/v2/_catalog").json() == {"repositories": ["durable"]}
        # settings survive too: the repository is still immutable
        other = oci_image("other")
        for digest, data in other.blobs.items():
            new.push_blob("durable", data, digest)
        assert new.put_manifest("durable", "v1", other.manifest, other.media_type).status_code == 400
        described = Ecr(client).ok("DescribeRepositories")["repositories"]
        assert [(r["repositoryName"], r["imageTagMutability"]) for r in described] == [("durable", "IMMUTABLE")]
        # the upload continues on the new app (no running hash there: the digest is recomputed)
        status = new.get(location)
        assert status.status_code == 204
        assert status.headers["Range"] == "0-999"
        r = new.patch(location, content=partial[1000:], headers={"Content-Range": "1000-2999"})
        assert r.status_code == 202, r.text
        done = new.put(with_query(location, digest=sha256(partial)))
        assert done.status_code == 201, done.text
        assert new.get(f"/v2/durable/blobs/{sha256(partial)}").content == partial
