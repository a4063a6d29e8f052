"""Every operation of botocore's ECR model: implemented here, or listed with the issue it waits for.

``tests/unit/test_ecr_operations.py`` checks this table against botocore's service model, so no
operation is silently missing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from dockyard.ecr.authorization import get_authorization_token
from dockyard.ecr.context import Call
from dockyard.ecr.images import (
    batch_delete_image,
    batch_get_image,
    describe_images,
    list_image_referrers,
    list_images,
    put_image,
)
from dockyard.ecr.layers import (
    batch_check_layer_availability,
    complete_layer_upload,
    get_download_url_for_layer,
    initiate_layer_upload,
    upload_layer_part,
)
from dockyard.ecr.repositories import create_repository, delete_repository, describe_repositories

# An operation returns the response document, or an awaitable of it (operations that stream bytes).
Operation = Callable[[Call], dict[str, Any] | Awaitable[dict[str, Any]]]

IMPLEMENTED: dict[str, Operation] = {
    "CreateRepository": create_repository,
    "DescribeRepositories": describe_repositories,
    "DeleteRepository": delete_repository,
    "GetAuthorizationToken": get_authorization_token,
    "ListImages": list_images,
    "DescribeImages": describe_images,
    "BatchGetImage": batch_get_image,
    "BatchDeleteImage": batch_delete_image,
    "PutImage": put_image,
    "ListImageReferrers": list_image_referrers,
    "BatchCheckLayerAvailability": batch_check_layer_availability,
    "InitiateLayerUpload": initiate_layer_upload,
    "UploadLayerPart": upload_layer_part,
    "CompleteLayerUpload": complete_layer_upload,
    "GetDownloadUrlForLayer": get_download_url_for_layer,
}

# operation -> the issue that brings it
PENDING: dict[str, int] = {
    **dict.fromkeys([
        "DeleteRepositoryPolicy", "DescribeRegistry",
        "GetRepositoryPolicy", "ListTagsForResource",
        "PutImageTagMutability", "PutImageScanningConfiguration", "SetRepositoryPolicy",
        "TagResource", "UntagResource",
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
