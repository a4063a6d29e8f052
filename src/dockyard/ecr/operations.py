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
from dockyard.ecr.lifecycle import (
    delete_lifecycle_policy,
    get_lifecycle_policy,
    get_lifecycle_policy_preview,
    put_lifecycle_policy,
    start_lifecycle_policy_preview,
)
from dockyard.ecr.policies import (
    delete_registry_policy,
    delete_repository_policy,
    describe_registry,
    get_account_setting,
    get_registry_policy,
    get_repository_policy,
    put_account_setting,
    put_registry_policy,
    set_repository_policy,
)
from dockyard.ecr.repositories import create_repository, delete_repository, describe_repositories
from dockyard.ecr.scanning import (
    batch_get_repository_scanning_configuration,
    describe_image_scan_findings,
    get_registry_scanning_configuration,
    put_registry_scanning_configuration,
    start_image_scan,
)
from dockyard.ecr.repository_settings import (
    list_tags_for_resource,
    put_image_scanning_configuration,
    put_image_tag_mutability,
    tag_resource,
    untag_resource,
)

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
    "PutImageTagMutability": put_image_tag_mutability,
    "PutImageScanningConfiguration": put_image_scanning_configuration,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
    "SetRepositoryPolicy": set_repository_policy,
    "GetRepositoryPolicy": get_repository_policy,
    "DeleteRepositoryPolicy": delete_repository_policy,
    "PutRegistryPolicy": put_registry_policy,
    "GetRegistryPolicy": get_registry_policy,
    "DeleteRegistryPolicy": delete_registry_policy,
    "DescribeRegistry": describe_registry,
    "GetAccountSetting": get_account_setting,
    "PutAccountSetting": put_account_setting,
    "StartImageScan": start_image_scan,
    "DescribeImageScanFindings": describe_image_scan_findings,
    "PutRegistryScanningConfiguration": put_registry_scanning_configuration,
    "GetRegistryScanningConfiguration": get_registry_scanning_configuration,
    "BatchGetRepositoryScanningConfiguration": batch_get_repository_scanning_configuration,
    "PutLifecyclePolicy": put_lifecycle_policy,
    "GetLifecyclePolicy": get_lifecycle_policy,
    "DeleteLifecyclePolicy": delete_lifecycle_policy,
    "StartLifecyclePolicyPreview": start_lifecycle_policy_preview,
    "GetLifecyclePolicyPreview": get_lifecycle_policy_preview,
}

# operation -> the issue that brings it
PENDING: dict[str, int] = {
    **dict.fromkeys([
        "PutReplicationConfiguration",
        "CreatePullThroughCacheRule", "DeletePullThroughCacheRule", "DescribePullThroughCacheRules",
        "UpdatePullThroughCacheRule", "ValidatePullThroughCacheRule", "CreateRepositoryCreationTemplate",
        "DeleteRepositoryCreationTemplate", "DescribeRepositoryCreationTemplates",
        "UpdateRepositoryCreationTemplate",
        "PutSigningConfiguration", "GetSigningConfiguration", "DeleteSigningConfiguration",
        "DescribeImageSigningStatus", "UpdateImageStorageClass", "DescribeImageReplicationStatus",
        "ListPullTimeUpdateExclusions", "RegisterPullTimeUpdateExclusion",
        "DeregisterPullTimeUpdateExclusion",
    ], 3),
}
