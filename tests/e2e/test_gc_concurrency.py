"""Online garbage collection under load: pushes of images that share layers with deleted images
run in a loop while garbage collection runs in a loop (in the server every second, and as
`dockyard gc` processes). Afterwards every image still pushed pulls completely with skopeo, and
after a final collection past the grace period the stored blobs are exactly the referenced ones.

Runs for DOCKYARD_GC_E2E_SECONDS (default 60); longer by hand, e.g. DOCKYARD_GC_E2E_SECONDS=900.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from dockyard.metadata.engine import Database, make_engine
from dockyard.metadata.gc_store import SqlGcStore

from .clients import login_password, require, skopeo_push, verify_pulls
from .conftest import ecr_client
from .oci_layouts import OCI_MANIFEST, BuiltImage, Layout
from .servers import DockyardProcess, free_port

pytestmark = pytest.mark.e2e
DURATION = float(os.environ.get("DOCKYARD_GC_E2E_SECONDS", "60"))
GRACE = 4  # seconds: short, so that the loop keeps reclaiming what pushes are about to reuse


@pytest.fixture(scope="module")
def gc_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("gc")
    server = DockyardProcess(base / "data", free_port(), extra_env={
        "DOCKYARD_GC_GRACE_SECONDS": str(GRACE), "DOCKYARD_GC_INTERVAL_SECONDS": "1"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def dockyard_gc(env: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, "-m", "dockyard", "gc", "--json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def stored_blobs(data_dir: Path) -> set[str]:
    root = data_dir / "blobs" / "sha256"
    return {f"sha256:{p.name}" for p in root.glob("*/*")} if root.exists() else set()


def test_pushes_and_pulls_survive_garbage_collection_in_a_loop(gc_server: DockyardProcess,
                                                                tmp_path: Path):
    require("skopeo", "apt-get install skopeo")
    env = gc_server.env()
    gc_env = {**env, "DOCKYARD_GC_GRACE_SECONDS": str(GRACE)}
    password = login_password(env)
    creds = f"AWS:{password}"
    ecr = ecr_client(gc_server)
    repos = ["gc/one", "gc/two", "gc/three"]
    for name in repos:
        ecr.create_repository(repositoryName=name)
    layout = Layout(tmp_path / "layout", seed=6, pool_size=40, layer_size=16 * 1024)
    rng = random.Random(6)
    live: dict[tuple[str, str], BuiltImage] = {}
    stats = {"pushes": 0, "slow_pushes": 0, "deletes": 0, "cli_gc_runs": 0, "cli_blobs_freed": 0, "cli_bytes": 0}
    failures: list[str] = []
    stop = threading.Event()

    def collect_in_a_loop() -> None:
        while not stop.is_set():
            try:
                report = dockyard_gc(gc_env)
            except AssertionError as exc:
                failures.append(f"dockyard gc failed: {exc}")
                return
            stats["cli_gc_runs"] += 1
            stats["cli_blobs_freed"] += report["blobs_removed"]
            stats["cli_bytes"] += report["bytes_freed"]

    lock = threading.Lock()
    slow_layout = Layout(tmp_path / "slow", seed=7, pool=layout.pool, prefix="slow")

    def push_slowly_in_a_loop() -> None:
        """A client that HEADs the layers it has, then takes its time before the manifest PUT
        (up to just under half the grace period: the longest a HEAD guarantees)."""
        slow_rng = random.Random(7)
        with httpx.Client(base_url=gc_server.endpoint, auth=("AWS", password),
                          timeout=60) as client:
            while not stop.is_set():
                image = slow_layout.build(shared=slow_rng.randint(1, 4))
                repo = slow_rng.choice(repos)
                for digest, data in image.blobs.items():
                    found = client.head(f"/v2/{repo}/blobs/{digest}")
                    if found.status_code == 404:
                        pushed = client.post(f"/v2/{repo}/blobs/uploads/?digest={digest}",
                                             content=data)
                        if pushed.status_code != 201:
                            failures.append(f"blob push failed: {pushed.status_code} {pushed.text}")
                            return
                    elif found.status_code != 200:
                        failures.append(f"HEAD failed: {found.status_code} {found.text}")
                        return
                time.sleep(slow_rng.uniform(0, GRACE * 0.45))
                put = client.put(f"/v2/{repo}/manifests/{image.ref}", content=image.manifest,
                                 headers={"Content-Type": OCI_MANIFEST})
                if put.status_code != 201:
                    failures.append(f"slow push {repo}:{image.ref} failed: {put.status_code} "
                                    f"{put.text}")
                    return
                with lock:
                    live[(repo, image.digest)] = image
                    stats["slow_pushes"] += 1

    collector = threading.Thread(target=collect_in_a_loop, daemon=True)
    collector.start()
    slow = threading.Thread(target=push_slowly_in_a_loop, daemon=True)
    slow.start()
    deadline = time.monotonic() + DURATION
    try:
        while time.monotonic() < deadline and not failures:
            image = layout.build(shared=rng.randint(1, 4))
            repo = rng.choice(repos)
            if failure := skopeo_push(layout, image, gc_server.host, repo, creds):
                failures.append(failure)
                break
            with lock:
                live[(repo, image.digest)] = image
            stats["pushes"] += 1
            # delete some images: their layers become garbage that later pushes share again
            while len(live) > 12 and rng.random() < 0.6:
                with lock:
                    doomed = rng.choice(sorted(live))
                    del live[doomed]
                ecr.batch_delete_image(repositoryName=doomed[0],
                                       imageIds=[{"imageDigest": doomed[1]}])
                stats["deletes"] += 1
    finally:
        stop.set()
        collector.join(180)
        slow.join(60)
    assert not failures, failures[0]
    assert stats["pushes"] >= 5, stats

    # every image still in the registry pulls completely, byte for byte
    verify_pulls(gc_server.host, creds, live, tmp_path / "pulled")

    # a final collection past the grace period leaves exactly the referenced blobs
    time.sleep(GRACE + 1)
    dockyard_gc(gc_env)  # sees the last garbage unreferenced
    time.sleep(GRACE + 1)
    final = dockyard_gc(gc_env)
    data_dir = gc_server.data_dir.resolve()
    store = SqlGcStore(Database(make_engine(f"sqlite:///{data_dir / 'dockyard.db'}")))
    referenced = store.referenced_digests()
    needed = {d for image in live.values() for d in image.blobs}
    assert referenced == needed
    assert store.blob_digests() == referenced
    assert stored_blobs(data_dir) == referenced
    assert not list((data_dir / "trash").glob("*")) if (data_dir / "trash").exists() else True
    with store.db.read() as c:
        server_runs = c.exec_driver_sql(
            "SELECT count(*) FROM jobs WHERE kind = 'gc.collect' AND state = 'done'").scalar()
    print(f"\nGC concurrency ({DURATION:.0f} s): {stats['pushes']} skopeo pushes, "
          f"{stats['slow_pushes']} slow pushes and {stats['deletes']} "
          f"deletes survived {stats['cli_gc_runs']} `dockyard gc` runs "
          f"({stats['cli_blobs_freed']} blobs, {stats['cli_bytes']} bytes freed) and "
          f"{server_runs} in-server GC runs; {len(live)} images verified; final GC freed "
          f"{final['blobs_removed']} blobs; {len(referenced)} blobs stored = referenced")
