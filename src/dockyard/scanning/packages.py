"""An installed package, as an inventory (SBOM) records it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

DEB, APK, RPM = "deb", "apk", "rpm"
PYTHON, NPM, GO_MODULE, GO_STDLIB = "python", "npm", "go-module", "go-stdlib"
OS_TYPES = frozenset({DEB, APK, RPM})

# package type -> the package manager name ECR's enhanced findings show
PACKAGE_MANAGERS = {DEB: "OS", APK: "OS", RPM: "OS", PYTHON: "PYTHONPKG", NPM: "NODEPKG",
                    GO_MODULE: "GOBINARY", GO_STDLIB: "GOBINARY"}
LANGUAGE_ECOSYSTEMS = {PYTHON: "PyPI", NPM: "npm", GO_MODULE: "Go", GO_STDLIB: "Go"}


@dataclass(frozen=True, slots=True)
class Package:
    type: str
    name: str
    version: str
    path: str  # the file it was found in
    layer: str = ""  # digest of the layer that file came from
    source_name: str | None = None  # OS source package (what OS advisories name)
    source_version: str | None = None
    arch: str | None = None
    epoch: int | None = None
    release: str | None = None
    license: str | None = None

    def in_layer(self, layer: str) -> "Package":
        return replace(self, layer=layer)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Package":
        fields = set(cls.__dataclass_fields__)  # type: ignore[attr-defined]
        return cls(**{k: v for k, v in data.items() if k in fields})

    @property
    def match_name(self) -> str:
        """The name advisories use: the source package for deb and apk, else the package."""
        if self.type in (DEB, APK) and self.source_name:
            return self.source_name
        return self.name

    @property
    def match_version(self) -> str:
        if self.type == DEB and self.source_version:
            return self.source_version
        if self.type == RPM and self.epoch:
            return f"{self.epoch}:{self.version}"  # version holds version-release
        return self.version
