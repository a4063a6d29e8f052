"""dockyard.iam.policy: IAM statement matching and the allow/deny decision."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.iam.policy import ADMINISTRATOR_ACCESS, decide

REPO = "arn:aws:ecr:us-east-1:123456789012:repository/team/app"
OTHER = "arn:aws:ecr:us-east-1:123456789012:repository/other"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def test_deny_by_default() -> None:
    assert not decide([], "ecr:BatchGetImage", REPO)
    assert not decide([_doc()], "ecr:BatchGetImage", REPO)
    assert not decide([{"Version": "2012-10-17"}], "ecr:BatchGetImage", REPO)


def test_administrator_access() -> None:
    assert decide([ADMINISTRATOR_ACCESS], "ecr:PutImage", REPO)
    assert decide([ADMINISTRATOR_ACCESS], "iam:CreateUser", "arn:aws:iam::123456789012:user/x")


def test_allow_of_a_single_action_and_resource() -> None:
    docs = [_doc(_allow("ecr:BatchGetImage", REPO))]
    assert decide(docs, "ecr:BatchGetImage", REPO)
    assert not decide(docs, "ecr:PutImage", REPO)
    assert not decide(docs, "ecr:BatchGetImage", OTHER)


def test_lists_of_actions_and_resources() -> None:
    docs = [_doc(_allow(["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], [REPO, OTHER]))]
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
        for resource in (REPO, OTHER):
            assert decide(docs, action, resource)
    assert not decide(docs, "ecr:PutImage", REPO)


def test_explicit_deny_wins_in_any_order() -> None:
    allow, deny = _allow(), _deny("ecr:BatchDeleteImage", REPO)
    for docs in ([_doc(allow, deny)], [_doc(deny, allow)], [_doc(deny), _doc(allow)],
                 [_doc(allow), _doc(deny)]):
        assert not decide(docs, "ecr:BatchDeleteImage", REPO)
        assert decide(docs, "ecr:BatchDeleteImage", OTHER)
        assert decide(docs, "ecr:BatchGetImage", REPO)


def test_deny_alone_does_not_allow_anything() -> None:
    assert not decide([_doc(_deny("ecr:PutImage"))], "ecr:BatchGetImage", REPO)


def test_action_wildcards() -> None:
    docs = [_doc(_allow("ecr:Batch*"))]
    assert decide(docs, "ecr:BatchGetImage", REPO)
    assert decide(docs, "ecr:BatchDeleteImage", REPO)
    assert not decide(docs, "ecr:PutImage", REPO)
    assert not decide(docs, "ecrx:BatchGetImage", REPO)
    docs = [_doc(_allow("ecr:Get*Url*Layer"))]
    assert decide(docs, "ecr:GetDownloadUrlForLayer", REPO)
    docs = [_doc(_allow("ecr:?utImage"))]
    assert decide(docs, "ecr:PutImage", REPO)
    assert not decide(docs, "ecr:OutputImage", REPO)
    docs = [_doc(_allow("ecr:*"))]
    assert decide(docs, "ecr:CreateRepository", REPO)
    assert not decide(docs, "iam:CreateUser", REPO)


def test_actions_are_case_insensitive() -> None:
    docs = [_doc(_allow("ECR:batchgetimage"))]
    assert decide(docs, "ecr:BatchGetImage", REPO)
    assert decide([_doc(_allow("ecr:BatchGetImage"))], "ECR:BATCHGETIMAGE", REPO)
    assert not decide([_doc(_allow(), _deny("Ecr:PUTIMAGE"))], "ecr:PutImage", REPO)


def test_resources_are_case_sensitive() -> None:
    docs = [_doc(_allow("*", REPO.upper()))]
    assert not decide(docs, "ecr:BatchGetImage", REPO)


def test_resource_wildcards() -> None:
    docs = [_doc(_allow("*", "arn:aws:ecr:us-east-1:123456789012:repository/team/*"))]
    assert decide(docs, "ecr:BatchGetImage", REPO)
    assert not decide(docs, "ecr:BatchGetImage", OTHER)
    docs = [_doc(_allow("*", "arn:aws:ecr:*:*:repository/*"))]
    assert decide(docs, "ecr:BatchGetImage", REPO)
    docs = [_doc(_allow("*", "arn:aws:ecr:us-east-1:123456789012:repository/team/ap?"))]
    assert decide(docs, "ecr:BatchGetImage", REPO)


def test_regex_metacharacters_are_literal() -> None:
    docs = [_doc(_allow("ecr:Batch.etImage", "arn:aws:ecr:us-east-1:123456789012:repository/team/app"))]
    assert not decide(docs, "ecr:BatchGetImage", REPO)
    docs = [_doc(_allow("*", "arn:aws:ecr:us-east-1:123456789012:repository/team/(app|x)"))]
    assert not decide(docs, "ecr:BatchGetImage", REPO)


def test_not_action() -> None:
    docs = [_doc({"Effect": "Allow", "NotAction": ["ecr:Delete*", "ecr:BatchDeleteImage"],
                  "Resource": "*"})]
    assert decide(docs, "ecr:BatchGetImage", REPO)
    assert not decide(docs, "ecr:DeleteRepository", REPO)
    assert not decide(docs, "ecr:batchdeleteimage", REPO)


def test_deny_with_not_action() -> None:
    docs = [_doc(_allow(), {"Effect": "Deny", "NotAction": "ecr:BatchGetImage", "Resource": REPO})]
    assert decide(docs, "ecr:BatchGetImage", REPO)
    assert not decide(docs, "ecr:PutImage", REPO)
    assert decide(docs, "ecr:PutImage", OTHER)


def test_not_resource() -> None:
    docs = [_doc({"Effect": "Allow", "Action": "*", "NotResource": REPO})]
    assert decide(docs, "ecr:BatchGetImage", OTHER)
    assert not decide(docs, "ecr:BatchGetImage", REPO)
    docs = [_doc(_allow(), {"Effect": "Deny", "Action": "ecr:PutImage",
                            "NotResource": "arn:aws:ecr:*:*:repository/team/*"})]
    assert decide(docs, "ecr:PutImage", REPO)
    assert not decide(docs, "ecr:PutImage", OTHER)


def test_statement_as_a_single_object() -> None:
    docs = [{"Version": "2012-10-17", "Statement": _allow("ecr:BatchGetImage", REPO)}]
    assert decide(docs, "ecr:BatchGetImage", REPO)
    assert not decide(docs, "ecr:PutImage", REPO)


def test_unknown_effect_neither_allows_nor_denies() -> None:
    docs = [_doc({"Effect": "Maybe", "Action": "*", "Resource": "*"})]
    assert not decide(docs, "ecr:BatchGetImage", REPO)
    docs = [_doc({"Action": "*", "Resource": "*"}, _allow("ecr:BatchGetImage"))]
    assert decide(docs, "ecr:BatchGetImage", REPO)


@pytest.mark.parametrize("documents", [
    [_doc(_allow("ecr:BatchGetImage", REPO))],
    [_doc(_allow("ecr:*", "arn:aws:ecr:us-east-1:123456789012:repository/*"))],
])
def test_pull_permissions(documents) -> None:
    assert decide(documents, "ecr:BatchGetImage", REPO)
