"""Matching real inventories against the real advisories of shared/vulndata.

The expected findings are computed here from the OSV files directly, with interval logic of the
test's own (``packaging`` for PEP 440, a small SemVer comparison for npm and Go), never with the
scanner's code; a missing finding and an extra finding both fail. OS ecosystems, for which no real
advisories could be obtained, use small advisories written here for this machine's own packages.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dockyard.metadata.scan_store import SqlScanStore
from dockyard.ports import SystemClock
from dockyard.scanning import inventory, matching
from dockyard.scanning.osv_import import import_osv

from .conftest import GoBinary, Member, fresh_store, layer, tree_members
from .osv_expected import expected_findings, got_findings, pep440_key, pep503, semver_key


# --- language packages against vulndata ------------------------------------------------------------
def test_pip_installed_packages_against_pypi_advisories(
        pip_site: Path, vulndb: SqlScanStore, osv_records: dict) -> None:
    installed = {(d.metadata["Name"], d.version)
                 for d in importlib.metadata.distributions(path=[str(pip_site)])}
    expected = expected_findings(osv_records, "PyPI", installed, pep440_key, pep503)
    assert len(expected) >= 10, expected  # old releases: the test would be empty otherwise
    inv = inventory.build([layer(tree_members(pip_site, "usr/lib/python3/site-packages"))])
    findings = matching.match(inv, vulndb.affected)
    assert got_findings(findings, "python") == expected
    assert {f["severity"] for f in findings} <= {"CRITICAL", "HIGH", "MEDIUM", "LOW",
                                                 "INFORMATIONAL", "UNDEFINED"}


def test_npm_packages_against_ghsa_advisories(
        npm_prefix: Path, vulndb: SqlScanStore, osv_records: dict) -> None:
    lock = json.loads((npm_prefix / "node_modules" / ".package-lock.json").read_text())
    installed = {(info.get("name") or path.rsplit("node_modules/", 1)[1], info["version"])
                 for path, info in lock["packages"].items() if path}
    expected = expected_findings(osv_records, "npm", installed, semver_key, lambda n: n)
    assert {"GHSA-p6mc-m468-83gw", "GHSA-29mw-wpgm-hmr9", "GHSA-35jh-r3h4-6jhm"} <= {
        e[0] for e in expected}
    assert "GHSA-g2q5-5433-rhrf" not in {e[0] for e in expected}  # rc 1.2.8 is not a listed version
    inv = inventory.build([layer(tree_members(npm_prefix / "node_modules", "srv/node_modules"))])
    findings = matching.match(inv, vulndb.affected)
    assert got_findings(findings, "npm") == expected
    severities = {f["id"]: f["severity"] for f in findings}
    assert severities["GHSA-29mw-wpgm-hmr9"] == "MEDIUM"  # CVSS:3.1 .../A:L = 5.3


def test_go_binary_against_go_advisories(
        go_binary: GoBinary, vulndb: SqlScanStore, osv_records: dict) -> None:
    stdlib = {("stdlib", go_binary.go_version.removeprefix("go"))}
    modules = {(m, v.removeprefix("v")) for m, v in go_binary.modules.items()}
    expected = (expected_findings(osv_records, "Go", stdlib, semver_key, lambda n: n)
                | expected_findings(osv_records, "Go", modules, semver_key, lambda n: n))
    assert any(e[1] == "golang.org/x/text" for e in expected)
    assert any(e[1] == "stdlib" for e in expected)
    inv = inventory.build([layer([Member("app/scanme", go_binary.path.read_bytes(), 0o755)])])
    findings = matching.match(inv, vulndb.affected)
    got = got_findings(findings, "go-stdlib") | got_findings(findings, "go-module")
    assert got == expected


def test_withdrawn_advisories_never_match(vulndb: SqlScanStore, osv_records: dict) -> None:
    withdrawn = [(eco, name, e) for (eco, name), entries in osv_records.items() for e in entries
                 if e.withdrawn and eco in ("PyPI", "Go") and e.affected.get("versions")]
    assert withdrawn
    eco, name, entry = withdrawn[0]
    version = entry.affected["versions"][0]
    kind = {"PyPI": "python", "Go": "go-module"}[eco]
    inv = inventory.Inventory(packages=[inventory.Package(kind, name, version, "x")])
    assert entry.id not in {f["id"] for f in matching.match(inv, vulndb.affected)}


# --- OS packages with advisories written for this machine's packages ------------------------------
def dpkg_sources() -> list[tuple[str, str, str]]:
    """(binary, source, source version) of installed packages whose source name differs."""
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${source:Package}\t"
                          "${source:Version}\t${db:Status-Status}\n"],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    return [(b, s, v) for b, s, v, status in rows if status == "installed" and b != s]


def advisory(osv_id: str, ecosystem: str, name: str, *events: dict[str, str]) -> dict[str, Any]:
    return {"id": osv_id, "modified": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": ecosystem, "name": name},
                          "ranges": [{"type": "ECOSYSTEM", "events": list(events)}]}]}


def import_fixtures(tmp_path: Path, records: list[dict[str, Any]]) -> SqlScanStore:
    folder = tmp_path / "osv"
    folder.mkdir()
    for record in records:
        (folder / f"{record['id']}.json").write_text(json.dumps(record))
    store = fresh_store(tmp_path)
    import_osv(store, folder, SystemClock())
    return store


def test_debian_packages_match_by_source_package(tmp_path: Path) -> None:
    status = Path("/var/lib/dpkg/status")
    if not status.exists():
        pytest.skip("no dpkg database")
    rows = dpkg_sources()
    binary, source, version = rows[0]
    other_binary, other_source, other_version = next(r for r in rows if r[1] != source)
    store = import_fixtures(tmp_path, [
        advisory("DSA-TEST-1", "Debian:12", source, {"introduced": "0"}, {"fixed": version + "+fix1"}),
        advisory("DSA-TEST-2", "Debian:12", other_source, {"introduced": "0"}, {"fixed": other_version}),
        advisory("DSA-TEST-3", "Debian:11", source, {"introduced": "0"}),
        advisory("DSA-TEST-4", "Debian:12", binary, {"introduced": "0"}),  # binary name: never
    ])
    release = b'ID=debian\nVERSION_ID="12"\n'
    inv = inventory.build([layer([Member("etc/os-release", release),
                                  Member("var/lib/dpkg/status", status.read_bytes())])])
    findings = matching.match(inv, store.affected)
    binaries_of_source = {b for b, s, _ in rows if s == source}
    assert {(f["id"], f["package"]["name"]) for f in findings} == {
        ("DSA-TEST-1", b) for b in binaries_of_source}
    assert all(f["fixed"] == version + "+fix1" for f in findings)


def test_alpine_packages_match_by_origin(tmp_path: Path) -> None:
    db = (b"P:libcrypto3\nV:3.3.2-r0\no:openssl\n\nP:musl\nV:1.2.5-r0\no:musl\n\n"
          b"P:busybox\nV:1.36.1-r29\no:busybox\n\n")
    store = import_fixtures(tmp_path, [
        advisory("ALPINE-T-1", "Alpine:v3.20", "openssl", {"introduced": "0"}, {"fixed": "3.3.2-r1"}),
        advisory("ALPINE-T-2", "Alpine:v3.20", "musl", {"introduced": "0"}, {"fixed": "1.2.5-r0"}),
        advisory("ALPINE-T-3", "Alpine:v3.20", "busybox", {"introduced": "0"}, {"fixed": "1.36.1-r30"}),
        advisory("ALPINE-T-4", "Alpine:v3.19", "busybox", {"introduced": "0"}),
    ])
    inv = inventory.build([layer([Member("etc/os-release", b"ID=alpine\nVERSION_ID=3.20.3\n"),
                                  Member("lib/apk/db/installed", db)])])
    findings = matching.match(inv, store.affected)
    assert {(f["id"], f["package"]["name"]) for f in findings} == {
        ("ALPINE-T-1", "libcrypto3"), ("ALPINE-T-3", "busybox")}


def test_rpm_packages_match_with_epochs(tmp_path: Path) -> None:
    from dockyard.scanning.packages import RPM, Package

    store = import_fixtures(tmp_path, [
        advisory("RLSA-T-1", "Rocky Linux:9", "openssl-libs", {"introduced": "0"},
                 {"fixed": "1:3.0.7-25.el9"}),
        advisory("RLSA-T-2", "Rocky Linux:9", "bash", {"introduced": "0"}, {"fixed": "5.1.8-9.el9"}),
    ])
    inv = inventory.Inventory(
        {"id": "rocky", "version_id": "9.3", "ecosystems": ["Rocky Linux:9"]},
        [Package(RPM, "openssl-libs", "3.0.7-24.el9", "var/lib/rpm/rpmdb.sqlite", epoch=1),
         Package(RPM, "bash", "5.1.8-9.el9", "var/lib/rpm/rpmdb.sqlite")])
    findings = matching.match(inv, store.affected)
    assert [(f["id"], f["fixed"]) for f in findings] == [("RLSA-T-1", "1:3.0.7-25.el9")]


def test_os_packages_of_an_unknown_os_are_not_matched(tmp_path: Path) -> None:
    store = import_fixtures(tmp_path, [advisory("X-1", "Debian:12", "glibc", {"introduced": "0"})])
    from dockyard.scanning.packages import DEB, Package

    inv = inventory.Inventory(None, [Package(DEB, "libc6", "2.36-9", "s", source_name="glibc")])
    assert matching.match(inv, store.affected) == []


def test_alias_duplicates_are_reported_once(tmp_path: Path) -> None:
    first = advisory("GHSA-aaaa-bbbb-cccc", "PyPI", "demo", {"introduced": "0"})
    second = {**advisory("PYSEC-2099-1", "PyPI", "demo", {"introduced": "0"}),
              "aliases": ["GHSA-aaaa-bbbb-cccc"]}
    store = import_fixtures(tmp_path, [first, second])
    from dockyard.scanning.packages import PYTHON, Package

    inv = inventory.Inventory(None, [Package(PYTHON, "Demo", "1.0", "m")])
    assert [f["id"] for f in matching.match(inv, store.affected)] == ["GHSA-aaaa-bbbb-cccc"]
