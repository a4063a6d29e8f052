"""AWS managed policies built into every registry, with AWS's names, ARNs and documents.

The documents are the default versions AWS publishes in the "AWS managed policies for Amazon
Elastic Container Registry" page and the managed-policy reference (FullAccess as of its version
with the replication service-linked role statement, PullOnly v1, PowerUser and ReadOnly v3), plus
IAMUserChangePassword (v2), which lets IAM users change their own console password.
They cannot be changed or deleted; they can be attached to users, groups and roles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from dockyard.domain.iam import aws_policy_arn

_READ_ACTIONS = [
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeRepositories",
    "ecr:ListImages",
    "ecr:DescribeImages",
    "ecr:BatchGetImage",
    "ecr:GetLifecyclePolicy",
    "ecr:GetLifecyclePolicyPreview",
    "ecr:ListTagsForResource",
    "ecr:DescribeImageScanFindings",
]


@dataclass(frozen=True, slots=True)
class AwsManagedPolicy:
    name: str
    id: str
    description: str
    version: str
    created_at: datetime
    updated_at: datetime
    document: dict[str, Any]

    @property
    def arn(self) -> str:
        return aws_policy_arn(self.name)

    @property
    def text(self) -> str:
        return json.dumps(self.document, indent=2)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


AWS_MANAGED: dict[str, AwsManagedPolicy] = {p.arn: p for p in (
    AwsManagedPolicy(
        "IAMUserChangePassword", "ANPAJ4L4MM2A7QIEB56MS",
        "Provides the ability for an IAM user to change their own password.", "v2",
        _at("2016-11-15T00:25:16"), _at("2016-11-15T23:18:55"),
        {"Version": "2012-10-17",
         "Statement": [
             {"Effect": "Allow", "Action": ["iam:ChangePassword"],
              "Resource": ["arn:aws:iam::*:user/${aws:username}"]},
             {"Effect": "Allow", "Action": ["iam:GetAccountPasswordPolicy"], "Resource": "*"},
         ]}),
    AwsManagedPolicy(
        "AdministratorAccess", "ANPAIWMBCKSKIEE64ZLYK",
        "Provides full access to AWS services and resources.", "v1",
        _at("2015-02-06T18:39:46"), _at("2015-02-06T18:39:46"),
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    AwsManagedPolicy(
        "AmazonEC2ContainerRegistryFullAccess", "ANPAIESRL7KD7IIVF6V4W",
        "Provides administrative access to Amazon ECR resources", "v3",
        _at("2015-12-21T17:06:48"), _at("2021-12-06T17:37:20"),
        {"Version": "2012-10-17",
         "Statement": [
             {"Effect": "Allow", "Action": ["ecr:*", "cloudtrail:LookupEvents"], "Resource": "*"},
             {"Effect": "Allow", "Action": ["iam:CreateServiceLinkedRole"], "Resource": "*",
              "Condition": {"StringEquals": {
                  "iam:AWSServiceName": ["replication.ecr.amazonaws.com"]}}},
         ]}),
    AwsManagedPolicy(
        "AmazonEC2ContainerRegistryPowerUser", "ANPAJDNE5PIHROSF3NAXY",
        "Provides full access to Amazon EC2 Container Registry repositories, but does not allow "
        "repository deletion or policy changes.", "v3",
        _at("2015-12-21T17:05:33"), _at("2019-12-10T20:48:23"),
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow",
                        "Action": [*_READ_ACTIONS, "ecr:InitiateLayerUpload",
                                   "ecr:UploadLayerPart", "ecr:CompleteLayerUpload",
                                   "ecr:PutImage"],
                        "Resource": "*"}]}),
    AwsManagedPolicy(
        "AmazonEC2ContainerRegistryReadOnly", "ANPAIFYZPA37OOHVIH7KQ",
        "Provides read-only access to Amazon EC2 Container Registry repositories.", "v3",
        _at("2015-12-21T17:04:15"), _at("2019-12-10T20:56:43"),
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow", "Action": list(_READ_ACTIONS), "Resource": "*"}]}),
    AwsManagedPolicy(
        "AmazonEC2ContainerRegistryPullOnly", "ANPAZKAPJZG4OWBHKZLSE",
        "Provides permissions to pull images from Amazon EC2 Container Registry repositories.", "v1",
        _at("2024-10-04T16:58:41"), _at("2024-10-04T16:58:41"),
        {"Version": "2012-10-17",
         "Statement": [{"Effect": "Allow",
                        "Action": ["ecr:GetAuthorizationToken", "ecr:BatchGetImage",
                                   "ecr:GetDownloadUrlForLayer", "ecr:BatchImportUpstreamImage"],
                        "Resource": "*"}]}),
)}

ADMINISTRATOR_ACCESS_ARN = aws_policy_arn("AdministratorAccess")


def by_name(name: str) -> AwsManagedPolicy | None:
    return AWS_MANAGED.get(aws_policy_arn(name))
