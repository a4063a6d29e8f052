"""Vulnerability scan of one big layer: wall time and peak memory (issue 5).

    python bench/scan.py --size-mib 1024   # the documented run (docs/benchmarks.md)
    python bench/scan.py --size-mib 64     # quick mode

In one process, with nothing of Dockyard mocked: a fresh data directory, `bootstrap` + the app's
services (`build_services`, as `create_app` does), a few PyPI OSV advisories imported from
../shared/vulndata, and an image pushed through the upload service in chunks (as PATCH requests
are handled). Its single layer is a gzip'ed tar of ~SIZE MiB: files of random (incompressible)
bytes, with real `*.dist-info/METADATA` files of vulnerable versions named by those advisories
placed at the start, in the middle and at the end. The layer is generated to a temporary file,
streaming; it is never held in memory. The scan then runs synchronously: the `scan.image` job
queued by the push (scan on push), run by the job runner's `drain()`, as `dockyard worker` does.

Peak memory is the process's RSS high-water mark over the scan: `VmHWM` is reset just before it
(`echo 5 > /proc/self/clear_refs`) and a thread also samples `VmRSS` every 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
KEY_ID = "AKIADOCKYARDBENCH001"
SECRET = "dockyardBenchSecretKey/0123456789abcdefGH"
REPO = "bench/scan"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OSV_DIR = ROOT.parent / "shared" / "vulndata" / "osv" / "PyPI"
# Advisories imported; each plants its package at the newest version it lists as affected.
ADVISORIES = ("PYSEC-2021-66", "PYSEC-2018-32", "PYSEC-2014-14", "PYSEC-2018-49", "PYSEC-2014-10")


# --- memory -------------------------------------------------------------------------------------
def status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class RssSampler(threading.Thread):
    def __init__(self, interval: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.peak_kib = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak_kib = max(self.peak_kib, status_kib("VmRSS"))
            self._done.wait(self.interval)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return max(self.peak_kib, status_kib("VmRSS"))


# --- the layer ----------------------------------------------------------------------------------
class RandomReader:
    """A file object of ``size`` random bytes (for ``tarfile.addfile``), generated as read."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return os.urandom(n)


def vulnerable_packages(advisories: list[dict]) -> list[tuple[str, str, str]]:
    """(advisory id, PyPI name, an affected version) per advisory."""
    planted = []
    for doc in advisories:
        for affected in doc.get("affected") or ():
            package = affected.get("package") or {}
            if package.get("ecosystem") == "PyPI" and affected.get("versions"):
                planted.append((doc["id"], package["name"], affected["versions"][-1]))
                break
    return planted


def metadata_file(name: str, version: str) -> tuple[str, bytes]:
    path = f"usr/local/lib/python3.11/site-packages/{name}-{version}.dist-info/METADATA"
    body = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: planted by bench/scan.py\n\n"
    return path, body.encode()


