"""The AWS JSON 1.1 edge: targets, authentication and malformed requests."""

from __future__ import annotations

from .conftest import TARGET, Ecr, assert_aws_error


def test_unimplemented_operation_is_unknown_operation(ecr: Ecr) -> None:
    import botocore.session
    import pytest

    from dockyard.ecr.operations import IMPLEMENTED

    model = botocore.session.get_session().get_service_model("ecr")
    pending = sorted(set(model.operation_names) - set(IMPLEMENTED))
    if not pending:
        pytest.skip("every operation of botocore's ECR model is implemented")
    r = ecr.call(pending[0])
    assert_aws_error(r, "UnknownOperationException", 400)
    assert pending[0] in r.json()["message"]
    assert r.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert r.headers["x-amzn-RequestId"]


def test_operation_that_does_not_exist_at_all(ecr: Ecr) -> None:
    assert_aws_error(ecr.call("MakeCoffee"), "UnknownOperationException", 400)


def test_target_of_another_service(ecr: Ecr) -> None:
    r = ecr.raw("ListQueues", b"{}", target="AmazonSQS.ListQueues")
    assert_aws_error(r, "UnknownOperationException", 400)
    r = ecr.raw("Nothing", b"{}", target="")
    assert_aws_error(r, "UnknownOperationException", 400)


def test_missing_authorization_header(client) -> None:
    r = client.post("/", content=b"{}", headers={"X-Amz-Target": TARGET + "DescribeRepositories",
                                                 "Content-Type": "application/x-amz-json-1.1"})
    assert_aws_error(r, "MissingAuthenticationTokenException", 403)
    assert r.headers["content-type"].startswith("application/x-amz-json-1.1")


def test_garbage_authorization_header(client) -> None:
    r = client.post("/", content=b"{}", headers={"X-Amz-Target": TARGET + "DescribeRepositories",
                                                 "Content-Type": "application/x-amz-json-1.1",
                                                 "Authorization": "AWS4-HMAC-SHA256 nonsense"})
    assert 400 <= r.status_code < 500
    assert r.json()["__type"] in ("IncompleteSignatureException", "MissingAuthenticationTokenException",
                                  "InvalidSignatureException")


def test_malformed_json_body(ecr: Ecr) -> None:
    for body in (b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"', b"null"):
        r = ecr.raw("DescribeRepositories", body)
        assert 400 <= r.status_code < 500, (body, r.text)
        assert isinstance(r.json()["__type"], str), body
        assert r.json()["message"], body


def test_empty_body_means_no_parameters(ecr: Ecr) -> None:
    r = ecr.raw("DescribeRepositories", b"")
    assert r.status_code == 200, r.text
    assert r.json() == {"repositories": []}


def test_wrong_parameter_types_are_validation_errors(ecr: Ecr) -> None:
    assert_aws_error(ecr.call("DescribeRepositories", maxResults="10"), "ValidationException", 400)
    assert_aws_error(ecr.call("DescribeRepositories", maxResults=True), "ValidationException", 400)
    assert_aws_error(ecr.call("DescribeRepositories", repositoryNames="one"), "ValidationException", 400)
    assert_aws_error(ecr.call("DeleteRepository", repositoryName="x1", force="yes"),
                     "ValidationException", 400)


def test_successful_responses_are_aws_json(ecr: Ecr) -> None:
    r = ecr.call("DescribeRepositories")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/x-amz-json-1.1")
    assert r.headers["x-amzn-RequestId"]


def test_get_on_the_root_is_not_the_aws_api(client) -> None:
    r = client.get("/")
    assert r.status_code == 200


def test_deeply_nested_json_body(ecr: Ecr) -> None:
    r = ecr.raw("DescribeRepositories", b"[" * 100_000 + b"]" * 100_000)
    assert 400 <= r.status_code < 500
    assert r.json()["__type"] in ("ValidationException", "SerializationException")
