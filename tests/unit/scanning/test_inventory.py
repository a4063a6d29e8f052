"""Inventories of real installed software, each checked against the installing tool's own view:
dpkg-query for this machine's dpkg database, importlib.metadata for pip-installed packages, npm's
lockfile for node_modules, ``go version -m`` for Go binaries, ``rpm -qa`` for an rpm database."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dockyard.scanning import go_buildinfo, inventory
from dockyard.scanning.os_packages import parse_apk, parse_dpkg

from .conftest import GoBinary, Member, layer, tree_members

DPKG_STATUS = Path("/var/lib/dpkg/status")


def packages_of(inv: inventory.Inventory, kind: str) -> set[tuple[str, str]]:
    return {(p.name, p.version) for p in inv.packages if p.type == kind}


# --- dpkg ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dpkg_query() -> set[tuple[str, str, str, str]]:
    if not DPKG_STATUS.exists() or shutil.which("dpkg-query") is None:
        pytest.skip("no dpkg database on this machine")
    out = subprocess.run(["dpkg-query", "-W", "-f",
                          "${Package}\t${Version}\t${source:Package}\t${source:Version}\t"
                          "${db:Status-Status}\n"], capture_output=True, text=True, check=True).stdout
    rows = set()
    for line in out.splitlines():
        name, version, source, source_version, status = line.split("\t")
        if status == "installed":
            rows.add((name, version, source, source_version))
    return rows


def test_dpkg_status_of_this_machine(dpkg_query: set[tuple[str, str, str, str]]) -> None:
    os_release = Path("/etc/os-release").read_bytes()
    inv = inventory.build([layer([Member("etc/os-release", os_release),
                                  Member("var/lib/dpkg/status", DPKG_STATUS.read_bytes())])])
    got = {(p.name, p.version, p.source_name, p.source_version)
           for p in inv.packages if p.type == "deb"}
    assert got == dpkg_query
    assert inv.os is not None and inv.os["id"] == "debian" or inv.os["id"] == "ubuntu"


def test_distroless_status_d(dpkg_query: set[tuple[str, str, str, str]]) -> None:
    """Distroless images keep one file per package in status.d, beside .md5sums files."""
    paragraphs = [p for p in DPKG_STATUS.read_text().split("\n\n")
                  if "Status: install ok installed" in p][:5]
    members = [Member("var/lib/dpkg/status.d")]
    for text in paragraphs:
        name = text.split("Package: ", 1)[1].split("\n", 1)[0]
        body = "\n".join(line for line in text.splitlines() if not line.startswith("Status:"))
        members += [Member(f"var/lib/dpkg/status.d/{name}", body.encode() + b"\n"),
                    Member(f"var/lib/dpkg/status.d/{name}.md5sums", b"d41d8  usr/share/x\n")]
    inv = inventory.build([layer(members)])
    got = {(p.name, p.version, p.source_name, p.source_version) for p in inv.packages}
    assert len(got) == len(paragraphs)
    assert got <= dpkg_query


def test_dpkg_skips_packages_not_installed() -> None:
    text = ("Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n"
            "Package: here\nStatus: install ok installed\nVersion: 2.0\nSource: src (2.0-1)\n")
    assert [(p.name, p.source_name, p.source_version) for p in parse_dpkg(text, "s")] == \
        [("here", "src", "2.0-1")]


# --- os-release ---------------------------------------------------------------------------------
def test_os_release_through_a_symlink_and_whiteouts() -> None:
    base = layer([Member("usr/lib/os-release", b'ID=alpine\nVERSION_ID=3.20.3\n'),
                  Member("etc/os-release", link="../usr/lib/os-release")])
    inv = inventory.build([base])
    assert inv.os is not None and inv.os["ecosystems"] == ["Alpine:v3.20"]
    gone = inventory.build([base, layer([Member("etc/.wh.os-release", b""),
                                         Member("usr/lib/.wh.os-release", b"")])])
    assert gone.os is None


# --- apk (no Alpine data can be downloaded here: a database in apk's format) --------------------
APK_DB = b"""C:Q1abc=
P:musl
V:1.2.5-r0
A:x86_64
L:MIT
o:musl