def write_layer(path: Path, size: int, planted: list[tuple[str, str, str]], file_mib: int) -> int:
    """A gzip'ed tar of ~``size`` bytes of random files with the planted METADATA files spread
    over it; returns the number of tar entries."""
    files = max(1, size // (file_mib * MiB))
    spots = {0: [], files // 2: [], files: []}  # before the first, in the middle, after the last
    for i, item in enumerate(planted):
        spots[list(spots)[i % 3]].append(item)
    entries = 0

    def add(tar: tarfile.TarFile, name: str, data_size: int, reader) -> None:  # type: ignore[no-untyped-def]
        nonlocal entries
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = data_size, 1_700_000_000, 0o644
        tar.addfile(info, reader)
        entries += 1

    with tarfile.open(path, mode="w:gz", compresslevel=1) as tar:
        for i in range(files + 1):
            for _, name, version in spots.get(i, ()):
                meta_path, body = metadata_file(name, version)
                add(tar, meta_path, len(body), _Bytes(body))
            if i < files:
                chunk = file_mib * MiB if i < files - 1 else size - (files - 1) * file_mib * MiB
                add(tar, f"srv/data/blob-{i:05d}.bin", chunk, RandomReader(chunk))
    return entries


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, n: int = -1) -> bytes:
        out, self.data = (self.data, b"") if n < 0 else (self.data[:n], self.data[n:])
        return out


# --- pushing ------------------------------------------------------------------------------------
async def push_layer(services, caller, path: Path, chunk_mib: int) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """Push the file through UploadService in ``chunk_mib`` chunks (POST, PATCH..., PUT)."""
    from dockyard.domain.digest import Digest
    from dockyard.registry.uploads import ByteRange

    uploads = services.uploads
    upload = uploads.start(caller, REPO)
    hasher = hashlib.sha256()
    total = path.stat().st_size
    with path.open("rb") as f:
        offset = 0
        while offset < total:
            length = min(chunk_mib * MiB, total - offset)

            async def body(n: int = length) -> AsyncIterator[bytes]:
                left = n
                while left:
                    piece = f.read(min(MiB, left))
                    hasher.update(piece)
                    left -= len(piece)
                    yield piece
            await uploads.append(caller, REPO, upload.id, body(),
                                 ByteRange(offset, offset + length - 1))
            offset += length
    digest = Digest.parse("sha256:" + hasher.hexdigest())
    await uploads.complete(caller, REPO, upload.id, digest)
    return str(digest), total


async def push_small(services, caller, data: bytes) -> str:  # type: ignore[no-untyped-def]
    from dockyard.domain.digest import Digest
    digest = Digest.parse("sha256:" + hashlib.sha256(data).hexdigest())
    await services.uploads.put_small(caller, REPO, digest, data)
    return str(digest)


# --- the benchmark ------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mib", type=int, default=1024, help="layer size in MiB (default 1024)")
    p.add_argument("--file-mib", type=int, default=16, help="size of each random file in the layer")
    p.add_argument("--chunk-mib", type=int, default=16, help="upload chunk (PATCH) size")
    p.add_argument("--osv", type=Path, default=OSV_DIR, help="directory of PyPI OSV records")
    p.add_argument("--tmp", type=Path, default=None, help="parent of the temporary directory")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)

    from dockyard.app import bootstrap, build_services
    from dockyard.registry.images import Reference
    from dockyard.settings import Settings

    def step(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text} (load {os.getloadavg()[0]:.2f})",
              file=sys.stderr, flush=True)

    work = Path(tempfile.mkdtemp(prefix="dockyard-scan-bench-", dir=args.tmp))
    try:
        settings = Settings(data_dir=work / "data", database_url="", admin_access_key_id=KEY_ID,
                            admin_secret_access_key=SECRET, region="us-east-1", secret_key=None,
                            jobs_in_server=False)
        bootstrap(settings)
        services = build_services(settings)
        identity = services.identity
        caller = identity.resolver.user(identity.store.principal_by_name("user", "admin"))
        services.repositories.create(caller, REPO, scan_on_push=True)

        advisory_files = [args.osv / f"{a}.json" for a in ADVISORIES]
        advisories = [json.loads(f.read_text()) for f in advisory_files]
        planted = vulnerable_packages(advisories)
        osv = work / "osv"
        osv.mkdir()
        for f in advisory_files:
            shutil.copy(f, osv / f.name)
        report = services.scanning.import_vulndb(osv)
        services.runner.drain()  # the re-match job the import queued
        step(f"imported {report.records} advisories; planting "
             + ", ".join(f"{n} {v}" for _, n, v in planted))

        layer_path = work / "layer.tar.gz"
        t0 = time.monotonic()
        entries = write_layer(layer_path, args.size_mib * MiB, planted, args.file_mib)
        layer_size = layer_path.stat().st_size
        step(f"wrote a {layer_size / MiB:,.1f} MiB layer ({entries} tar entries) in "
             f"{time.monotonic() - t0:.1f} s")

        t0 = time.monotonic()
        layer_digest, _ = asyncio.run(push_layer(services, caller, layer_path, args.chunk_mib))
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        config_digest = asyncio.run(push_small(services, caller, config))
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": layer_size}],
        }).encode()
        result = services.images.put(caller, REPO, Reference.parse("v1"), manifest, OCI_MANIFEST)
        step(f"pushed in {time.monotonic() - t0:.1f} s ({args.chunk_mib} MiB chunks); "
             f"image {result.digest}")
        layer_path.unlink()  # the blob store holds it now; keep the page cache for the blob

        repo = services.repositories.store.get_repository(REPO)
        scan = services.scanning.store.scan(repo.id, result.digest)
        assert scan is not None and scan.status == "IN_PROGRESS", scan  # queued by the push

        load_before = os.getloadavg()
        rss_before = status_kib("VmRSS")
        hwm_reset = reset_peak()
        sampler = RssSampler()
        sampler.start()
        step("scanning")
        t0 = time.monotonic()
        cpu0 = time.process_time()
        ran = services.runner.drain()
        wall = time.monotonic() - t0
        cpu = time.process_time() - cpu0
        sampled_peak = sampler.stop()
        hwm = status_kib("VmHWM") if hwm_reset else 0
        peak = max(sampled_peak, hwm)
        load_after = os.getloadavg()

        scan = services.scanning.store.scan(repo.id, result.digest, with_findings=True)
        assert scan is not None and ran == 1, (ran, scan)
        inventory = services.scanning.store.inventory(result.digest) or {}
        packages = inventory.get("packages") or []
        findings = scan.findings or []
        found = {(f["package"]["name"].lower(), f["package"]["version"]) for f in findings}
        missing = [(n, v) for _, n, v in planted if (n.lower(), v) not in found]

        print(f"layer:          {layer_size / MiB:,.1f} MiB gzip ({args.size_mib} MiB of random "
              f"file data, {entries} tar entries)")
        print(f"scan:           {wall:.2f} s wall, {cpu:.2f} s CPU, "
              f"{layer_size / MiB / wall:,.1f} MiB/s of layer")
        print(f"RSS:            {rss_before / 1024:.1f} MiB before, {peak / 1024:.1f} MiB peak during "
              f"(+{(peak - rss_before) / 1024:.1f} MiB; sampled {sampled_peak / 1024:.1f}, "
              f"VmHWM {hwm / 1024:.1f})")
        print(f"result:         {scan.status}, {len(packages)} packages, {len(findings)} findings "
              f"{dict(sorted(scan.severity_counts.items()))}")
        print(f"load average:   {load_before[0]:.2f} before, {load_after[0]:.2f} after "
              f"({os.cpu_count()} CPUs)")
        if missing or scan.status != "COMPLETE":
            print(f"FAILED: planted packages not found: {missing}; {scan.description}", file=sys.stderr)
            return 1
        print(f"all {len(planted)} planted vulnerable packages found")
        return 0
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
