"""Every operation of botocore's ECR model: implemented here, or listed with the issue it waits for.

``tests/unit/test_ecr_operations.py`` checks this table against botocore's service model, so no
operation is silently missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dockyard.ecr.authorization import get_authorization_token
from dockyard.ecr.context import Call
from dockyard.ecr.repositories import create_repository, delete_repository, describe_repositories

Operation = Callable[[Call], dict[str, Any]]

IMPLEMENTED: dict[str, Operation] = {
    "CreateRepository": create_repository,
    "DescribeRepositories": describe_repositories,
    "DeleteRepository": delete_repository,
    "GetAuthorizationToken": get_authorization_token,
}

# operation -> the issue that brings it
PENDING: dict[str, int] = {
    **dict.fromkeys([
        "BatchCheckLayerAvailability", "BatchDeleteImage", "BatchGetImage", "CompleteLayerUpload",
        "DeleteRepositoryPolicy", "DescribeImages", "DescribeRegistry", "GetDownloadUrlForLayer",
        "GetRepositoryPolicy", "InitiateLayerUpload", "ListImages", "ListTagsForResource", "PutImage",
        "PutImageTagMutability", "PutImageScanningConfiguration", "SetRepositoryPolicy",
        "TagResource", "UntagResource", "UploadLayerPart", "ListImageReferrers",
        "GetRegistryPolicy", "PutRegistryPolicy", "DeleteRegistryPolicy", "PutReplicationConfiguration",
        "CreatePullThroughCacheRule", "DeletePullThroughCacheRule", "DescribePullThroughCacheRules",
        "UpdatePullThroughCacheRule", "ValidatePullThroughCacheRule", "CreateRepositoryCreationTemplate",
        "DeleteRepositoryCreationTemplate", "DescribeRepositoryCreationTemplates",
        "UpdateRepositoryCreationTemplate", "GetAccountSetting", "PutAccountSetting",
        "PutSigningConfiguration", "GetSigningConfiguration", "DeleteSigningConfiguration",
        "DescribeImageSigningStatus", "UpdateImageStorageClass", "DescribeImageReplicationStatus",
        "ListPullTimeUpdateExclusions", "RegisterPullTimeUpdateExclusion",
        "DeregisterPullTimeUpdateExclusion",
    ], 3),
    **dict.fromkeys([
        "DescribeImageScanFindings", "StartImageScan", "GetRegistryScanningConfiguration",
        "PutRegistryScanningConfiguration", "BatchGetRepositoryScanningConfiguration",
    ], 5),
    **dict.fromkeys([
        "PutLifecyclePolicy", "GetLifecyclePolicy", "DeleteLifecyclePolicy",
        "StartLifecyclePolicyPreview", "GetLifecyclePolicyPreview",
    ], 6),
}
