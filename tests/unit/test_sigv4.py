"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from unittest import mock
from urllib.parse import urlsplit

import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode_sequence

from dockyard.errors import IncompleteSignature, InvalidSignature
from dockyard.iam import sigv4

AKID = "AKIDEXAMPLE000000001"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SIGNED_AT = datetime(2024, 3, 9, 23, 58, 30, tzinfo=timezone.utc)  # near midnight on purpose


def _frozen(at: datetime):
    return mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None))


def _host(url: str) -> str:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    return parts.hostname if parts.port in (None, default) else f"{parts.hostname}:{parts.port}"


def _wire(prepared) -> dict:
    """What a server would see: method, raw path/query, lower-cased headers (+ Host), body hash."""
    parts = urlsplit(prepared.url)
    headers = {k.lower(): v.decode("utf-8") if isinstance(v, bytes) else v for k, v in prepared.headers.items()}
    headers.setdefault("host", _host(prepared.url))
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    return {
        "method": prepared.method,
        "raw_path": parts.path,
        "raw_query": parts.query,
        "headers": headers,
        "payload_sha256": hashlib.sha256(body).hexdigest(),
    }


def sign(method, url, *, service="ecr", headers=None, data=b"", params=None, at=SIGNED_AT, secret=SECRET):
    request = AWSRequest(method=method, url=url, headers=dict(headers or {}), data=data, params=params)
    with _frozen(at):
        SigV4Auth(Credentials(AKID, secret), service, "us-east-1").add_auth(request)
    return _wire(request.prepare())


def check(wire: dict, *, secret: str = SECRET, now: datetime = SIGNED_AT) -> None:
    auth = sigv4.parse_authorization(wire["headers"]["authorization"])
    sigv4.verify(**wire, auth=auth, secret_access_key=secret, now=now)


def ecr_request(**kw):
    body = json.dumps({"repositoryNames": ["team/app"], "maxResults": 10}).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AmazonEC2ContainerRegistry_V20150921.DescribeRepositories",
    }
    return sign("POST", "https://api.ecr.us-east-1.amazonaws.com/", headers=headers, data=body, **kw)


def iam_request(**kw):
    body = b"Action=ListAccessKeys&UserName=alice%2Bbob&Version=2010-05-08"
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    return sign("POST", "https://iam.amazonaws.com/", service="iam", headers=headers, data=body, **kw)


ODD_PATH = "/v2/My%20Repo/caf%C3%A9/a%2Fb/./x/../tags~list//sub%7Edir/"
ODD_PARAMS = [
    ("z", "last"),
    ("a", "b c"),
    ("a", "a+b"),
    ("a", "1"),
    ("key with space", "é/&=?*"),
    ("empty", ""),
    ("~tilde", "x~y"),
]


def get_request(**kw):
    return sign("GET", "http://localhost:5000" + ODD_PATH, params=ODD_PARAMS, headers={"X-Custom": "  a   b  "}, **kw)


