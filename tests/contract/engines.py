"""Real engines for the contract and scale-out tests: a throwaway PostgreSQL and a single-node Ceph
RADOS Gateway, both from Debian's packages (recipes in ../shared/S3-ENGINES.md).

Each starts in a fresh temporary directory on free ports and is torn down by ``stop()``. When the
binaries are missing the tests that need them skip, except under ``DOCKYARD_E2E_REQUIRED=1``
(``make test``, CI), where they fail.

``bench/run.py --scale-out`` starts the same engines (this module imports without pytest).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REQUIRED = os.environ.get("DOCKYARD_E2E_REQUIRED") == "1"
PGBIN = Path("/usr/lib/postgresql/15/bin")
CEPH_BINARIES = ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool", "ceph")
S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION = "ciaccess", "cisecret123", "us-east-1"
_RUNNING: list["Postgres | CephRgw"] = []  # stopped at exit if a fixture's teardown did not run


@atexit.register
def _stop_leftovers() -> None:
    for engine in list(_RUNNING):
        engine.stop()


def missing(reason: str) -> None:
    """Skip the test (fail it when the real engines are required)."""
    import pytest

    if REQUIRED:
        pytest.fail(f"{reason} (DOCKYARD_E2E_REQUIRED=1)", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _free_range(count: int) -> int:
    """The first port of ``count`` consecutive free ports."""
    for _ in range(50):
        base = free_port()
        if base + count > 65000:
            continue
        try:
            for port in range(base, base + count):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {count} consecutive free ports")


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, cwd="/",
                          **kwargs)  # type: ignore[call-overload]


# --- PostgreSQL ----------------------------------------------------------------------------------
@dataclass
class Postgres:
    """A PostgreSQL 15 cluster in a temporary directory (postgres refuses to run as root: the
    server runs as the ``postgres`` user through ``runuser``). Not crash-safe unless ``durable``:
    fsync, synchronous_commit and full_page_writes are off, which is fine for tests."""

    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dockyard-pg.")))
    port: int = field(default_factory=free_port)
    durable: bool = False  # True: PostgreSQL's own defaults (fsync, synchronous commit) for benchmarks

    @staticmethod
    def available() -> str | None:
        """Why PostgreSQL cannot be started here, or None."""
        if not (PGBIN / "postgres").exists():
            return f"PostgreSQL is not installed ({PGBIN}; apt-get install postgresql)"
        if os.geteuid() != 0:
            return "starting a throwaway PostgreSQL needs root (runuser -u postgres)"
        try:
            _run(["id", "postgres"])
        except subprocess.CalledProcessError:
            return "there is no postgres user (apt-get install postgresql creates it)"
        return None

    def start(self) -> "Postgres":
        _RUNNING.append(self)
        shutil.chown(self.directory, "postgres", "postgres")
        data, log = self.directory / "data", self.directory / "postgres.log"
        _run(["runuser", "-u", "postgres", "--", str(PGBIN / "initdb"), "-D", str(data),
              "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} -c max_connections=400"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        _run(["runuser", "-u", "postgres", "--", str(PGBIN / "pg_ctl"), "-D", str(data),
              "-l", str(log), "-w", "-t", "60", "-o", options, "start"])
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        import psycopg

        name = name or "d" + uuid.uuid4().hex[:16]
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True, connect_timeout=10) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self in _RUNNING:
            _RUNNING.remove(self)
        try:
            _run(["runuser", "-u", "postgres", "--", str(PGBIN / "pg_ctl"), "-D",
                  str(self.directory / "data"), "-m", "immediate", "stop"])
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)


# --- Ceph RADOS Gateway --------------------------------------------------------------------------
_CEPH_CONF = """[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
ms bind port min = {osd_min}
ms bind port max = {osd_max}
ms mon client mode = crc secure
auth cluster required = none
auth service required = none
auth client required = none
run dir = {dir}/run
admin socket = {dir}/run/$name.asok
pid file = {dir}/run/$name.pid
log file = {dir}/log/$name.log
log to stderr = false
err to stderr = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
mon data avail warn = 2
mon data avail crit = 1
paxos propose interval = 0.05
paxos min wait = 0.01
[mon]
mon data = {dir}/mon.$id
[osd]
osd data = {dir}/osd.$id
osd objectstore = {store}
memstore device bytes = 8589934592
bluestore block path = {dir}/osd.$id/block.img
bluestore block create = true
bluestore block size = 21474836480
osd memory target = 1073741824
[client]
rgw data = {dir}/rgw
rgw frontends = beast endpoint=127.0.0.1:{rgw_port}{beast_options}
rgw gc obj min wait = 60
rgw gc processor period = 60
"""


@dataclass
class CephRgw:
    """One mon, one OSD (memstore by default: data in RAM, ~1.5 s to start) and radosgw, cephx
    off, everything on 127.0.0.1. S3 at ``endpoint`` with keys ciaccess/cisecret123."""

    store: str = field(default_factory=lambda: os.environ.get("CEPH_STORE", "memstore"))
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dockyard-ceph.")))
    rgw_port: int = field(default_factory=free_port)
    mon_port: int = field(default_factory=free_port)
    # extra options of RGW's beast frontend, e.g. "tcp_nodelay=1" (stock RGW leaves Nagle on, and
    # every S3 response with a small body (list, copy, delete) then waits ~40 ms on loopback)
    beast_options: str = ""

    @staticmethod
    def available() -> str | None:
        absent = [b for b in CEPH_BINARIES if shutil.which(b) is None]
        if absent:
            return (f"Ceph is not installed ({', '.join(absent)} missing; apt-get install "
                    "--no-install-recommends ceph-mon ceph-osd radosgw)")
        if os.geteuid() != 0:
            return "the single-node Ceph recipe runs its daemons as root"
        return None

    @property
    def endpoint(self) -> str:
        # "localhost", not 127.0.0.1: a registry on 127.0.0.1 redirecting here is another host
        # to every client, which then drops its Authorization header (S3-ENGINES.md, gotcha 1)
        return f"http://localhost:{self.rgw_port}"

    def _env(self) -> dict[str, str]:
        return {**os.environ, "CEPH_CONF": str(self.directory / "ceph.conf")}

    def _ceph(self, *args: str) -> str:
        return _run(["ceph", "--connect-timeout", "10", *args], env=self._env()).stdout

    def start(self) -> "CephRgw":
        _RUNNING.append(self)
        d = self.directory
        for sub in ("mon.a", "osd.0", "rgw", "run", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        osd_min = _free_range(40)
        fsid = str(uuid.uuid4())
        (d / "ceph.conf").write_text(_CEPH_CONF.format(
            fsid=fsid, mon_port=self.mon_port, osd_min=osd_min, osd_max=osd_min + 39, dir=d,
            store=self.store, rgw_port=self.rgw_port,
            beast_options=f" {self.beast_options}" if self.beast_options else ""))
        env = self._env()
        _run(["monmaptool", "--create", "--addv", "a", f"[v2:127.0.0.1:{self.mon_port}]",
              "--fsid", fsid, str(d / "monmap")], env=env)
        _run(["ceph-mon", "--mkfs", "-i", "a", "--monmap", str(d / "monmap")], env=env)
        _run(["ceph-mon", "-i", "a"], env=env)
        osd_uuid = str(uuid.uuid4())
        osd_id = self._ceph("osd", "new", osd_uuid).strip()
        _run(["ceph-osd", "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid], env=env)
        _run(["ceph-osd", "-i", osd_id], env=env)
        self._wait(lambda: any(line.startswith(f"osd.{osd_id} up")
                               for line in self._ceph("osd", "dump").splitlines()),
                   60, f"ceph-osd did not come up:\n{self._log(f'osd.{osd_id}')}")
        _run(["radosgw", "-n", "client.rgw.a"], env=env)
        self._wait(self._rgw_answers, 60, f"radosgw did not come up:\n{self._log('client.rgw.a')}")
        _run(["radosgw-admin", "user", "create", "--uid=ci", "--display-name=ci",
              f"--access-key={S3_ACCESS_KEY}", f"--secret-key={S3_SECRET_KEY}"], env=env)
        return self

    def _rgw_answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.rgw_port), timeout=1) as s:
                s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                return s.recv(12).startswith(b"HTTP/1.")
        except OSError:
            return False

    def _log(self, name: str) -> str:
        path = self.directory / "log" / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-20:]) if path.exists() else ""

    @staticmethod
    def _wait(check, seconds: float, message: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except subprocess.CalledProcessError:
                pass
            time.sleep(0.2)
        raise RuntimeError(message)

    def client(self):  # type: ignore[no-untyped-def]
        import boto3
        from botocore.config import Config

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=S3_ACCESS_KEY,
                            aws_secret_access_key=S3_SECRET_KEY, region_name=S3_REGION,
                            config=Config(s3={"addressing_style": "path"}))

    def create_bucket(self, name: str | None = None) -> str:
        name = name or "b" + uuid.uuid4().hex[:20]
        self.client().create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        if self in _RUNNING:
            _RUNNING.remove(self)
        for pid_file in (self.directory / "run").glob("*.pid"):
            try:
                os.kill(int(pid_file.read_text().strip()), 9)
            except (OSError, ValueError):
                pass
        shutil.rmtree(self.directory, ignore_errors=True)
