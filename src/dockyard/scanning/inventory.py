"""The inventory (SBOM) of one image: its OS and every package found in its layers.

``build`` streams the layers once, in order (``layers.overlay``), with a picker that parses only
the files that describe installed software; whatever later layers delete or replace is gone from
the result, as in the running container.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from dockyard.scanning import go_buildinfo, language_packages, os_packages, os_release
from dockyard.scanning.layers import Entry, overlay
from dockyard.scanning.packages import GO_MODULE, GO_STDLIB, Package
from dockyard.scanning.versions import go_version

FORMAT = 1
MAX_TEXT_DB = 128 * 1024 * 1024
MAX_RPM_DB = 512 * 1024 * 1024
MIN_EXECUTABLE = 4096


@dataclass(frozen=True, slots=True)
class _Link:
    target: str


@dataclass(frozen=True, slots=True)
class _Note:
    text: str


@dataclass(frozen=True, slots=True)
class _Release:
    release: os_release.OsRelease | None


@dataclass
class Inventory:
    os: dict[str, Any] | None = None
    packages: list[Package] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    platform: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "os": self.os, "platform": self.platform,
                "packages": [p.as_dict() for p in self.packages], "notes": list(self.notes)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Inventory":
        return cls(data.get("os"), [Package.from_dict(p) for p in data.get("packages") or ()],
                   list(data.get("notes") or ()), data.get("platform"))

    @property
    def os_ecosystems(self) -> list[str]:
        return list((self.os or {}).get("ecosystems") or [])


def _read(f: IO[bytes] | None, limit: int) -> bytes | None:
    if f is None:
        return None
    data = f.read(limit + 1)
    return None if len(data) > limit else data


def pick(path: str, info: tarfile.TarInfo, f: IO[bytes] | None) -> Any:
    """The picker for ``layers.overlay``: parsed contents of the files an inventory needs."""
    if path in os_release.PATHS:
        if info.issym():
            return _Link(info.linkname)
        data = _read(f, 64 * 1024)
        return _Release(os_release.parse(data.decode("utf-8", "replace")) if data else None)
    if info.issym():
        return None
    if os_packages.is_dpkg_database(path):
        data = _read(f, MAX_TEXT_DB)
        if data is None:
            return _Note(f"{path}: larger than {MAX_TEXT_DB} bytes, not read")
        return os_packages.parse_dpkg(data.decode("utf-8", "replace"), path)
    if path == os_packages.APK_INSTALLED:
        data = _read(f, MAX_TEXT_DB)
        if data is None:
            return _Note(f"{path}: larger than {MAX_TEXT_DB} bytes, not read")
        return os_packages.parse_apk(data.decode("utf-8", "replace"), path)
    if path in os_packages.RPM_SQLITE:
        data = _read(f, MAX_RPM_DB)
        if data is None:
            return _Note(f"{path}: larger than {MAX_RPM_DB} bytes, not read")
        try:
            return os_packages.parse_rpm_sqlite(data, path)
        except os_packages.UnsupportedDatabase as exc:
            return _Note(str(exc))
    if path in os_packages.RPM_UNSUPPORTED:
        kind = "ndb" if path.endswith(".db") else "BerkeleyDB"
        return _Note(f"{path}: rpm {kind} databases are not supported (only rpmdb.sqlite)")
    if language_packages.is_python_metadata(path):
        data = f.read(language_packages.MAX_METADATA) if f else b""
        return language_packages.parse_python_metadata(data, path)
    if language_packages.is_npm_manifest(path):
        data = _read(f, language_packages.MAX_PACKAGE_JSON)
        return language_packages.parse_package_json(data, path) if data else None
    if info.mode & 0o111 and info.size >= MIN_EXECUTABLE and f is not None:
        try:
            build = go_buildinfo.read(f)
        except go_buildinfo.UnsupportedGoBinary as exc:
            return _Note(f"{path}: {exc}")
        return _go_packages(build, path) if build is not None else None
    return None


def _go_packages(build: go_buildinfo.BuildInfo, path: str) -> list[Package]:
    found = []
    stdlib = go_version(build.go_version)
    if stdlib:
        found.append(Package(GO_STDLIB, "stdlib", stdlib, path))
    modules = ([build.main] if build.main else []) + list(build.deps)
    for module in modules:
        name, version = module.path, module.version
        if module.replaced_by is not None and module.replaced_by.version:
            name, version = module.replaced_by.path, module.replaced_by.version
        if not version or version == "(devel)":
            continue
        found.append(Package(GO_MODULE, name, version.removeprefix("v"), path))
    return found


def _resolve_release(files: dict[str, Entry]) -> os_release.OsRelease | None:
    for path in os_release.PATHS:
        entry = files.get(path)
        seen = 0
        while entry is not None and isinstance(entry.value, _Link) and seen < 8:
            target = entry.value.target
            path = posixpath.normpath(target if target.startswith("/")
                                      else posixpath.join(posixpath.dirname(path), target))
            entry = files.get(path.lstrip("/"))
            seen += 1
        if entry is not None and isinstance(entry.value, _Release) and entry.value.release:
            return entry.value.release
    return None


def build(layers: Iterable[tuple[str, Iterable[bytes]]], platform: str | None = None) -> Inventory:
    """The inventory of an image from its layers ((digest, byte chunks), in manifest order)."""
    files = overlay(layers, pick)
    release = _resolve_release(files)
    inventory = Inventory(release.as_dict() if release else None, platform=platform)
    for path in sorted(files):
        entry = files[path]
        value = entry.value
        if isinstance(value, _Note):
            inventory.notes.append(value.text)
        elif isinstance(value, Package):
            inventory.packages.append(value.in_layer(entry.layer))
        elif isinstance(value, list):
            inventory.packages += [p.in_layer(entry.layer) for p in value]
    return inventory
