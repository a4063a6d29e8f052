"""Scan jobs through the real app in-process: a push queues a scan and returns; a scan whose
process died mid-way is claimed again when its lease runs out and completes; a scan that keeps
dying ends FAILED, never stuck IN_PROGRESS. Jobs run here only when the test drains the queue."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dockyard.app import DockyardApp
from dockyard.scanning.scan_job import SCAN_KIND
from dockyard.settings import Settings
from dockyard.workers.runner import MAX_ATTEMPTS

from .conftest import KEY_ID, OCI_CONFIG, OCI_MANIFEST, REGION, SECRET, Ecr, Oci, sha256


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """As the suite's settings, but jobs run only when a test drains them."""
    return Settings(data_dir=tmp_path / "data", database_url="", admin_access_key_id=KEY_ID,
                    admin_secret_access_key=SECRET, region=REGION, secret_key=None,
                    jobs_in_server=False)


def push(oci: Oci, repo: str, tag: str) -> str:
    buffer = io.BytesIO()
    data = b"Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10\n\n"
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("usr/lib/python3/site-packages/Jinja2-2.10.dist-info/METADATA")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer = gzip.compress(buffer.getvalue(), mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": oci.push_blob(repo, config),
                                      "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": oci.push_blob(repo, layer), "size": len(layer)}]}).encode()
    assert oci.put_manifest(repo, tag, manifest, OCI_MANIFEST).status_code == 201
    return sha256(manifest)


def status(ecr: Ecr, repo: str) -> dict[str, Any]:
    return ecr.ok("DescribeImageScanFindings", repositoryName=repo,
                  imageId={"imageTag": "v1"})["imageScanStatus"]


def crash_once(app: DockyardApp) -> None:
    """What a runner that died mid-scan leaves behind: the job claimed (its lease now expired)
    and one attempt of the scan started."""
    job = app.services.jobs.claim("dead-node:1", [SCAN_KIND], timedelta(seconds=-1))
    assert job is not None
    payload = job.payload
    assert app.services.scanning.store.start_attempt(payload["repository_id"], payload["digest"],
                                                     payload["scan_id"]) is not None


def test_push_only_queues_the_scan(app: DockyardApp, oci: Oci, ecr: Ecr) -> None:
    ecr.create_repository("jobs/app", imageScanningConfiguration={"scanOnPush": True})
    push(oci, "jobs/app", "v1")
    assert status(ecr, "jobs/app") == {"status": "IN_PROGRESS"}
    assert app.services.runner.drain() == 1
    assert status(ecr, "jobs/app")["status"] == "COMPLETE"


def test_a_scan_interrupted_by_a_crash_is_retried(app: DockyardApp, oci: Oci, ecr: Ecr) -> None:
    ecr.create_repository("jobs/crash", imageScanningConfiguration={"scanOnPush": True})
    push(oci, "jobs/crash", "v1")
    crash_once(app)
    assert status(ecr, "jobs/crash")["status"] == "IN_PROGRESS"
    assert app.services.runner.drain() == 1  # the expired lease makes the job claimable again
    assert status(ecr, "jobs/crash")["status"] == "COMPLETE"


def test_a_scan_that_keeps_crashing_ends_failed(app: DockyardApp, oci: Oci, ecr: Ecr) -> None:
    ecr.create_repository("jobs/doomed", imageScanningConfiguration={"scanOnPush": True})
    push(oci, "jobs/doomed", "v1")
    for _ in range(MAX_ATTEMPTS):
        crash_once(app)
    app.services.runner.drain()
    final = status(ecr, "jobs/doomed")
    assert final["status"] == "FAILED"
    assert "interrupted" in final["description"]


def test_a_newer_request_supersedes_a_queued_scan(app: DockyardApp, oci: Oci, ecr: Ecr) -> None:
    ecr.create_repository("jobs/twice", imageScanningConfiguration={"scanOnPush": True})
    push(oci, "jobs/twice", "v1")
    ecr.ok("StartImageScan", repositoryName="jobs/twice", imageId={"imageTag": "v1"})
    assert app.services.runner.drain() == 2  # the first job finds itself replaced and stops
    assert status(ecr, "jobs/twice")["status"] == "COMPLETE"
