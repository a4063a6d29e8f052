"""The distribution of an image, from ``etc/os-release`` (or ``usr/lib/os-release``), and the OSV
ecosystems its OS packages are matched in."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

PATHS = ("etc/os-release", "usr/lib/os-release")


@dataclass(frozen=True, slots=True)
class OsRelease:
    id: str
    version_id: str
    pretty_name: str = ""
    version_codename: str = ""
    id_like: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "version_id": self.version_id, "pretty_name": self.pretty_name,
                "version_codename": self.version_codename, "id_like": list(self.id_like),
                "ecosystems": ecosystems(self)}


def parse(text: str) -> OsRelease | None:
    """Parse the ``KEY=value`` shell-quoted format; None without an ``ID``."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.partition("=")
        try:
            parts = shlex.split(raw, posix=True)
        except ValueError:
            parts = [raw.strip("\"'")]
        values[key.strip()] = parts[0] if parts else ""
    if not values.get("ID"):
        return None
    return OsRelease(values["ID"].lower(), values.get("VERSION_ID", ""),
                     values.get("PRETTY_NAME", ""), values.get("VERSION_CODENAME", ""),
                     tuple(values.get("ID_LIKE", "").split()))


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def ecosystems(release: OsRelease | None) -> list[str]:
    """OSV ecosystem names for the OS packages of this release, most specific first; [] when
    Dockyard does not know the distribution."""
    if release is None:
        return []
    rid, version = release.id, release.version_id
    if rid == "debian" and version:
        return [f"Debian:{_major(version)}"]
    if rid == "ubuntu" and version:
        return [f"Ubuntu:{version}:LTS", f"Ubuntu:{version}", f"Ubuntu:Pro:{version}:LTS"]
    if rid == "alpine" and version:
        major_minor = ".".join(version.split(".")[:2])
        return [f"Alpine:v{major_minor}"]
    if rid == "wolfi":
        return ["Wolfi"]
    if rid == "chainguard":
        return ["Chainguard"]
    if rid == "rocky" and version:
        return [f"Rocky Linux:{_major(version)}"]
    if rid == "almalinux" and version:
        return [f"AlmaLinux:{_major(version)}"]
    if rid == "rhel" and version:
        return [f"Red Hat:{_major(version)}", "Red Hat"]
    if rid == "opensuse-leap" and version:
        return [f"openSUSE:Leap {version}"]
    if rid in ("sles", "sle") and version:
        return [f"SUSE:Linux Enterprise Server {version}"]
    if rid == "mageia" and version:
        return [f"Mageia:{version}"]
    if rid == "photon" and version:
        return [f"Photon OS:{version}"]
    return []
