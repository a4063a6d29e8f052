"""Language packages: Python distributions (``*.dist-info/METADATA``, ``*.egg-info/PKG-INFO`` and
``*.egg-info`` files) and npm packages (``node_modules/<name>/package.json``,
``node_modules/@scope/<name>/package.json``)."""

from __future__ import annotations

import json
import re
from email.parser import HeaderParser

from dockyard.scanning.packages import NPM, PYTHON, Package

MAX_METADATA = 256 * 1024  # headers come first; the long description after them is not needed
MAX_PACKAGE_JSON = 8 * 1024 * 1024
_NPM_MANIFEST = re.compile(r"(?:^|/)node_modules/(?:@[^/]+/)?[^/@][^/]*/package\.json$")


def is_python_metadata(path: str) -> bool:
    return (path.endswith(".dist-info/METADATA") or path.endswith(".egg-info/PKG-INFO")
            or path.endswith(".egg-info"))


def is_npm_manifest(path: str) -> bool:
    return _NPM_MANIFEST.search(path) is not None


def parse_python_metadata(data: bytes, path: str) -> Package | None:
    text = data.decode("utf-8", "replace")
    head, _, _ = text.partition("\n\n")
    headers = HeaderParser().parsestr(head + "\n")
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return None
    license_text = headers.get("License-Expression") or headers.get("License")
    if license_text and ("\n" in license_text or len(license_text) > 100 or license_text == "UNKNOWN"):
        license_text = None
    return Package(PYTHON, str(name).strip(), str(version).strip(), path,
                   license=str(license_text).strip() if license_text else None)


def parse_package_json(data: bytes, path: str) -> Package | None:
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    license_value = doc.get("license")
    if isinstance(license_value, dict):
        license_value = license_value.get("type")
    return Package(NPM, name, version, path,
                   license=license_value if isinstance(license_value, str) else None)
