"""ECR response shapes (botocore's ECR model), built from domain records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dockyard.domain.models import ManifestRecord, Repository
from dockyard.registry.repositories import RegistryAddress


def timestamp(moment: datetime) -> float:
    return round(moment.timestamp(), 3)


def repository(repo: Repository, address: RegistryAddress) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "repositoryArn": address.repository_arn(repo.name),
        "registryId": address.registry_id,
        "repositoryName": repo.name,
        "repositoryUri": address.repository_uri(repo.name),
        "createdAt": timestamp(repo.created_at),
        "imageTagMutability": repo.tag_mutability,
        "imageScanningConfiguration": {"scanOnPush": repo.scan_on_push},
        "encryptionConfiguration": {"encryptionType": repo.encryption_type},
    }
    if repo.mutability_exclusions:
        shape["imageTagMutabilityExclusionFilters"] = [dict(f) for f in repo.mutability_exclusions]
    if repo.kms_key:
        shape["encryptionConfiguration"]["kmsKey"] = repo.kms_key
    return shape


def image_detail(record: ManifestRecord, name: str, registry_id: str,
                 scan: Any = None) -> dict[str, Any]:
    """``scan``: the image's ``metadata.scan_store.ScanRecord``, when it was scanned."""
    detail: dict[str, Any] = {
        "registryId": registry_id,
        "repositoryName": name,
        "imageDigest": record.digest,
        "imageSizeInBytes": record.image_size,
        "imagePushedAt": timestamp(record.pushed_at),
        "imageManifestMediaType": record.media_type,
    }
    if record.tags:
        detail["imageTags"] = list(record.tags)
    if record.config_media_type:
        detail["artifactMediaType"] = record.config_media_type
    if record.last_pulled_at:
        detail["lastRecordedPullTime"] = timestamp(record.last_pulled_at)
    if record.subject_digest:
        detail["subjectManifestDigest"] = record.subject_digest
    if scan is not None:
        detail["imageScanStatus"] = image_scan_status(scan)
        if scan.completed_at:
            summary: dict[str, Any] = {"imageScanCompletedAt": timestamp(scan.completed_at),
                                       "findingSeverityCounts": dict(scan.severity_counts)}
            if scan.source_updated_at:
                summary["vulnerabilitySourceUpdatedAt"] = timestamp(scan.source_updated_at)
            detail["imageScanFindingsSummary"] = summary
    return detail


def image_scan_status(scan: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"status": scan.status}
    if scan.description:
        status["description"] = scan.description
    return status