# --- happy paths ------------------------------------------------------------------------------
def test_signing_key_matches_aws_documentation_example():
    key = sigv4.signing_key(SECRET, "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


@pytest.mark.parametrize("make", [ecr_request, iam_request, get_request], ids=["ecr-json", "iam-form", "get-query"])
def test_botocore_signed_requests_verify(make):
    check(make())


def test_get_with_query_already_encoded_in_url():
    # How botocore's serializers build URLs: query pre-encoded with AWS's unreserved set.
    url = "http://localhost:5000" + ODD_PATH + "?" + percent_encode_sequence(ODD_PARAMS)
    check(sign("GET", url))


def test_parse_authorization_fields():
    auth = sigv4.parse_authorization(ecr_request()["headers"]["authorization"])
    assert auth.credential == sigv4.Credential(AKID, "20240309", "us-east-1", "ecr")
    assert auth.signed_headers == ("content-type", "host", "x-amz-date", "x-amz-target")
    assert len(auth.signature) == 64


def test_date_header_fallback():
    wire = sign("GET", "https://api.ecr.us-east-1.amazonaws.com/", headers={"Date": "placeholder"})
    assert "x-amz-date" not in wire["headers"]
    check(wire)


@pytest.mark.parametrize(
    "service, operation, kwargs",
    [
        ("ecr", "describe_images", {"repositoryName": "team/app", "imageIds": [{"imageTag": "v1 +x"}]}),
        ("iam", "list_access_keys", {"UserName": "alice+bob@example.com"}),
        # rest-json: label in the path and query string serialised into the URL by botocore
        ("lambda", "get_function", {"FunctionName": "my fn+é:prod", "Qualifier": "a b+c/~*'"}),
    ],
)
def test_real_botocore_client_request_verifies(service, operation, kwargs):
    session = botocore.session.get_session()
    client = session.create_client(
        service, region_name="us-east-1", aws_access_key_id=AKID, aws_secret_access_key=SECRET,
        endpoint_url="http://127.0.0.1:5000",
    )
    captured = []

    class Captured(Exception):
        pass

    def capture(request, **_):
        captured.append(request)
        raise Captured()

    client.meta.events.register("before-send", capture)
    with _frozen(SIGNED_AT), pytest.raises(Captured):
        getattr(client, operation)(**kwargs)
    wire = _wire(captured[0])
    assert sigv4.parse_authorization(wire["headers"]["authorization"]).credential.service == service
    check(wire)


@pytest.mark.parametrize("minutes", [14, -14, 15, -15])
def test_skew_within_window_passes(minutes):
    check(ecr_request(), now=SIGNED_AT + timedelta(minutes=minutes))


def test_naive_now_is_taken_as_utc():
    check(ecr_request(), now=SIGNED_AT.replace(tzinfo=None))


# --- failures ---------------------------------------------------------------------------------
def test_wrong_secret():
    with pytest.raises(InvalidSignature, match="does not match the signature you provided"):
        check(ecr_request(), secret=SECRET + "x")


def test_signed_with_other_secret():
    with pytest.raises(InvalidSignature):
        check(iam_request(secret="another-secret"))


def test_tampered_body():
    wire = ecr_request()
    wire["payload_sha256"] = hashlib.sha256(b'{"repositoryNames":["other"]}').hexdigest()
    with pytest.raises(InvalidSignature):
        check(wire)


def test_tampered_header():
    wire = ecr_request()
    wire["headers"]["x-amz-target"] = "AmazonEC2ContainerRegistry_V20150921.DeleteRepository"
    with pytest.raises(InvalidSignature):
        check(wire)


def test_unsigned_header_may_change():
    wire = ecr_request()
    wire["headers"]["user-agent"] = "something else"
    check(wire)


@pytest.mark.parametrize("query", ["a=1", "z=first&a=b%20c&a=a%2Bb&a=1", ""])
def test_tampered_query(query):
    wire = get_request()
    wire["raw_query"] = query
    with pytest.raises(InvalidSignature):
        check(wire)


def test_tampered_path():
    wire = get_request()
    wire["raw_path"] = wire["raw_path"].replace("My%20Repo", "My%20Rep0")
    with pytest.raises(InvalidSignature):
        check(wire)


def test_tampered_method():
    wire = ecr_request()
    wire["method"] = "PUT"
    with pytest.raises(InvalidSignature):
        check(wire)


@pytest.mark.parametrize("minutes, word", [(16, "earlier"), (-16, "later")])
def test_expired_or_future_signature(minutes, word):
    with pytest.raises(InvalidSignature, match=f"Signature expired: 20240309T235830Z is now {word} than"):
        check(ecr_request(), now=SIGNED_AT + timedelta(minutes=minutes))


def test_expired_message_format():
    now = datetime(2024, 3, 10, 0, 14, 31, tzinfo=timezone.utc)
    with pytest.raises(InvalidSignature) as info:
        check(ecr_request(), now=now)
    assert info.value.message == (
        "Signature expired: 20240309T235830Z is now earlier than 20240309T235931Z (20240310T001431Z - 15 min.)"
    )


def test_credential_date_must_match_request_date():
    wire = ecr_request()
    wire["headers"]["authorization"] = wire["headers"]["authorization"].replace("/20240309/", "/20240310/")
    with pytest.raises(InvalidSignature, match="Date in Credential scope does not match"):
        check(wire)


def test_credential_date_checked_even_when_signed_consistently():
    # A client that signs with a scope date of "tomorrow" (its own key derivation agrees) is still rejected.
    wire = ecr_request()
    wire["headers"]["x-amz-date"] = "20240310T000100Z"
    with pytest.raises(InvalidSignature, match="'20240309' != '20240310'"):
        check(wire)


def test_missing_date_headers():
    wire = ecr_request()
    del wire["headers"]["x-amz-date"]
    with pytest.raises(IncompleteSignature, match="either a 'X-Amz-Date' or a 'Date' header"):
        check(wire)


def test_unparseable_amz_date():
    wire = ecr_request()
    wire["headers"]["x-amz-date"] = "2024-03-09T23:58:30Z"
    with pytest.raises(IncompleteSignature, match="ISO-8601 'basic format'"):
        check(wire)


def test_host_must_be_signed():
    wire = ecr_request()
    header = wire["headers"]["authorization"].replace("content-type;host;", "content-type;")
    wire["headers"]["authorization"] = header
    with pytest.raises(IncompleteSignature, match="'Host' or ':authority' must be a 'SignedHeader'"):
        check(wire)


GOOD_CRED = f"Credential={AKID}/20240309/us-east-1/ecr/aws4_request"
GOOD_SH = "SignedHeaders=host;x-amz-date"
GOOD_SIG = "Signature=" + "0" * 64


@pytest.mark.parametrize(
    "header, message",
    [
        (f"AWS4-HMAC-SHA256 {GOOD_SH}, {GOOD_SIG}", "requires 'Credential' parameter"),
        (f"AWS4-HMAC-SHA256 {GOOD_CRED}, {GOOD_SIG}", "requires 'SignedHeaders' parameter"),
        (f"AWS4-HMAC-SHA256 {GOOD_CRED}, {GOOD_SH}", "requires 'Signature' parameter"),
        (f"AWS4-HMAC-SHA256 {GOOD_CRED}, SignedHeaders=, {GOOD_SIG}", "requires 'SignedHeaders' parameter"),
        ("AWS4-HMAC-SHA256", "requires 'Credential' parameter"),
        ("", "Unsupported AWS 'algorithm'"),
        (f"AWS4-HMAC-SHA512 {GOOD_CRED}, {GOOD_SH}, {GOOD_SIG}", "Unsupported AWS 'algorithm'"),
        (f"AWS {AKID}:abc", "Unsupported AWS 'algorithm'"),
        (f"AWS4-HMAC-SHA256 {GOOD_CRED}, {GOOD_SH}, garbage", "missing equal-sign"),
        (f"AWS4-HMAC-SHA256 Credential={AKID}/20240309/us-east-1/ecr, {GOOD_SH}, {GOOD_SIG}", "5 slash-delimited"),
        (f"AWS4-HMAC-SHA256 Credential={AKID}, {GOOD_SH}, {GOOD_SIG}", "5 slash-delimited"),
        (f"AWS4-HMAC-SHA256 Credential=/20240309/us-east-1/ecr/aws4_request, {GOOD_SH}, {GOOD_SIG}", "5 slash"),
        (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20240309/us-east-1/ecr/aws4_reques, {GOOD_SH}, {GOOD_SIG}",
            "valid terminator: 'aws4_request', not 'aws4_reques'",
        ),
    ],
)
def test_malformed_authorization(header, message):
    with pytest.raises(IncompleteSignature, match=message):
        sigv4.parse_authorization(header)


def test_missing_parameters_are_all_reported():
    with pytest.raises(IncompleteSignature) as info:
        sigv4.parse_authorization("AWS4-HMAC-SHA256 Foo=bar")
    assert info.value.message.startswith(
        "Authorization header requires 'Credential' parameter. "
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter."
    )
