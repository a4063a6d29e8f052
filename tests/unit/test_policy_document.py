"""The policy-document validator (IAM's grammar) and the repository-policy lock-out check."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dockyard.iam.policy_document import PolicyDocumentError, locks_out, parse_policy

ACCOUNT = "123456789012"
ME = f"arn:aws:iam::{ACCOUNT}:user/me"
PULL = {"Effect": "Allow", "Principal": "*", "Action": ["ecr:BatchGetImage"]}


def doc(*statements: Any, version: str | None = "2012-10-17", **top: Any) -> str:
    document: dict[str, Any] = dict(top)
    if version is not None:
        document["Version"] = version
    document["Statement"] = list(statements)
    return json.dumps(document)


@pytest.mark.parametrize("text", [
    doc(PULL),
    doc(PULL, version="2008-10-17"),
    doc(PULL, version=None),  # IAM reads a missing Version as 2008-10-17
    json.dumps({"Version": "2012-10-17", "Statement": PULL}),  # a single statement object
    doc(PULL, Id="policy-1"),
    doc({**PULL, "Sid": "a"}, {**PULL, "Sid": "a"}),  # ECR does not require unique Sids
    doc({"Effect": "Deny", "Principal": {"AWS": [ME, ACCOUNT]}, "Action": "ecr:*"}),
    doc({"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "*"}),
    doc({"Effect": "Deny", "NotPrincipal": {"AWS": ME}, "NotAction": "ecr:Describe*"}),
    doc({**PULL, "Action": "ECR:BatchGet?mage"}),
    doc({**PULL, "Resource": [f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/*", "*"]}),
    doc({**PULL, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"},
                               "ForAnyValue:StringLikeIfExists": {"aws:TagKeys": ["a", "b"]},
                               "Bool": {"aws:SecureTransport": True},
                               "NumericLessThan": {"s3:max-keys": 10}}}),
])
def test_valid_resource_policies(text: str) -> None:
    assert parse_policy(text) == json.loads(text)


@pytest.mark.parametrize("text, problem", [
    (None, "must be a string"),
    ("", "not valid JSON"),
    ("{", "not valid JSON"),
    ('"a string"', "JSON object"),
    ("[]", "JSON object"),
    (doc(PULL, version="2012-10-18"), "Version must be one of"),
    (json.dumps({"Version": 2012, "Statement": [PULL]}), "Version must be one of"),
    (json.dumps({"Version": "2012-10-17"}), "no Statement"),
    (json.dumps({"Version": "2012-10-17", "Statement": []}), "non-empty list"),
    (json.dumps({"Version": "2012-10-17", "Statement": "x"}), "non-empty list"),
    (doc(PULL, Id=3), "Id must be a string"),
    (doc(PULL, Policy="x"), "unknown policy element 'Policy'"),
    (doc("statement"), "statement 1 must be an object"),
    (doc(PULL, {**PULL, "Effect": "Permit"}), "statement 2: Effect must be Allow or Deny"),
    (doc({k: v for k, v in PULL.items() if k != "Effect"}), "Effect must be"),
    (doc({**PULL, "Sid": 1}), "Sid must be a string"),
    (doc({**PULL, "Actions": "ecr:*"}), "unknown element 'Actions'"),
    (doc({k: v for k, v in PULL.items() if k != "Principal"}), "has no Principal"),
    (doc({**PULL, "NotPrincipal": {"AWS": ME}}), "exactly one of Principal or NotPrincipal"),
    (doc({**PULL, "Principal": "everyone"}), "must be \"*\" or an object"),
    (doc({**PULL, "Principal": {}}), "must be \"*\" or an object"),
    (doc({**PULL, "Principal": {"User": ME}}), "unknown principal type 'User'"),
    (doc({**PULL, "Principal": {"AWS": []}}), "non-empty string or list"),
    (doc({k: v for k, v in PULL.items() if k != "Action"}), "has no Action"),
    (doc({**PULL, "NotAction": "ecr:Put*"}), "both Action and NotAction"),
    (doc({**PULL, "Action": ["ecr:BatchGetImage", 3]}), "non-empty string or list"),
    (doc({**PULL, "Action": ""}), "non-empty string or list"),
    (doc({**PULL, "Action": "BatchGetImage"}), "must look like"),
    (doc({**PULL, "Action": "ecr:Batch:GetImage"}), "must look like"),
    (doc({**PULL, "Action": "ecr:Batch Get"}), "must look like"),
    (doc({**PULL, "Action": "iam:CreateUser"}), "not an ecr action"),
    (doc({**PULL, "Resource": "my-repo"}), "must be an ARN"),
    (doc({**PULL, "Resource": "*", "NotResource": "*"}), "both Resource and NotResource"),
    (doc({**PULL, "Condition": "x"}), "Condition must be an object"),
    (doc({**PULL, "Condition": {"StringEqualz": {"a": "b"}}}), "unknown condition operator"),
    (doc({**PULL, "Condition": {"StringEquals": {}}}), "must map keys to values"),
    (doc({**PULL, "Condition": {"StringEquals": {"a": []}}}), "needs a value"),
    (doc({**PULL, "Condition": {"StringEquals": {"a": {"b": "c"}}}}), "needs a value"),
    ("{" + " " * 10240 + "}", "at most 10240"),
])
def test_invalid_policies(text: Any, problem: str) -> None:
    with pytest.raises(PolicyDocumentError) as info:
        parse_policy(text)
    assert problem in str(info.value)


def test_identity_policies() -> None:
    statement = {"Effect": "Allow", "Action": ["s3:GetObject", "ecr:*"], "Resource": "*"}
    assert parse_policy(doc(statement), resource_policy=False, service=None)
    with pytest.raises(PolicyDocumentError, match="cannot name a Principal"):
        parse_policy(doc({**statement, "Principal": "*"}), resource_policy=False, service=None)
    with pytest.raises(PolicyDocumentError, match="has no Resource"):
        parse_policy(doc({"Effect": "Allow", "Action": "*"}), resource_policy=False)
    with pytest.raises(PolicyDocumentError, match="not an ecr action"):
        parse_policy(doc(statement), resource_policy=False)


def deny(principal: Any, action: Any = "ecr:SetRepositoryPolicy", *, negated: bool = False,
         **extra: Any) -> dict[str, Any]:
    statement = {"Effect": "Deny", "NotPrincipal" if negated else "Principal": principal,
                 "Action": action, **extra}
    return json.loads(doc(PULL, statement))


@pytest.mark.parametrize("document, expected", [
    (json.loads(doc(PULL)), False),
    (deny("*"), True),
    (deny({"AWS": "*"}), True),
    (deny({"AWS": ME}), True),
    (deny({"AWS": [ACCOUNT]}), True),
    (deny({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), True),
    (deny({"AWS": f"arn:aws:iam::{ACCOUNT}:user/someone-else"}), False),
    (deny({"AWS": "arn:aws:iam::999999999999:root"}), False),
    (deny({"Service": "ecr.amazonaws.com"}), False),
    (deny("*", "ecr:*"), True),
    (deny("*", "*"), True),
    (deny("*", "ecr:set*policy"), True),  # actions match case-insensitively
    (deny("*", ["ecr:BatchGetImage", "ecr:SetRepositoryPolic?"]), True),
    (deny("*", "ecr:DeleteRepository"), False),
    (deny("*", "ecr:Get*"), False),
    (deny({"AWS": "arn:aws:iam::999999999999:root"}, negated=True), True),  # everyone but them
    (deny({"AWS": ME}, negated=True), False),
    (deny("*", negated=True), False),
    (deny("*", Condition={"Bool": {"aws:SecureTransport": False}}), True),  # conditions count
    (json.loads(doc({"Effect": "Deny", "Principal": "*", "NotAction": "ecr:Get*"})), True),
    (json.loads(doc({"Effect": "Deny", "Principal": "*", "NotAction": "ecr:Set*"})), False),
    (json.loads(doc({"Effect": "Allow", "Principal": "*", "Action": "ecr:SetRepositoryPolicy"})),
     False),
])
def test_locks_out(document: dict[str, Any], expected: bool) -> None:
    assert locks_out(document, action="ecr:SetRepositoryPolicy", principal_arn=ME,
                     account_id=ACCOUNT) is expected
