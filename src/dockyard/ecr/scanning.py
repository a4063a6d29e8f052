"""ECR image scanning operations: StartImageScan, DescribeImageScanFindings,
PutRegistryScanningConfiguration, GetRegistryScanningConfiguration,
BatchGetRepositoryScanningConfiguration."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from dockyard.ecr import shapes
from dockyard.ecr.context import Call
from dockyard.errors import InvalidParameter, ServerError, ValidationError
from dockyard.metadata.scan_store import ScanRecord
from dockyard.scanning.advisories import parse_time
from dockyard.scanning.packages import PACKAGE_MANAGERS
from dockyard.scanning.scan_config import ENHANCED
from dockyard.scanning.scan_job import ACTIVE, COMPLETE, UNSUPPORTED_IMAGE
from dockyard.scanning.service import ScanService

SHOWN_WITH_FINDINGS = (COMPLETE, ACTIVE, UNSUPPORTED_IMAGE)
MAX_ATTRIBUTE = 256


def _scanning(call: Call) -> ScanService:
    service = getattr(call.services, "scanning", None)
    if service is None:
        raise ServerError("image scanning is not configured on this registry")
    return service


def _token(offset: int, scan_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "scan": scan_id}).encode()).decode()


def _offset(token: str | None, scan_id: str) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["offset"])
    except (ValueError, KeyError, TypeError):
        raise InvalidParameter("Invalid parameter at 'nextToken': the token is not valid") from None
    if data.get("scan") != scan_id or offset < 0:
        raise InvalidParameter("Invalid parameter at 'nextToken': the image was scanned again "
                               "since the token was issued; start from the first page")
    return offset


def start_image_scan(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    image = _scanning(call).start_scan(call.caller, name, call.required("imageId", dict))
    return {"registryId": call.services.identity.registry.registry_id, "repositoryName": name,
            "imageId": image.image_id.shape(), "imageScanStatus": {"status": "IN_PROGRESS"}}


def describe_image_scan_findings(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    limit = call.max_results(100, 1000)
    image, scan = _scanning(call).findings(call.caller, name, call.required("imageId", dict))
    registry_id = call.services.identity.registry.registry_id
    result: dict[str, Any] = {"registryId": registry_id, "repositoryName": name,
                              "imageId": image.image_id.shape(),
                              "imageScanStatus": shapes.image_scan_status(scan)}
    if scan.status not in SHOWN_WITH_FINDINGS:
        return result
    findings = scan.findings or []
    start = _offset(call.optional("nextToken"), scan.scan_id)
    page = findings[start:start + limit]
    summary: dict[str, Any] = {"findingSeverityCounts": dict(scan.severity_counts)}
    if scan.completed_at:
        summary["imageScanCompletedAt"] = shapes.timestamp(scan.completed_at)
    if scan.source_updated_at:
        summary["vulnerabilitySourceUpdatedAt"] = shapes.timestamp(scan.source_updated_at)
    if scan.scan_type == ENHANCED:
        summary["enhancedFindings"] = [_enhanced(call, f, name, image.image_id.digest, scan)
                                       for f in page]
    else:
        summary["findings"] = [_basic(f) for f in page]
    result["imageScanFindings"] = summary
    if start + limit < len(findings):
        result["nextToken"] = _token(start + limit, scan.scan_id)
    return result


def _attribute(key: str, value: Any) -> dict[str, str] | None:
    if value is None or value == "" or value == []:
        return None
    text = ",".join(value) if isinstance(value, list) else str(value)
    return {"key": key, "value": text[:MAX_ATTRIBUTE]}


def _basic(finding: dict[str, Any]) -> dict[str, Any]:
    package = finding["package"]
    attributes = [
        _attribute("package_version", package.get("version")),
        _attribute("package_name", package.get("name")),
    ]
    for score in (finding.get("cvss") or [])[:1]:
        major = str(score["version"])[0]
        attributes += [_attribute(f"CVSS{major}_VECTOR", score["vector"]),
                       _attribute(f"CVSS{major}_SCORE", score["score"])]
    attributes += [
        _attribute("package_type", package.get("type")),
        _attribute("package_path", package.get("path")),
        _attribute("fixed_in_version", finding.get("fixed")),
        _attribute("aliases", finding.get("aliases")),
        _attribute("platforms", finding.get("platforms")),
    ]
    shape: dict[str, Any] = {"name": finding["id"], "uri": finding["uri"],
                             "severity": finding["severity"],
                             "attributes": [a for a in attributes if a is not None]}
    if finding.get("description"):
        shape["description"] = finding["description"]
    return shape


def _enhanced(call: Call, finding: dict[str, Any], name: str, digest: str | None,
              scan: ScanRecord) -> dict[str, Any]:
    address = call.services.repositories.address
    package = finding["package"]
    arn_id = hashlib.sha256(f"{name}|{digest}|{finding['id']}|{package.get('name')}|"
                            f"{package.get('path')}".encode()).hexdigest()[:32]
    vulnerable = {"name": package.get("name"), "version": package.get("version"),
                  "packageManager": PACKAGE_MANAGERS.get(package.get("type", ""), "OS"),
                  "filePath": package.get("path")}
    for key, field in (("arch", "arch"), ("release", "release"), ("sourceLayerHash", "layer"),
                       ("fixedInVersion", "fixed")):
        value = finding.get(field) if field == "fixed" else package.get(field)
        if value:
            vulnerable[key] = value
    if package.get("epoch"):
        vulnerable["epoch"] = int(package["epoch"])
    cvss = finding.get("cvss") or []
    details: dict[str, Any] = {
        "vulnerabilityId": finding["id"], "source": _source(finding["id"]),
        "sourceUrl": finding["uri"], "vendorSeverity": finding["severity"],
        "referenceUrls": finding.get("references") or [],
        "relatedVulnerabilities": finding.get("aliases") or [],
        "vulnerablePackages": [vulnerable],
        "cvss": [{"baseScore": c["score"], "scoringVector": c["vector"], "source": "OSV",
                  "version": c["version"]} for c in cvss],
    }
    for key, field in (("vendorCreatedAt", "published"), ("vendorUpdatedAt", "modified")):
        moment = parse_time(finding.get(field))
        if moment is not None and moment.year > 1:
            details[key] = shapes.timestamp(moment)
    observed = shapes.timestamp(scan.completed_at) if scan.completed_at else None
    shape: dict[str, Any] = {
        "awsAccountId": address.registry_id,
        "description": finding.get("description") or finding.get("summary") or finding["id"],
        "findingArn": f"arn:aws:inspector2:{address.region}:{address.registry_id}:finding/{arn_id}",
        "packageVulnerabilityDetails": details,
        "remediation": {"recommendation": {"text": (
            f"Upgrade {package.get('name')} to {finding['fixed']} or later." if finding.get("fixed")
            else "None provided")}},
        "resources": [{"id": f"{address.repository_arn(name)}/{digest}",
                       "type": "AWS_ECR_CONTAINER_IMAGE",
                       "details": {"awsEcrContainerImage": {
                           "registry": address.registry_id, "repositoryName": name,
                           "imageHash": digest,
                           **({"platform": finding["platforms"][0]} if finding.get("platforms") else {}),
                       }}}],
        "severity": finding["severity"],
        "status": "ACTIVE",
        "title": f"{finding['id']} - {package.get('name')}",
        "type": "PACKAGE_VULNERABILITY",
        "fixAvailable": "YES" if finding.get("fixed") else "NO",
    }
    if observed is not None:
        shape.update(firstObservedAt=observed, lastObservedAt=observed, updatedAt=observed)
    if cvss:
        shape["score"] = cvss[0]["score"]
        shape["scoreDetails"] = {"cvss": {"score": cvss[0]["score"], "scoreSource": "OSV",
                                          "scoringVector": cvss[0]["vector"],
                                          "version": cvss[0]["version"], "adjustments": []}}
    return shape


def _source(osv_id: str) -> str:
    prefix = osv_id.split("-", 1)[0]
    return {"GHSA": "GITHUB", "PYSEC": "PYPA", "GO": "GO_VULNDB", "CVE": "NVD", "DSA": "DEBIAN",
            "DLA": "DEBIAN", "DEBIAN": "DEBIAN", "USN": "UBUNTU", "UBUNTU": "UBUNTU",
            "ALPINE": "ALPINE"}.get(prefix, "OSV")


def put_registry_scanning_configuration(call: Call) -> dict[str, Any]:
    config = _scanning(call).put_registry_configuration(
        call.caller, call.params.get("scanType"), call.params.get("rules"))
    return {"registryScanningConfiguration": config.shape()}


def get_registry_scanning_configuration(call: Call) -> dict[str, Any]:
    config = _scanning(call).get_registry_configuration(call.caller)
    return {"registryId": call.services.identity.registry.registry_id,
            "scanningConfiguration": config.shape()}


def batch_get_repository_scanning_configuration(call: Call) -> dict[str, Any]:
    names = call.required("repositoryNames", list)
    if not 1 <= len(names) <= 25:
        raise ValidationError("1 validation error detected: Value at 'repositoryNames' failed to "
                              "satisfy constraint: Member must have length less than or equal to "
                              "25 and greater than or equal to 1")
    if not all(isinstance(n, str) for n in names):
        raise ValidationError("1 validation error detected: Value at 'repositoryNames' failed to "
                              "satisfy constraint: Member must be a list of strings")
    found, missing = _scanning(call).repository_configurations(call.caller, names)
    address = call.services.repositories.address
    return {
        "scanningConfigurations": [{
            "repositoryArn": address.repository_arn(repo.name), "repositoryName": repo.name,
            "scanOnPush": config.scan_on_push, "scanFrequency": config.frequency,
            "appliedScanFilters": [dict(f) for f in config.applied_filters],
        } for repo, config in found],
        "failures": [{"repositoryName": n, "failureCode": "REPOSITORY_NOT_FOUND",
                      "failureReason": "REPOSITORY_NOT_FOUND"} for n in missing],
    }
