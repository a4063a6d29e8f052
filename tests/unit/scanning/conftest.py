"""Real data for the scanner's tests: the OSV advisories of ``shared/vulndata``, Python packages
pip-installed from PyPI at old versions, npm packages installed from the npm registry, Go binaries
built by the Go toolchain, and this machine's own dpkg database.

Expected findings are derived in the tests straight from the OSV files with simple logic of their
own (``osv_expected``), never from the scanner.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from dockyard.metadata.engine import Database, make_engine
from dockyard.metadata.migrate import upgrade
from dockyard.metadata.scan_store import SqlScanStore
from dockyard.ports import SystemClock
from dockyard.scanning.osv_import import import_osv

from .osv_expected import OsvEntry, load_records

ROOT = Path(__file__).resolve().parents[3]
VULNDATA = Path(os.environ.get("DOCKYARD_VULNDATA", ROOT.parent / "shared" / "vulndata"))
REQUIRED = os.environ.get("DOCKYARD_E2E_REQUIRED") == "1" or os.environ.get("CI") == "true"

# Old releases with advisories in vulndata (PYSEC records); pure-Python wheels
PIP_PACKAGES = ("jinja2==2.10", "urllib3==1.24.1", "requests==2.19.1", "werkzeug==0.15.0")
# lodash/minimist/rc/ini have GHSA records in vulndata; rc 1.2.8 pulls ini, minimist, deep-extend
NPM_PACKAGES = ("lodash@4.17.15", "minimist@1.2.0", "rc@1.2.8")


def missing(what: str) -> None:
    """Skip, or fail where the suite must run everything (CI, make test)."""
    if REQUIRED:
        pytest.fail(f"{what} (required in CI)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def vulndata() -> Path:
    if not (VULNDATA / "osv").is_dir():
        # external data, not a client binary: without it the advisory tests cannot run here
        pytest.skip(f"no OSV data at {VULNDATA} (set DOCKYARD_VULNDATA)")
    return VULNDATA / "osv"


# --- the OSV files, read by the tests themselves -------------------------------------------------
@pytest.fixture(scope="session")
def osv_records(vulndata: Path) -> dict[tuple[str, str], list[OsvEntry]]:
    """(ecosystem, package name as the record writes it, lower-cased) -> affected entries."""
    return load_records(vulndata)


@pytest.fixture(scope="session")
def vulndb(vulndata: Path, tmp_path_factory: pytest.TempPathFactory) -> SqlScanStore:
    """A database with every vulndata advisory imported by ``dockyard vulndb import``'s code."""
    path = tmp_path_factory.mktemp("vulndb") / "v.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    store = SqlScanStore(Database(engine))
    import_osv(store, vulndata, SystemClock())
    return store


def fresh_store(tmp_path: Path) -> SqlScanStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    upgrade(engine)
    return SqlScanStore(Database(engine))


# --- real packages ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pip_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site-packages directory with PIP_PACKAGES installed by pip from PyPI."""
    target = tmp_path_factory.mktemp("pip") / "site-packages"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                             "--no-compile", "--only-binary", ":all:", "--target", str(target),
                             *PIP_PACKAGES], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        missing(f"pip install failed: {result.stderr[-2000:]}")
    return target


