"""The audit trail records ECR API calls and registry pushes, pulls and deletes, allowed or not."""

from __future__ import annotations

from dockyard.domain.audit import ALLOW, DENY

from .conftest import Ecr, Oci, oci_image


def _records(app):  # type: ignore[no-untyped-def]
    app.services.audit.flush()
    return app.services.audit.query(limit=1000)


def test_ecr_calls_and_registry_pulls_pushes_and_deletes_are_recorded(app, ecr: Ecr, oci: Oci):
    ecr.create_repository("team/audited")
    image = oci_image("audit")
    oci.push_image("team/audited", image, "v1")
    assert oci.get("/v2/team/audited/manifests/v1").status_code == 200
    assert oci.delete(f"/v2/team/audited/manifests/{image.digest}").status_code == 202

    records = _records(app)
    by_action = {}
    for record in records:
        by_action.setdefault(record.action, []).append(record)
    create = by_action["ecr:CreateRepository"][0]
    assert create.decision == ALLOW and create.access_key_id and create.principal_arn.endswith(":user/admin")
    assert create.resource.endswith(":repository/team/audited") and create.request_id
    assert [r.resource.endswith("repository/team/audited") for r in by_action["ecr:PutImage"]] == [True]
    assert by_action["ecr:BatchGetImage"][0].decision == ALLOW
    delete = by_action["ecr:BatchDeleteImage"][0]
    assert delete.principal_arn.endswith(":user/admin") and delete.access_key_id


def test_refused_requests_are_recorded_as_denied(app, client, ecr: Ecr, oci: Oci):
    ecr.create_repository("team/secret")
    stranger = Ecr(client, "AKIAUNKNOWNKEY000000", "x" * 40)
    stranger.call("DescribeRepositories")
    oci.get("/v2/team/secret/manifests/v1", auth=None)

    records = _records(app)
    denied = [r for r in records if r.decision == DENY]
    assert {r.action for r in denied} >= {"ecr:DescribeRepositories", "ecr:BatchGetImage"}
    assert any(r.error_code == "UnrecognizedClientException" for r in denied)
