"""OS package databases: dpkg (``var/lib/dpkg/status`` and distroless ``status.d/*``), apk
(``lib/apk/db/installed``) and rpm (the SQLite ``rpmdb.sqlite``; BerkeleyDB and ndb databases are
reported as unsupported)."""

from __future__ import annotations

import re
import sqlite3
import struct
from collections.abc import Iterator

from dockyard.scanning.packages import APK, DEB, RPM, Package

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d/"
APK_INSTALLED = "lib/apk/db/installed"
RPM_SQLITE = ("var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite")
RPM_UNSUPPORTED = ("var/lib/rpm/Packages", "var/lib/rpm/Packages.db",
                   "usr/lib/sysimage/rpm/Packages", "usr/lib/sysimage/rpm/Packages.db")
_SOURCE = re.compile(r"^\s*(\S+)(?:\s+\((.+)\))?\s*$")


class UnsupportedDatabase(ValueError):
    pass


def is_dpkg_database(path: str) -> bool:
    if path == DPKG_STATUS:
        return True
    return (path.startswith(DPKG_STATUS_D) and "/" not in path[len(DPKG_STATUS_D):]
            and not path.endswith(".md5sums"))


# --- dpkg -----------------------------------------------------------------------------------------
def _paragraphs(text: str) -> Iterator[dict[str, str]]:
    fields: dict[str, str] = {}
    key: str | None = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, None
            continue
        if line[0] in " \t":
            if key is not None and key in ("Package", "Version", "Source", "Status",
                                           "Architecture", "License"):
                fields[key] += "\n" + line.strip()
            continue
        key, _, value = line.partition(":")
        key = key.strip()
        fields[key] = value.strip()
    if fields:
        yield fields


def parse_dpkg(text: str, path: str) -> list[Package]:
    """Installed packages of a dpkg status file (or one ``status.d`` file)."""
    found = []
    for fields in _paragraphs(text):
        name, version = fields.get("Package"), fields.get("Version")
        if not name or not version:
            continue
        status = fields.get("Status")
        if status is not None and status.split()[-1:] != ["installed"]:
            continue
        source_name, source_version = name, version
        source = fields.get("Source")
        if source:
            match = _SOURCE.match(source)
            if match:
                source_name = match.group(1)
                source_version = match.group(2) or version
        found.append(Package(DEB, name, version, path, source_name=source_name,
                             source_version=source_version,
                             arch=fields.get("Architecture") or None))
    return found


# --- apk ------------------------------------------------------------------------------------------
def parse_apk(text: str, path: str) -> list[Package]:
    found = []
    block: dict[str, str] = {}
    for line in text.splitlines() + [""]:
        if not line.strip():
            if block.get("P") and block.get("V"):
                found.append(Package(APK, block["P"], block["V"], path,
                                     source_name=block.get("o") or block["P"],
                                     source_version=block["V"], arch=block.get("A") or None,
                                     license=block.get("L") or None))
            block = {}
            continue
        if len(line) > 2 and line[1] == ":":
            block.setdefault(line[0], line[2:].strip())
    return found


# --- rpm ------------------------------------------------------------------------------------------
RPMTAG_NAME, RPMTAG_VERSION, RPMTAG_RELEASE, RPMTAG_EPOCH = 1000, 1001, 1002, 1003
RPMTAG_LICENSE, RPMTAG_ARCH, RPMTAG_SOURCERPM = 1014, 1022, 1044
_INT32, _STRING, _STRING_ARRAY, _I18NSTRING = 4, 6, 8, 9
_WANTED = {RPMTAG_NAME, RPMTAG_VERSION, RPMTAG_RELEASE, RPMTAG_EPOCH, RPMTAG_LICENSE,
           RPMTAG_ARCH, RPMTAG_SOURCERPM}


def parse_rpm_header(blob: bytes) -> dict[int, object]:
    """The tags Dockyard needs from one rpm header blob (as rpmdb stores it: no lead magic)."""
    if len(blob) < 8:
        raise ValueError("rpm header blob too short")
    count, data_len = struct.unpack_from(">ii", blob, 0)
    if count < 1 or data_len < 0 or 8 + count * 16 + data_len > len(blob):
        raise ValueError("rpm header blob is damaged")
    data = blob[8 + count * 16:8 + count * 16 + data_len]
    tags: dict[int, object] = {}
    for i in range(count):
        tag, kind, offset, n = struct.unpack_from(">iiii", blob, 8 + i * 16)
        if tag not in _WANTED or not 0 <= offset < len(data):
            continue
        if kind == _INT32 and n >= 1:
            tags[tag] = struct.unpack_from(">i", data, offset)[0]
        elif kind in (_STRING, _STRING_ARRAY, _I18NSTRING):
            end = data.find(b"\0", offset)
            tags[tag] = data[offset:end if end >= 0 else len(data)].decode("utf-8", "replace")
    return tags


def _source_name(source_rpm: object) -> str | None:
    """``openssl-3.0.7-24.el9.src.rpm`` -> ``openssl``."""
    if not isinstance(source_rpm, str) or not source_rpm.endswith(".rpm"):
        return None
    stem = source_rpm[:-4].rsplit(".", 1)[0]  # drop .src/.nosrc
    parts = stem.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else None


def parse_rpm_sqlite(data: bytes, path: str) -> list[Package]:
    """Packages of an rpm SQLite database (the file's bytes; opened in memory, never on disk)."""
    if len(data) > 19 and data[:16] == b"SQLite format 3\0" and data[18:20] == b"\x02\x02":
        # rpm keeps its database in WAL mode; an in-memory copy must say "rollback journal"
        data = data[:18] + b"\x01\x01" + data[20:]
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(data)
        rows = connection.execute("SELECT blob FROM Packages").fetchall()
    except sqlite3.DatabaseError as exc:
        raise UnsupportedDatabase(f"{path}: not an rpm SQLite database: {exc}") from None
    finally:
        connection.close()
    found = []
    for (blob,) in rows:
        try:
            tags = parse_rpm_header(bytes(blob))
        except (ValueError, struct.error):
            continue
        name, version, release = (tags.get(RPMTAG_NAME), tags.get(RPMTAG_VERSION),
                                  tags.get(RPMTAG_RELEASE))
        if not isinstance(name, str) or not isinstance(version, str) or name == "gpg-pubkey":
            continue
        full = f"{version}-{release}" if isinstance(release, str) and release else version
        epoch = tags.get(RPMTAG_EPOCH)
        found.append(Package(RPM, name, full, path,
                             source_name=_source_name(tags.get(RPMTAG_SOURCERPM)),
                             arch=tags.get(RPMTAG_ARCH) if isinstance(tags.get(RPMTAG_ARCH), str) else None,  # type: ignore[arg-type]
                             epoch=epoch if isinstance(epoch, int) and epoch else None,
                             release=release if isinstance(release, str) else None,
                             license=tags.get(RPMTAG_LICENSE) if isinstance(tags.get(RPMTAG_LICENSE), str) else None))  # type: ignore[arg-type]
    return found
