"""Version ordering per OSV ecosystem, with the version-scheme library ``univers``.

Each ecosystem orders versions its own way: PEP 440 for PyPI, SemVer 2.0 precedence for npm and
Go (and every ``SEMVER`` range), dpkg's algorithm for Debian and Ubuntu, apk's for Alpine, and
rpm's (``rpmvercmp`` with epochs) for the RPM distributions. ``parse`` gives a value that compares
in that order; a version the scheme cannot read raises ``InvalidVersion``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from univers.versions import (
    AlpineLinuxVersion,
    DebianVersion,
    InvalidVersion as _UniversInvalid,
    MavenVersion,
    NugetVersion,
    PypiVersion,
    RpmVersion,
    RubygemsVersion,
    SemverVersion,
)

SEMVER = "SEMVER"
ECOSYSTEM = "ECOSYSTEM"

# OSV ecosystem (the part before the first ':') -> version class
_SCHEMES: dict[str, type] = {
    "PyPI": PypiVersion,
    "npm": SemverVersion,
    "Go": SemverVersion,
    "crates.io": SemverVersion,
    "Hex": SemverVersion,
    "Pub": SemverVersion,
    "Debian": DebianVersion,
    "Ubuntu": DebianVersion,
    "Alpine": AlpineLinuxVersion,
    "Wolfi": AlpineLinuxVersion,
    "Chainguard": AlpineLinuxVersion,
    "Red Hat": RpmVersion,
    "Rocky Linux": RpmVersion,
    "AlmaLinux": RpmVersion,
    "openSUSE": RpmVersion,
    "SUSE": RpmVersion,
    "Mageia": RpmVersion,
    "Photon OS": RpmVersion,
    "openEuler": RpmVersion,
    "Maven": MavenVersion,
    "NuGet": NugetVersion,
    "RubyGems": RubygemsVersion,
}
_SEMVER_CLASSES = frozenset({SemverVersion})
_BUILD = re.compile(r"\+.*$")


class InvalidVersion(ValueError):
    """The version string is not valid in its ecosystem's scheme."""


def family(ecosystem: str) -> str:
    """``Debian:12`` -> ``Debian``; ``Alpine:v3.20`` -> ``Alpine``."""
    return ecosystem.split(":", 1)[0]


def supported(ecosystem: str) -> bool:
    return family(ecosystem) in _SCHEMES


def scheme(ecosystem: str, range_type: str = ECOSYSTEM) -> type:
    if range_type == SEMVER:
        return SemverVersion
    try:
        return _SCHEMES[family(ecosystem)]
    except KeyError:
        raise InvalidVersion(f"no version ordering known for ecosystem {ecosystem!r}") from None


def parse(ecosystem: str, text: str, range_type: str = ECOSYSTEM) -> Any:
    """A value that orders as ``ecosystem`` (or SemVer for a ``SEMVER`` range) orders versions."""
    return _parse(scheme(ecosystem, range_type), text)


@lru_cache(maxsize=65536)
def _parse(cls: type, text: str) -> Any:
    if not isinstance(text, str) or not text.strip():
        raise InvalidVersion(f"empty version {text!r}")
    value = text.strip()
    if cls in _SEMVER_CLASSES:
        # SemVer 2.0: build metadata does not take part in precedence (Go's +incompatible too)
        value = _BUILD.sub("", value.lstrip("=").removeprefix("v"))
    try:
        return cls(value)
    except (_UniversInvalid, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise InvalidVersion(f"{text!r} is not a valid {family_name(cls)} version: {exc}") from None


def family_name(cls: type) -> str:
    return cls.__name__.removesuffix("Version")


def go_version(toolchain: str) -> str | None:
    """The SemVer of a Go toolchain version as Go's advisories write it: ``go1.19.8`` -> ``1.19.8``,
    ``go1.20`` -> ``1.20.0``, ``go1.21rc2`` -> ``1.21.0-rc.2``; None for development builds."""
    match = re.fullmatch(r"go(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:(beta|rc)(\d+))?", toolchain.split()[0]
                         if toolchain.strip() else "")
    if match is None:
        return None
    major, minor, patch, pre, pre_n = match.groups()
    version = f"{major}.{minor or 0}.{patch or 0}"
    return f"{version}-{pre}.{pre_n}" if pre else version