@pytest.fixture(scope="session")
def npm_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node_modules tree installed by npm from the npm registry."""
    npm = shutil.which("npm")
    if npm is None:
        missing("npm is not installed")
    prefix = tmp_path_factory.mktemp("npm")
    result = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                             "--ignore-scripts", "--no-save", *NPM_PACKAGES],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        missing(f"npm install failed: {result.stderr[-2000:]}")
    return prefix


def go_tool() -> str | None:
    for candidate in (shutil.which("go"), "/usr/local/go/bin/go", "/usr/lib/go/bin/go"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@dataclass(frozen=True)
class GoBinary:
    path: Path
    go_version: str  # as `go version -m` prints it
    modules: dict[str, str]  # module path -> version, as `go version -m` prints them (dep lines)


GO_PROGRAM = 'package main\n\nimport (\n\t"fmt"\n\t"golang.org/x/text/language"\n)\n\n' \
             'func main() { fmt.Println(language.English) }\n'
# The vendored module is a stub with the real module path and an old version: the toolchain
# records what vendor/modules.txt declares (no network is needed to build).
GO_STUB = 'package language\n\nconst English = "en"\n'


def go_version_m(go: str, binary: Path) -> GoBinary:
    text = subprocess.run([go, "version", "-m", str(binary)], capture_output=True, text=True,
                          check=True).stdout
    lines = text.splitlines()
    go_version = lines[0].split(": ", 1)[1].split()[0]
    modules: dict[str, str] = {}
    last: str | None = None
    for line in lines[1:]:
        fields = line.strip().split("\t")
        if fields[0] in ("dep", "mod") and len(fields) >= 3 and fields[2] != "(devel)":
            modules[fields[1]] = fields[2]
        if fields[0] == "=>" and len(fields) >= 2 and last is not None:
            # a replacement: by another module version, or by a local directory (no version)
            modules.pop(last, None)
            if len(fields) >= 3 and fields[2] not in ("", "(devel)"):
                modules[fields[1]] = fields[2]
        if fields[0] in ("dep", "mod"):
            last = fields[1] if len(fields) >= 2 else None
    return GoBinary(binary, go_version, modules)


@pytest.fixture(scope="session")
def go_binary(tmp_path_factory: pytest.TempPathFactory) -> GoBinary:
    """A Go program built here by the Go toolchain, depending on golang.org/x/text v0.3.5."""
    go = go_tool()
    if go is None:  # not in the machine image: `make system-tools` would need golang-go
        pytest.skip("no Go toolchain (apt-get install golang-go)")
    src = tmp_path_factory.mktemp("gosrc")
    (src / "go.mod").write_text("module example.com/scanme\n\ngo 1.18\n\n"
                                "require golang.org/x/text v0.3.5\n")
    (src / "main.go").write_text(GO_PROGRAM)
    stub = src / "vendor" / "golang.org" / "x" / "text" / "language"
    stub.mkdir(parents=True)
    (stub / "language.go").write_text(GO_STUB)
    (src / "vendor" / "modules.txt").write_text(
        "# golang.org/x/text v0.3.5\n## explicit\ngolang.org/x/text/language\n")
    env = {**os.environ, "GOFLAGS": "-mod=vendor", "GOPROXY": "off", "CGO_ENABLED": "0",
           "GO111MODULE": "on", "GOPATH": str(tmp_path_factory.mktemp("gopath"))}
    out = src / "scanme"
    result = subprocess.run([go, "build", "-o", str(out), "."], cwd=src, env=env,
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(f"go build failed: {result.stderr}")
    return go_version_m(go, out)


# --- layers -------------------------------------------------------------------------------------
@dataclass
class Member:
    name: str
    data: bytes | None = None  # None: a directory
    mode: int = 0o644
    link: str | None = None  # symlink target
    hardlink: str | None = None


def tar_bytes(members: Iterable[Member]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for m in members:
            info = tarfile.TarInfo(m.name)
            info.mode = m.mode
            if m.link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, m.link
                tar.addfile(info)
            elif m.hardlink is not None:
                info.type, info.linkname = tarfile.LNKTYPE, m.hardlink
                tar.addfile(info)
            elif m.data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size = len(m.data)
                tar.addfile(info, io.BytesIO(m.data))
    return buffer.getvalue()


def tree_members(root: Path, prefix: str) -> list[Member]:
    """The files under ``root`` as tar members under ``prefix`` (as `COPY root /prefix` would)."""
    members = []
    for path in sorted(root.rglob("*")):
        name = f"{prefix}/{path.relative_to(root)}"
        if path.is_symlink():
            members.append(Member(name, link=os.readlink(path)))
        elif path.is_dir():
            members.append(Member(name))
        else:
            members.append(Member(name, path.read_bytes(), path.stat().st_mode & 0o777))
    return members


def compress(raw: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(raw, compresslevel=1, mtime=0)
    if how == "zstd":
        return zstandard.ZstdCompressor(level=1).compress(raw)
    return raw


def chunked(data: bytes, size: int = 65536) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]


def layer(members: Iterable[Member], how: str = "gzip", name: str | None = None,
          ) -> tuple[str, list[bytes]]:
    blob = compress(tar_bytes(members), how)
    return name or "sha256:" + hashlib.sha256(blob).hexdigest(), chunked(blob)
