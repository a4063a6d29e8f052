"""The scale-out configuration under test: Dockyard on PostgreSQL (metadata) and an S3 object store
(blobs), here a throwaway PostgreSQL 15 cluster and a single-node Ceph RADOS Gateway.

The engines are the ones the contract and scale-out tests start (``tests/contract/engines.py``), so
the benchmark and the tests run the same recipe. Unlike the tests, the benchmark runs PostgreSQL
with its own durability defaults (fsync and synchronous commit on) and Ceph on bluestore (data on
disk, not in RAM), as embedded Dockyard fsyncs its blobs and keeps SQLite on disk (in WAL mode with
synchronous=NORMAL, so PostgreSQL's commits are the stricter), and RGW's frontend with
``tcp_nodelay=1`` (see ``Engines.beast_options``).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent

# Dockyard configurations: name -> (column label, settings on top of the embedded ones)
CONFIGS: dict[str, tuple[str, dict[str, str]]] = {
    "embedded": ("Dockyard", {}),
    "pg-s3": ("Dockyard PG+S3", {}),                                  # blob GETs: 307 to S3
    "pg-s3-proxy": ("Dockyard PG+S3 proxy", {"DOCKYARD_S3_REDIRECT": "false"}),
}


def _engines_module():  # type: ignore[no-untyped-def]
    """``tests/contract/engines.py``, imported the way the end-to-end tests import it."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from contract import engines

    return engines


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


@dataclass
class Engines:
    """One PostgreSQL and one Ceph RGW for every scale-out Dockyard of the run; each Dockyard gets
    a database and a bucket of its own."""

    ceph_store: str = "bluestore"
    # Stock RGW leaves Nagle's algorithm on: each S3 response with a small body (ListObjects,
    # CopyObject, DeleteObjects, ...) then waits for the client's delayed ACK, ~40 ms on loopback.
    # A deployment tunes that away; "" measures the stock frontend.
    beast_options: str = "tcp_nodelay=1"
    postgres: object = None
    ceph: object = None
    secret_key: str = field(default_factory=lambda: Fernet.generate_key().decode())

    def start(self) -> "Engines":
        engines = _engines_module()
        for reason in (engines.Postgres.available(), engines.CephRgw.available()):
            if reason:
                raise RuntimeError(reason)
        self.postgres = engines.Postgres(durable=True).start()
        try:
            self.ceph = engines.CephRgw(store=self.ceph_store, beast_options=self.beast_options).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for engine in (self.ceph, self.postgres):
            if engine is not None:
                engine.stop()
        self.ceph = self.postgres = None

    def dockyard_env(self, extra: dict[str, str]) -> dict[str, str]:
        """Settings of a Dockyard on a fresh database and a fresh bucket."""
        engines = _engines_module()
        return {
            "DOCKYARD_DATABASE_URL": self.postgres.create_database(),
            "DOCKYARD_SECRET_KEY": self.secret_key,
            "DOCKYARD_BLOB_DRIVER": "s3",
            "DOCKYARD_S3_ENDPOINT_URL": self.ceph.endpoint,
            "DOCKYARD_S3_BUCKET": self.ceph.create_bucket(),
            "DOCKYARD_S3_REGION": engines.S3_REGION,
            "DOCKYARD_S3_ACCESS_KEY_ID": engines.S3_ACCESS_KEY,
            "DOCKYARD_S3_SECRET_ACCESS_KEY": engines.S3_SECRET_KEY,
            **extra,
        }

    def pids(self) -> list[int]:
        """The engines' processes: the postmaster and its backends, ceph-mon, ceph-osd, radosgw."""
        from bench.servers import process_tree

        pids: list[int] = []
        if self.postgres is not None:
            pid_file = self.postgres.directory / "data" / "postmaster.pid"
            try:
                pids += process_tree(int(pid_file.read_text().split()[0]))
            except (OSError, ValueError, IndexError):
                pass
        if self.ceph is not None:
            for pid_file in (self.ceph.directory / "run").glob("*.pid"):
                try:
                    pids.append(int(pid_file.read_text().strip()))
                except (OSError, ValueError):
                    pass
        return pids

    def describe(self) -> dict[str, str]:
        engines = _engines_module()
        return {
            "postgresql": _version([str(engines.PGBIN / "postgres"), "--version"])
            + " (throwaway cluster, fsync and synchronous_commit on, 127.0.0.1)",
            "ceph": _version(["radosgw", "--version"])
            + f" (1 mon + 1 OSD on {self.ceph_store} + radosgw beast"
            + (f" {self.beast_options}" if self.beast_options else "") + ", cephx off, 127.0.0.1)",
        }
