"""dockyard.iamapi.query: the IAM/STS query protocol, checked against botocore's own serializer
and parser for the iam and sts service models (the spec the AWS CLI and boto3 follow)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import quote

import botocore.session
import pytest
from botocore.handlers import json_decode_policies
from botocore.parsers import QueryParser
from botocore.serialize import QuerySerializer

from dockyard.domain.iam import IamRole, IamUser
from dockyard.errors import (
    AccessDenied,
    AccessKeyNotFound,
    DeleteConflict,
    EntityAlreadyExists,
    ExpiredToken,
    IamLimitExceeded,
    IncorrectPassword,
    InvalidSignature,
    InvalidUserType,
    MalformedPolicyDocument,
    NoSuchEntity,
    PasswordPolicyViolation,
    ServerError,
    Unauthenticated,
    UnrecognizedClient,
    ValidationError,
)
from dockyard.iamapi import shapes
from dockyard.iamapi.app import query_error
from dockyard.iamapi.call import QueryCall
from dockyard.iamapi.query import (
    IAM_VERSION,
    STS_VERSION,
    nest,
    parse_form,
    render_error,
    render_result,
)

_SESSION = botocore.session.get_session()
IAM = _SESSION.get_service_model("iam")
STS = _SESSION.get_service_model("sts")
WHEN = datetime(2024, 5, 1, 12, 30, 15, tzinfo=timezone.utc)


def serialized(model, operation: str, params: dict) -> dict:
    """What botocore sends for ``operation`` (form fields), decoded by our parser."""
    op = model.operation_model(operation)
    body = QuerySerializer().serialize_to_request(params, op)["body"]
    text = body if isinstance(body, str) else "&".join(f"{k}={quote(str(v), safe='')}"
                                                      for k, v in body.items())
    return parse_form(text.encode())


def parsed(model, operation: str, xml: bytes, status: int = 200) -> dict:
    """What botocore makes of our response for ``operation``."""
    op = model.operation_model(operation)
    result = QueryParser().parse({"body": xml, "headers": {}, "status_code": status},
                                 op.output_shape)
    result.pop("ResponseMetadata", None)
    return result


# --- requests -------------------------------------------------------------------------------------
def test_scalars_and_version_come_through() -> None:
    flat = serialized(IAM, "CreateUser", {"UserName": "bob", "Path": "/team/"})
    assert flat == {"Action": "CreateUser", "Version": IAM_VERSION, "UserName": "bob",
                    "Path": "/team/"}


def test_structure_lists_become_lists_of_dicts() -> None:
    flat = serialized(IAM, "CreateUser", {"UserName": "bob", "Tags": [
        {"Key": "team", "Value": "a&b=c"}, {"Key": "env", "Value": ""}]})
    assert nest(flat)["Tags"] == [{"Key": "team", "Value": "a&b=c"}, {"Key": "env", "Value": ""}]


def test_string_lists_keep_their_order_past_nine_members() -> None:
    keys = [f"k{i}" for i in range(12)]
    flat = serialized(IAM, "UntagUser", {"UserName": "bob", "TagKeys": keys})
    assert nest(flat)["TagKeys"] == keys


def test_sts_policy_arns_and_duration() -> None:
    flat = serialized(STS, "AssumeRole", {
        "RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "s",
        "DurationSeconds": 900, "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/A"}]})
    params = nest(flat)
    assert params["Version"] == STS_VERSION
    assert params["DurationSeconds"] == "900"
    assert params["PolicyArns"] == [{"arn": "arn:aws:iam::aws:policy/A"}]


def test_policy_documents_survive_form_encoding() -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "ecr:*", "Resource": "arn:aws:ecr:*:*:repository/a+b%"}]})
    flat = serialized(IAM, "PutUserPolicy", {"UserName": "u", "PolicyName": "p",
                                             "PolicyDocument": document})
    assert flat["PolicyDocument"] == document


@pytest.mark.parametrize("flat", [
    {"Tags.member.1": "x", "Tags.member.1.Key": "k"},
    {"A..B": "x"},
    {".".join(["A"] * 5000): "x"},
])
def test_conflicting_or_malformed_names_are_validation_errors(flat: dict) -> None:
    with pytest.raises(ValidationError):
        nest(flat)


def test_too_many_parameters_are_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        parse_form("&".join(f"P{i}=v" for i in range(5000)).encode())


def test_a_body_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse_form(b"Action=%FF%FE&Version=2010-05-08" + bytes([0xff]))


# --- responses ------------------------------------------------------------------------------------
def test_a_structure_result_parses_with_dates_and_tags() -> None:
    user = IamUser("AIDAEXAMPLE", "bob", "/team/", "arn:aws:iam::123456789012:user/team/bob", WHEN,
                   (("team", "a<b>&c"),))
    xml = render_result("GetUser", IAM_VERSION, {"User": shapes.user(user, with_tags=True)}, "r1")
    assert xml.startswith(b"<?xml")
    assert b'<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">' in xml
    result = parsed(IAM, "GetUser", xml)
    assert result["User"]["UserName"] == "bob"
    assert result["User"]["Path"] == "/team/"
    assert result["User"]["CreateDate"] == WHEN
    assert result["User"]["Tags"] == [{"Key": "team", "Value": "a<b>&c"}]


def test_lists_booleans_and_markers_parse() -> None:
    users = [shapes.user(IamUser(f"AIDA{i}", f"u{i}", "/", f"arn:aws:iam::1:user/u{i}", WHEN))
             for i in range(3)]
    xml = render_result("ListUsers", IAM_VERSION,
                        {"Users": users, "IsTruncated": True, "Marker": "abc="}, "r2")
    result = parsed(IAM, "ListUsers", xml)
    assert [u["UserName"] for u in result["Users"]] == ["u0", "u1", "u2"]
    assert result["IsTruncated"] is True
    assert result["Marker"] == "abc="


def test_an_empty_list_parses_as_empty() -> None:
    xml = render_result("ListUserPolicies", IAM_VERSION, {"PolicyNames": [], "IsTruncated": False},
                        "r3")
    assert parsed(IAM, "ListUserPolicies", xml) == {"PolicyNames": [], "IsTruncated": False}


def test_operations_without_a_result_have_only_response_metadata() -> None:
    xml = render_result("DeleteUser", IAM_VERSION, None, "req-9")
    assert b"DeleteUserResult" not in xml
    assert b"<RequestId>req-9</RequestId>" in xml


def test_policy_documents_go_out_url_encoded_and_botocore_decodes_them() -> None:
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
        "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "a b%c"}}}]})
    role = IamRole("AROAEXAMPLE", "r", "/", "arn:aws:iam::123456789012:role/r", trust, 3600, WHEN)
    xml = render_result("GetRole", IAM_VERSION, {"Role": shapes.role(role)}, "r4")
    result = parsed(IAM, "GetRole", xml)
    assert result["Role"]["AssumeRolePolicyDocument"] == quote(trust, safe="")
    json_decode_policies(result, IAM.operation_model("GetRole"))
    assert result["Role"]["AssumeRolePolicyDocument"] == json.loads(trust)
    assert result["Role"]["MaxSessionDuration"] == 3600


def test_sts_results_use_the_sts_namespace() -> None:
    xml = render_result("GetCallerIdentity", STS_VERSION,
                        {"UserId": "AIDA1", "Account": "123456789012",
                         "Arn": "arn:aws:iam::123456789012:user/bob"}, "r5")
    assert b'xmlns="https://sts.amazonaws.com/doc/2011-06-15/"' in xml
    assert parsed(STS, "GetCallerIdentity", xml) == {
        "UserId": "AIDA1", "Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/bob"}


def test_assume_role_credentials_parse() -> None:
    xml = render_result("AssumeRole", STS_VERSION, {
        "Credentials": {"AccessKeyId": "ASIAEXAMPLE", "SecretAccessKey": "s", "SessionToken": "t+/=",
                        "Expiration": WHEN},
        "AssumedRoleUser": {"AssumedRoleId": "AROA1:s", "Arn": "arn:aws:sts::1:assumed-role/r/s"},
        "PackedPolicySize": 7}, "r6")
    result = parsed(STS, "AssumeRole", xml)
    assert result["Credentials"]["Expiration"] == WHEN
    assert result["Credentials"]["SessionToken"] == "t+/="
    assert result["PackedPolicySize"] == 7


# --- errors ---------------------------------------------------------------------------------------
def test_errors_parse_with_code_message_and_type() -> None:
    xml = render_error("NoSuchEntity", "The user with name x cannot be found.", 404, "req-1")
    result = QueryParser().parse({"body": xml, "headers": {}, "status_code": 404},
                                 IAM.operation_model("GetUser").output_shape)
    assert result["Error"]["Code"] == "NoSuchEntity"
    assert result["Error"]["Message"] == "The user with name x cannot be found."
    assert result["Error"]["Type"] == "Sender"
    assert result["ResponseMetadata"]["RequestId"] == "req-1"


def test_server_errors_are_receiver_faults() -> None:
    assert b"<Type>Receiver</Type>" in render_error("ServiceFailure", "boom", 500, "r")


@pytest.mark.parametrize(("error", "code", "status"), [
    (NoSuchEntity("x"), "NoSuchEntity", 404),
    (AccessKeyNotFound("x"), "NoSuchEntity", 404),
    (EntityAlreadyExists("x"), "EntityAlreadyExists", 409),
    (DeleteConflict("x"), "DeleteConflict", 409),
    (IamLimitExceeded("x"), "LimitExceeded", 409),
    (MalformedPolicyDocument("x"), "MalformedPolicyDocument", 400),
    (ValidationError("x"), "ValidationError", 400),
    (AccessDenied("x"), "AccessDenied", 403),
    (IncorrectPassword("x"), "AccessDenied", 403),
    (InvalidUserType("x"), "InvalidUserType", 400),
    (PasswordPolicyViolation("x"), "PasswordPolicyViolation", 400),
    (UnrecognizedClient("x"), "InvalidClientTokenId", 403),
    (ExpiredToken("x"), "ExpiredToken", 403),
    (InvalidSignature("x"), "SignatureDoesNotMatch", 403),
    (Unauthenticated("x"), "MissingAuthenticationToken", 403),
    (ServerError("x"), "ServiceFailure", 500),
])
def test_error_codes_and_statuses_follow_the_iam_model(error, code: str, status: int) -> None:
    assert query_error(error, "iam") == (code, status)
    shape = next((s for s in IAM.error_shapes if s.metadata.get("error", {}).get("code") == code),
                 None)
    if shape is not None:  # the codes botocore knows keep botocore's HTTP status
        assert shape.metadata["error"]["httpStatusCode"] == status


# --- paging ---------------------------------------------------------------------------------------
def _call(**params: str) -> QueryCall:
    return QueryCall(caller=None, access_key_id="", services=None, params=params)  # type: ignore[arg-type]


def test_pages_follow_markers_to_the_end() -> None:
    items = list(range(7))
    seen, marker = [], None
    while True:
        params = {"MaxItems": "3", **({"Marker": marker} if marker else {})}
        page, extra = _call(**params).page(items)
        seen += page
        if not extra["IsTruncated"]:
            assert "Marker" not in extra
            break
        marker = extra["Marker"]
    assert seen == items


@pytest.mark.parametrize("params", [{"MaxItems": "0"}, {"MaxItems": "1001"}, {"MaxItems": "x"},
                                    {"Marker": "!!not-a-marker"}])
def test_bad_paging_parameters_are_validation_errors(params: dict) -> None:
    with pytest.raises(ValidationError):
        _call(**params).page([1, 2, 3])
