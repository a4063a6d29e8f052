"""Deny by default: a principal with no policy is refused by every ECR operation and every /v2/ route.

Operations come from the ECR operation table and routes from the OCI dispatcher, so new ones are
covered automatically. Request bodies are generated from botocore's ECR model with valid values, so
each call reaches its authorization check.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import botocore.session
import pytest

from dockyard.domain.models import Principal
from dockyard.ecr.operations import IMPLEMENTED
from dockyard.oci.routes import _ROUTES

from .conftest import Ecr, Oci, assert_aws_error, assert_oci_error

NOBODY_SECRET = "nobodyNobodyNobodyNobodyNobodyNobody1234"
DIGEST = "sha256:" + "ab" * 32
REPO = "team/app"
MODEL = botocore.session.get_session().get_service_model("ecr")


def _value(name: str, shape: Any, registry_id: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return {m: _value(m, shape.members[m], registry_id) for m in shape.required_members}
    if kind == "list":
        return [_value(name, shape.member, registry_id)]
    if kind == "map":
        return {}
    if kind in ("integer", "long"):
        return max(1, shape.metadata.get("min", 1))
    if kind == "boolean":
        return False
    if kind == "blob":
        return base64.b64encode(b"x").decode()
    if kind == "timestamp":
        return 0
    if shape.enum:
        return shape.enum[0]
    lowered = name.lower()
    if "repositoryname" in lowered or lowered == "repositorynames":
        return REPO
    if "digest" in lowered:
        return DIGEST
    if lowered == "imagetag":
        return "v1"
    if lowered == "uploadid":
        return str(uuid.uuid4())
    if lowered == "resourcearn":
        return f"arn:aws:ecr:us-east-1:{registry_id}:repository/{REPO}"
    if lowered == "registryid":
        return registry_id
    if "policytext" in lowered or lowered == "imagemanifest":
        return json.dumps({"Version": "2012-10-17", "Statement": []})
    return "x" * max(1, shape.metadata.get("min", 1))


@pytest.fixture
def nobody(app, client, ecr):
    """A user with no policy at all, with an access key and a registry password."""
    ecr.create_repository(REPO)
    identity = app.services.identity
    principal = Principal(id="AIDANOBODY0000000000", kind="user", name="nobody",
                          arn=f"arn:aws:iam::{identity.registry.registry_id}:user/nobody")
    identity.store.create_principal(principal, identity.clock.now())
    key = identity.create_access_key("nobody", "AKIANOBODY0000000000", NOBODY_SECRET)
    password = identity.password(identity.issue_password(principal, key.access_key_id))
    return Ecr(client, key.access_key_id, NOBODY_SECRET), Oci(client, password)


@pytest.mark.parametrize("operation", sorted(IMPLEMENTED))
def test_every_ecr_operation_denies_a_principal_without_policy(operation, nobody, registry_id):
    ecr, _ = nobody
    shape = MODEL.operation_model(operation).input_shape
    params = _value(operation, shape, registry_id) if shape is not None else {}
    message = assert_aws_error(ecr.call(operation, **params), "AccessDeniedException")
    assert "arn:aws:iam::" in message and "user/nobody is not authorized to perform: ecr:" in message


def _oci_requests() -> list[tuple[str, str]]:
    requests = [("GET", "/v2/_catalog")]
    fill = {"name": REPO, "ref": DIGEST, "upload_id": str(uuid.uuid4())}
    for pattern, handlers in _ROUTES:
        path = pattern.pattern.strip("^$").replace("/?", "/")
        for group, value in fill.items():
            path = path.replace(f"(?P<{group}>", "\x00", 1)
            if "\x00" in path:
                start = path.index("\x00")
                depth, end = 1, start + 1
                while depth:
                    depth += {"(": 1, ")": -1}.get(path[end], 0)
                    end += 1
                path = path[:start] + value + path[end:]
        for method in handlers:
            query = f"?digest={DIGEST}" if method == "PUT" and "uploads" in path else ""
            requests.append((method, f"/v2/{path}{query}"))
    return requests


@pytest.mark.parametrize(("method", "path"), _oci_requests())
def test_every_oci_route_denies_a_principal_without_policy(method, path, nobody):
    _, oci = nobody
    response = oci.request(method, path, content=b"{}" if method in ("PUT", "PATCH", "POST") else None)
    if path == "/v2/_catalog":
        # the catalog lists only what the caller may describe: nothing, rather than an error
        assert response.status_code == 200 and response.json()["repositories"] == []
        return
    if method == "HEAD":
        assert response.status_code == 403
        return
    assert_oci_error(response, 403, "DENIED")
