"""The SBOM of an image as documents: CycloneDX 1.6 JSON (with ``cyclonedx-python-lib``) and
SPDX 2.3 JSON, each package with its Package URL (``packageurl-python``)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from dockyard.scanning.advisories import normalise_name
from dockyard.scanning.inventory import Inventory
from dockyard.scanning.packages import APK, DEB, GO_MODULE, GO_STDLIB, NPM, PYTHON, RPM, Package

CYCLONEDX, SPDX = "cyclonedx", "spdx"
FORMATS = (CYCLONEDX, SPDX)
TOOL = "dockyard"


def purl(package: Package, os_id: str | None) -> str:
    qualifiers: dict[str, str] = {}
    if package.arch:
        qualifiers["arch"] = package.arch
    if package.type in (DEB, APK, RPM):
        kind = {DEB: "deb", APK: "apk", RPM: "rpm"}[package.type]
        if package.epoch:
            qualifiers["epoch"] = str(package.epoch)
        if package.source_name and package.source_name != package.name:
            qualifiers["upstream"] = package.source_name
        return PackageURL(kind, os_id or None, package.name, package.version,
                          qualifiers or None).to_string()
    if package.type == PYTHON:
        return PackageURL("pypi", None, normalise_name("PyPI", package.name), package.version).to_string()
    if package.type == NPM:
        scope, _, name = package.name.rpartition("/")
        return PackageURL("npm", scope or None, name, package.version).to_string()
    if package.type in (GO_MODULE, GO_STDLIB):
        namespace, _, name = package.name.rpartition("/")
        return PackageURL("golang", namespace or None, name, "v" + package.version).to_string()
    return PackageURL("generic", None, package.name, package.version).to_string()


def cyclonedx(inventory: Inventory, image: str, digest: str) -> str:
    os_id = (inventory.os or {}).get("id")
    bom = Bom()
    bom.metadata.component = Component(name=image, version=digest, type=ComponentType.CONTAINER,
                                       bom_ref=digest)
    if inventory.os:
        bom.components.add(Component(
            name=str(inventory.os.get("id")), version=str(inventory.os.get("version_id") or ""),
            type=ComponentType.OPERATING_SYSTEM, bom_ref=f"os:{os_id}",
            description=str(inventory.os.get("pretty_name") or "") or None))
    seen: set[str] = set()
    components: list[Component] = []
    for i, package in enumerate(inventory.packages):
        ref = f"{purl(package, os_id)}#{i}"
        if ref in seen:
            continue
        seen.add(ref)
        properties = [Property(name="dockyard:package:type", value=package.type),
                      Property(name="dockyard:package:path", value=package.path)]
        if package.layer:
            properties.append(Property(name="dockyard:layer:digest", value=package.layer))
        if package.source_name:
            properties.append(Property(name="dockyard:package:source", value=package.source_name))
        component = Component(
            name=package.name, version=package.version, type=ComponentType.LIBRARY,
            purl=PackageURL.from_string(purl(package, os_id)), bom_ref=ref,
            properties=properties)
        bom.components.add(component)
        components.append(component)
    bom.register_dependency(bom.metadata.component, components)
    return JsonV1Dot6(bom).output_as_string(indent=2)


def spdx(inventory: Inventory, image: str, digest: str, created: datetime) -> str:
    os_id = (inventory.os or {}).get("id")
    packages: list[dict[str, Any]] = [{
        "name": image, "SPDXID": "SPDXRef-Image", "versionInfo": digest,
        "downloadLocation": "NOASSERTION", "filesAnalyzed": False, "primaryPackagePurpose": "CONTAINER",
    }]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": "SPDXRef-Image"}]
    for i, package in enumerate(inventory.packages):
        spdx_id = f"SPDXRef-Package-{i}"
        entry: dict[str, Any] = {
            "name": package.name, "SPDXID": spdx_id, "versionInfo": package.version,
            "downloadLocation": "NOASSERTION", "filesAnalyzed": False,
            "licenseConcluded": "NOASSERTION", "licenseDeclared": "NOASSERTION",
            "sourceInfo": f"{package.type} package found in {package.path}"
                          + (f" (layer {package.layer})" if package.layer else ""),
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                              "referenceLocator": purl(package, os_id)}],
        }
        packages.append(entry)
        relationships.append({"spdxElementId": "SPDXRef-Image", "relationshipType": "CONTAINS",
                              "relatedSpdxElement": spdx_id})
    document = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{image}@{digest}",
        "documentNamespace": f"https://dockyard.invalid/spdx/{image}/{digest}/{uuid.uuid4()}",
        "creationInfo": {"created": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "creators": [f"Tool: {TOOL}"]},
        "packages": packages,
        "relationships": relationships,
    }
    return json.dumps(document, indent=2)


def render(fmt: str, inventory: Inventory, image: str, digest: str, created: datetime) -> str:
    if fmt == CYCLONEDX:
        return cyclonedx(inventory, image, digest)
    if fmt == SPDX:
        return spdx(inventory, image, digest, created)
    raise ValueError(f"unknown SBOM format {fmt!r} (use {' or '.join(FORMATS)})")