C:Q1def=
P:libcrypto3
V:3.3.2-r0
A:x86_64
o:openssl

"""


def test_apk_installed_database() -> None:
    inv = inventory.build([layer([Member("lib/apk/db/installed", APK_DB)])])
    assert {(p.name, p.version, p.source_name) for p in inv.packages} == {
        ("musl", "1.2.5-r0", "musl"), ("libcrypto3", "3.3.2-r0", "openssl")}
    assert parse_apk("", "x") == []


# --- rpm ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def rpmdb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[tuple[str, str, int, str]]]:
    """An rpmdb.sqlite written by rpm itself, with packages built by rpmbuild."""
    if shutil.which("rpm") is None or shutil.which("rpmbuild") is None:
        pytest.skip("rpm/rpmbuild not installed (apt-get install rpm)")
    base = tmp_path_factory.mktemp("rpm")
    specs = {"openssl-libs": ("3.0.7", "24.el9", "1"), "bash": ("5.1.8", "9.el9", None)}
    built = []
    for name, (version, release, epoch) in specs.items():
        spec = base / f"{name}.spec"
        spec.write_text(f"Name: {name}\nVersion: {version}\nRelease: {release}\n"
                        + (f"Epoch: {epoch}\n" if epoch else "")
                        + "Summary: t\nLicense: MIT\nBuildArch: noarch\n%description\nt\n%files\n")
        subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {base / 'top'}", str(spec)],
                       check=True, capture_output=True)
    built = [str(p) for p in (base / "top" / "RPMS").rglob("*.rpm")]
    db = base / "db"
    rpm = ["rpm", "--dbpath", str(db), "--define", "_db_backend sqlite"]
    subprocess.run([*rpm, "--initdb"], check=True, capture_output=True)
    subprocess.run([*rpm, "-i", "--justdb", "--nodeps", "--ignorearch", "--ignoreos", *built],
                   check=True, capture_output=True)
    out = subprocess.run([*rpm, "-qa", "--queryformat",
                          "%{NAME}\t%{VERSION}-%{RELEASE}\t%{EPOCHNUM}\t%{ARCH}\n"],
                         check=True, capture_output=True, text=True).stdout
    expected = {(n, v, int(e), a) for n, v, e, a in (line.split("\t") for line in out.splitlines())}
    return db / "rpmdb.sqlite", expected


def test_rpm_sqlite_database(rpmdb: tuple[Path, set[tuple[str, str, int, str]]]) -> None:
    path, expected = rpmdb
    inv = inventory.build([layer([Member("var/lib/rpm/rpmdb.sqlite", path.read_bytes())])])
    assert {(p.name, p.version, p.epoch or 0, p.arch) for p in inv.packages} == expected


def test_rpm_berkeley_db_is_reported_unsupported() -> None:
    inv = inventory.build([layer([Member("var/lib/rpm/Packages", b"\0" * 4096)])])
    assert inv.packages == []
    assert any("BerkeleyDB" in note for note in inv.notes)


# --- Python -------------------------------------------------------------------------------------
def test_pip_installed_packages(pip_site: Path) -> None:
    expected = {(d.metadata["Name"], d.version)
                for d in importlib.metadata.distributions(path=[str(pip_site)])}
    assert expected, "pip installed nothing"
    inv = inventory.build([layer(tree_members(pip_site, "usr/local/lib/python3.11/site-packages"))])
    assert packages_of(inv, "python") == expected
    assert all(p.path.endswith(".dist-info/METADATA") for p in inv.packages)


def test_uninstalled_python_package_is_gone(pip_site: Path) -> None:
    prefix = "usr/lib/python3/site-packages"
    dist = next(p.name for p in pip_site.glob("*.dist-info"))
    inv = inventory.build([layer(tree_members(pip_site, prefix)),
                           layer([Member(f"{prefix}/.wh.{dist}", b"")])])
    names = {p.path.split("/")[-2] for p in inv.packages}
    assert dist not in names and names


def test_egg_info_file_and_directory() -> None:
    meta = b"Metadata-Version: 1.1\nName: Legacy_Pkg\nVersion: 0.9\n\nlong description\n"
    inv = inventory.build([layer([Member("usr/lib/python2.7/dist-packages/Legacy_Pkg-0.9.egg-info", meta),
                                  Member("opt/app/other.egg-info/PKG-INFO",
                                         meta.replace(b"Legacy_Pkg", b"other"))])])
    assert packages_of(inv, "python") == {("Legacy_Pkg", "0.9"), ("other", "0.9")}


# --- npm ----------------------------------------------------------------------------------------
def test_npm_installed_packages(npm_prefix: Path) -> None:
    lock = json.loads((npm_prefix / "node_modules" / ".package-lock.json").read_text())
    expected = {(info.get("name") or path.rsplit("node_modules/", 1)[1], info["version"])
                for path, info in lock["packages"].items() if path}
    inv = inventory.build([layer(tree_members(npm_prefix / "node_modules", "app/node_modules"))])
    assert packages_of(inv, "npm") == expected


def test_package_json_outside_node_modules_or_nested_is_not_a_package() -> None:
    pj = json.dumps({"name": "x", "version": "1.0.0"}).encode()
    inv = inventory.build([layer([Member("app/package.json", pj),
                                  Member("app/node_modules/x/lib/package.json", pj),
                                  Member("app/node_modules/@scope/y/package.json",
                                         json.dumps({"name": "@scope/y", "version": "2.0.0"}).encode())])])
    assert packages_of(inv, "npm") == {("@scope/y", "2.0.0")}


# --- Go -----------------------------------------------------------------------------------------
def go_packages(binary: GoBinary) -> set[tuple[str, str, str]]:
    expected = {("go-stdlib", "stdlib", binary.go_version.removeprefix("go"))}
    expected |= {("go-module", m, v.removeprefix("v")) for m, v in binary.modules.items()}
    return expected


def test_go_binary_built_by_the_toolchain(go_binary: GoBinary) -> None:
    assert go_binary.modules == {"golang.org/x/text": "v0.3.5"}
    inv = inventory.build([layer([Member("usr/local/bin/scanme", go_binary.path.read_bytes(), 0o755)])])
    got = {(p.type, p.name, p.version) for p in inv.packages}
    assert got == go_packages(go_binary)


MACHINE_GO_BINARIES = ["/usr/bin/containerd", "/usr/sbin/runc", "/usr/local/bin/docker",
                       "/usr/lib/google-cloud-sdk/bin/kubectl.1.27"]


@pytest.mark.parametrize("path", MACHINE_GO_BINARIES)
def test_go_binaries_of_this_machine_match_go_version_m(path: str) -> None:
    from .conftest import go_tool, go_version_m

    go = go_tool()
    if go is None or not Path(path).exists():
        pytest.skip(f"needs the go toolchain and {path}")
    binary = go_version_m(go, Path(path))
    with open(path, "rb") as f:
        info = go_buildinfo.read(f)
    assert info is not None
    got = {("go-stdlib", "stdlib", info.go_version.removeprefix("go"))}
    for module in ([info.main] if info.main else []) + list(info.deps):
        target = module.replaced_by if module.replaced_by and module.replaced_by.version else module
        if target.version and target.version != "(devel)":
            got.add(("go-module", target.path, target.version.removeprefix("v")))
    assert got == go_packages(binary)


def test_a_non_executable_or_non_go_file_is_not_a_go_binary() -> None:
    elf_not_go = Path("/bin/ls").read_bytes() if Path("/bin/ls").exists() else b"\x7fELF" + b"\0" * 8000
    inv = inventory.build([layer([Member("bin/ls", elf_not_go, 0o755),
                                  Member("data/blob", b"\x7fELF" + b"\0" * 9000, 0o644)])])
    assert inv.packages == []
