"""Scale-out: two Dockyard nodes on different ports sharing one PostgreSQL and one Ceph RADOS
Gateway (S3), behind a round-robin proxy that alternates every request between them.

- a docker push whose requests alternate between the nodes succeeds, and pulls from either node
  give the same image (blob GETs redirected to presigned S3 URLs);
- a node is killed in the middle of an upload, which is then finished through the other node
  (its row says what counts; the digest is checked by streaming the stored bytes);
- readiness checks the database and the blob store; ``GetDownloadUrlForLayer`` is presigned;
- ``dockyard migrate`` brings an empty PostgreSQL database to the schema.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect

from contract.engines import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, CephRgw, Postgres, missing
from dockyard.metadata.engine import make_engine
from dockyard.metadata.tables import metadata

from .clients import Docker, login_password
from .conftest import ecr_client
from .images import build_context, unique
from .round_robin import RoundRobinProxy
from .servers import DockyardProcess, free_port

pytestmark = pytest.mark.e2e
MIB = 1024 * 1024
SECRET_KEY = "Ci2duvUem_ZMxf_7xwHVp8gLjEOlvn2NOLU3vDcSmcw="  # DOCKYARD_SECRET_KEY of both nodes


@dataclass
class Cluster:
    postgres: Postgres
    ceph: CephRgw
    database_url: str
    bucket: str
    a: DockyardProcess
    b: DockyardProcess
    proxy: RoundRobinProxy
    password: str

    @property
    def nodes(self) -> tuple[DockyardProcess, DockyardProcess]:
        return self.a, self.b


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[Postgres, CephRgw]]:
    for reason in (Postgres.available(), CephRgw.available()):
        if reason:
            missing(reason)
    postgres = Postgres().start()
    try:
        ceph = CephRgw().start()
    except BaseException:
        postgres.stop()
        raise
    try:
        yield postgres, ceph
    finally:
        ceph.stop()
        postgres.stop()


@pytest.fixture(scope="module")
def cluster(engines: tuple[Postgres, CephRgw],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    postgres, ceph = engines
    database_url = postgres.create_database("registry")
    bucket = ceph.create_bucket("dockyard")
    ports = [free_port(), free_port()]
    proxy = RoundRobinProxy(ports)
    shared = {
        "DOCKYARD_DATABASE_URL": database_url,
        "DOCKYARD_SECRET_KEY": SECRET_KEY,
        "DOCKYARD_PUBLIC_URL": f"http://{proxy.host}",
        "DOCKYARD_BLOB_DRIVER": "s3",
        "DOCKYARD_S3_ENDPOINT_URL": ceph.endpoint,
        "DOCKYARD_S3_BUCKET": bucket,
        "DOCKYARD_S3_REGION": S3_REGION,
        "DOCKYARD_S3_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "DOCKYARD_S3_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        "DOCKYARD_S3_PREFIX": "registry/",
        "DOCKYARD_S3_PART_SIZE": str(5 * MIB),
    }
    base = tmp_path_factory.mktemp("scale-out")
    a = DockyardProcess(base / "a" / "data", ports[0], extra_env=dict(shared))
    b = DockyardProcess(base / "b" / "data", ports[1], extra_env=dict(shared))
    try:
        a.start()
        b.start()
        yield Cluster(postgres, ceph, database_url, bucket, a, b, proxy,
                      login_password(a.env()))
    finally:
        proxy.close()
        for node in (a, b):
            node.stop()


def test_both_nodes_are_ready_and_share_one_registry(cluster: Cluster) -> None:
    ids = set()
    for node in cluster.nodes:
        ready = httpx.get(f"{node.endpoint}/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "blob_store": "ok"}
        ids.add(httpx.get(f"{node.endpoint}/").text)
    assert len(ids) == 1  # one registry id: the second node found the first one's registry


def test_docker_push_alternating_between_nodes_then_pull_from_either(
        cluster: Cluster, dockerd: Docker, tmp_path: Path) -> None:
    repo = unique("scale/app")
    ecr_client(cluster.b).create_repository(repositoryName=repo)
    dockerd.login(cluster.proxy.host, cluster.password)
    ref = f"{cluster.proxy.host}/{repo}:v1"
    # Random (incompressible) 6 MiB layers: S3 multipart uploads of more than one part.
    context = build_context(tmp_path / "ctx", layers=2, files_per_layer=2, file_size=3 * MIB)
    image_id = dockerd.build(context.path, ref)
    served_before = len(cluster.proxy.log)
    pushed = dockerd.push(ref)
    served = cluster.proxy.log[served_before:]
    assert {s.node for s in served} == {0, 1}
    assert all(s.status < 500 for s in served), [(s.method, s.target, s.status) for s in served]
    requests_of_upload: dict[str, list] = defaultdict(list)
    for s in served:
        if "/blobs/uploads/" in s.target and s.method in ("PATCH", "PUT"):
            upload_id = s.target.split("/blobs/uploads/", 1)[1].split("?", 1)[0]
            requests_of_upload[upload_id].append(s)
    # some upload had its bytes sent to one node and was completed by the other
    assert any(len({s.node for s in reqs}) == 2 for reqs in requests_of_upload.values()), served
    dockerd.remove(ref)

    for node in cluster.nodes:  # a pull from either node gives the very same image
        dockerd.login(node.host, cluster.password)
        node_ref = f"{node.host}/{repo}:v1"
        dockerd("pull", node_ref)
        assert dockerd.image_id(node_ref) == image_id
        assert f"{node.host}/{repo}@{pushed}" in dockerd.repo_digests(node_ref)
        dockerd.remove(node_ref)


def _upload_status(node: DockyardProcess, location: str, auth: tuple[str, str]) -> int:
    r = httpx.get(node.endpoint + location, auth=auth)
    assert r.status_code == 204, r.text
    return int(r.headers["Range"].split("-")[1]) + 1


def test_upload_of_a_killed_node_finished_through_the_other(cluster: Cluster) -> None:
    repo = unique("scale/killed")
    ecr_client(cluster.a).create_repository(repositoryName=repo)
    auth = ("AWS", cluster.password)
    data = os.urandom(14 * MIB + 333)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    a, b = cluster.a, cluster.b

    r = httpx.post(f"{a.endpoint}/v2/{repo}/blobs/uploads/", auth=auth)
    assert r.status_code == 202, r.text
    r = httpx.patch(a.endpoint + r.headers["Location"], content=data[:6 * MIB], auth=auth,
                    headers={"Content-Range": f"0-{6 * MIB - 1}"}, timeout=60)
    assert r.status_code == 202, r.text
    location = r.headers["Location"]

    def dying_body() -> Iterator[bytes]:
        yield data[6 * MIB:12 * MIB]  # a part goes to S3 from node A...
        a.kill()  # ... which dies (SIGKILL) before the request ends
        yield data[12 * MIB:]

    with pytest.raises(httpx.HTTPError):
        httpx.patch(a.endpoint + location, content=dying_body(), auth=auth, timeout=60)
    try:
        # Node B knows where the upload stands: only the requests that finished count.
        offset = _upload_status(b, location, auth)
        assert offset == 6 * MIB
        r = httpx.patch(b.endpoint + location, content=data[offset:], auth=auth, timeout=60,
                        headers={"Content-Range": f"{offset}-{len(data) - 1}"})
        assert r.status_code == 202, r.text
        assert _upload_status(b, location, auth) == len(data)
        wrong = httpx.put(f"{b.endpoint}{location}?digest=sha256:{'0' * 64}", auth=auth)
        assert wrong.status_code == 400 and "DIGEST_INVALID" in wrong.text
        r = httpx.put(f"{b.endpoint}{location}?digest={digest}", auth=auth, timeout=120)
        assert r.status_code == 201, r.text
    finally:
        a.start()
    for node in cluster.nodes:
        head = httpx.head(f"{node.endpoint}/v2/{repo}/blobs/{digest}", auth=auth)
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(data)
        r = httpx.get(f"{node.endpoint}/v2/{repo}/blobs/{digest}", auth=auth)
        assert r.status_code == 307 and r.headers["Location"].startswith(cluster.ceph.endpoint)
        # httpx drops the Authorization header on the redirect to another host, as docker does
        fetched = httpx.get(f"{node.endpoint}/v2/{repo}/blobs/{digest}", auth=auth,
                            follow_redirects=True, timeout=60)
        assert fetched.status_code == 200 and fetched.content == data
    url = ecr_client(cluster.b).get_download_url_for_layer(
        repositoryName=repo, layerDigest=digest)["downloadUrl"]
    assert url.startswith(cluster.ceph.endpoint)  # presigned: clients fetch from S3 directly
    assert hashlib.sha256(httpx.get(url, timeout=60).content).hexdigest() == digest[7:]


def test_dockyard_migrate_on_postgresql(cluster: Cluster) -> None:
    url = cluster.postgres.create_database()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKYARD_")}
    env["DOCKYARD_DATABASE_URL"] = url.replace("postgresql+psycopg://", "postgresql://")
    env["DOCKYARD_DATA_DIR"] = str(Path(cluster.a.data_dir).parent / "migrate")
    result = subprocess.run([sys.executable, "-m", "dockyard", "migrate"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) == set(metadata.tables) | {"alembic_version"}
    finally:
        engine.dispose()
