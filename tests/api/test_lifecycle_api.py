"""Lifecycle policies, previews, quotas and GC through boto3 (its parsers, paginators and waiter),
against the in-process app: every request is signed by botocore and served by Dockyard's ASGI app."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, WaiterError
from sqlalchemy import update

from dockyard.app import DockyardApp
from dockyard.metadata.tables import manifests
from dockyard.settings import Settings

from .conftest import (
    Oci,
    assert_oci_error,
    index_of,
    make_settings,
    oci_image,
    sha256,
)

REPO = "team/app"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # Jobs run when a test drains the queue (no background runner racing the assertions); a
    # zero grace period lets a test collect garbage on its second GC run.
    return make_settings(tmp_path / "data").model_copy(
        update={"jobs_in_server": False, "gc_grace_seconds": 0})


def error(info: pytest.ExceptionInfo) -> tuple[str, str]:
    body = info.value.response["Error"]
    return body["Code"], body["Message"]


def age(app: DockyardApp, digest: str, days: float) -> None:
    """Make an image look pushed ``days`` ago (test set-up: the clock of a signed client is real)."""
    db = app.services.jobs.db
    when = app.services.jobs.clock.now() - timedelta(days=days)
    with db.write() as c:
        c.execute(update(manifests).where(manifests.c.digest == digest).values(pushed_at=when))


def policy(*rules: dict) -> str:
    return json.dumps({"rules": list(rules)})


def rule(priority: int, tag_status: str, count_type: str, number: int, **selection) -> dict:
    sel = {"tagStatus": tag_status, "countType": count_type, "countNumber": number, **selection}
    if count_type != "imageCountMoreThan":
        sel["countUnit"] = "days"
    return {"rulePriority": priority, "description": f"rule {priority}", "selection": sel,
            "action": {"type": "expire"}}


KEEP_TWO_BUILDS = policy(rule(1, "untagged", "sinceImagePushed", 7),
                         rule(2, "tagged", "imageCountMoreThan", 2, tagPatternList=["build-*"]))


@pytest.fixture
def images(app: DockyardApp, oci: Oci, boto) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Five tagged builds (pushed 10..6 days ago), a release, two old untagged images, a new one."""
    boto.create_repository(repositoryName=REPO)
    pushed = {}
    for i in range(5):
        img = oci_image(f"build{i}")
        oci.push_image(REPO, img, f"build-{i}")
        age(app, img.digest, 10 - i)
        pushed[f"build-{i}"] = img.digest
    release = oci_image("release")
    oci.push_image(REPO, release, "release-1.0")
    age(app, release.digest, 30)
    pushed["release-1.0"] = release.digest
    for name, days in (("old1", 20), ("old2", 7.5), ("fresh", 1)):
        img = oci_image(name)
        oci.push_image(REPO, img)
        age(app, img.digest, days)
        pushed[name] = img.digest
    return pushed


# --- PutLifecyclePolicy / GetLifecyclePolicy / DeleteLifecyclePolicy ----------------------------
def test_policy_round_trip(app, boto, registry_id):  # type: ignore[no-untyped-def]
    boto.create_repository(repositoryName=REPO)
    with pytest.raises(ClientError) as info:
        boto.get_lifecycle_policy(repositoryName=REPO)
    code, message = error(info)
    assert code == "LifecyclePolicyNotFoundException"
    assert message == (f"Lifecycle policy does not exist for the repository with name '{REPO}' "
                       f"in the registry with id '{registry_id}'")
    put = boto.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=KEEP_TWO_BUILDS)
    assert put["lifecyclePolicyText"] == KEEP_TWO_BUILDS and put["registryId"] == registry_id
    got = boto.get_lifecycle_policy(repositoryName=REPO)
    assert got["lifecyclePolicyText"] == KEEP_TWO_BUILDS and "lastEvaluatedAt" not in got
    app.services.lifecycle.run(REPO)
    assert boto.get_lifecycle_policy(repositoryName=REPO)["lastEvaluatedAt"].year >= 2025
    deleted = boto.delete_lifecycle_policy(repositoryName=REPO)
    assert deleted["lifecyclePolicyText"] == KEEP_TWO_BUILDS
    with pytest.raises(ClientError) as info:
        boto.delete_lifecycle_policy(repositoryName=REPO)
    assert error(info)[0] == "LifecyclePolicyNotFoundException"


@pytest.mark.parametrize("text, fragment", [
    (policy(rule(1, "any", "imageCountMoreThan", 1), rule(2, "untagged", "imageCountMoreThan", 1)),
     "the rule with tagStatus 'any' (rulePriority 1) must have the highest rulePriority"),
    (policy(rule(1, "tagged", "imageCountMoreThan", 1)), "requires a tagPrefixList or a tagPatternList"),
    (policy(rule(1, "tagged", "imageCountMoreThan", 1, tagPatternList=["a*b*c*d*e*f"])),
     "has 5 wildcards; at most 4 are allowed"),
    (policy(rule(1, "any", "sinceImagePushed", 0)), "countNumber: 0 is not greater or equal to 1"),
    ('{"rules": [' + "x" * 100 + "]}", "not valid JSON"),
])
def test_invalid_policies_say_what_is_wrong(boto, text, fragment):  # type: ignore[no-untyped-def]
    boto.create_repository(repositoryName=REPO)
    with pytest.raises(ClientError) as info:
        boto.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=text.ljust(100))
    code, message = error(info)
    assert code == "InvalidParameterException"
    assert message.startswith("Invalid parameter at 'LifecyclePolicyText' failed to satisfy "
                              "constraint: 'Lifecycle policy validation failure: ")
    assert fragment in message


def test_unknown_repository(boto):  # type: ignore[no-untyped-def]
    for call in (lambda: boto.get_lifecycle_policy(repositoryName="no/such"),
                 lambda: boto.put_lifecycle_policy(repositoryName="no/such",
                                                   lifecyclePolicyText=KEEP_TWO_BUILDS),
                 lambda: boto.start_lifecycle_policy_preview(repositoryName="no/such"),
                 lambda: boto.get_lifecycle_policy_preview(repositoryName="no/such")):
        with pytest.raises(ClientError) as info:
            call()
        assert error(info)[0] == "RepositoryNotFoundException"


# --- previews ------------------------------------------------------------------------------------
EXPECTED = ["release-1.0", "old1", "build-0", "build-1", "build-2", "old2"]  # oldest push first


def test_preview_shapes_summary_pagination_and_filters(app, boto, images):  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        boto.get_lifecycle_policy_preview(repositoryName=REPO)
    assert error(info)[0] == "LifecyclePolicyPreviewNotFoundException"
    with pytest.raises(ClientError) as info:
        boto.start_lifecycle_policy_preview(repositoryName=REPO)
    assert error(info)[0] == "LifecyclePolicyNotFoundException"

    text = policy(rule(1, "untagged", "sinceImagePushed", 7),
                  rule(2, "tagged", "imageCountMoreThan", 2, tagPatternList=["build-*"]),
                  rule(3, "any", "sinceImagePushed", 14))
    started = boto.start_lifecycle_policy_preview(repositoryName=REPO, lifecyclePolicyText=text)
    assert started["status"] == "IN_PROGRESS" and started["lifecyclePolicyText"] == text
    with pytest.raises(ClientError) as info:
        boto.start_lifecycle_policy_preview(repositoryName=REPO, lifecyclePolicyText=text)
    assert error(info)[0] == "LifecyclePolicyPreviewInProgressException"
    pending = boto.get_lifecycle_policy_preview(repositoryName=REPO)
    assert pending["status"] == "IN_PROGRESS" and pending["previewResults"] == []
    app.services.runner.drain()

    done = boto.get_lifecycle_policy_preview(repositoryName=REPO)
    assert done["status"] == "COMPLETE"
    assert done["summary"]["expiringImageTotalCount"] == len(EXPECTED)
    by_digest = {v: k for k, v in images.items()}
    assert [by_digest[r["imageDigest"]] for r in done["previewResults"]] == EXPECTED
    first = done["previewResults"][0]
    assert first["imageTags"] == ["release-1.0"] and first["appliedRulePriority"] == 3
    assert first["action"] == {"type": "EXPIRE"} and first["storageClass"] == "STANDARD"
    assert first["imagePushedAt"].year >= 2025
    assert "imageTags" not in done["previewResults"][1]  # untagged
    assert {r["appliedRulePriority"] for r in done["previewResults"]} == {1, 2, 3}

    pages = list(boto.get_paginator("get_lifecycle_policy_preview").paginate(
        repositoryName=REPO, PaginationConfig={"PageSize": 4}))
    assert [len(p["previewResults"]) for p in pages] == [4, 2]
    assert [r["imageDigest"] for p in pages for r in p["previewResults"]] == [
        r["imageDigest"] for r in done["previewResults"]]

    untagged = boto.get_lifecycle_policy_preview(repositoryName=REPO,
                                                 filter={"tagStatus": "UNTAGGED"})
    assert [by_digest[r["imageDigest"]] for r in untagged["previewResults"]] == ["old1", "old2"]
    assert untagged["summary"]["expiringImageTotalCount"] == len(EXPECTED)
    chosen = boto.get_lifecycle_policy_preview(
        repositoryName=REPO, imageIds=[{"imageTag": "build-1"}, {"imageDigest": images["old2"]},
                                       {"imageTag": "build-4"}])
    assert [by_digest[r["imageDigest"]] for r in chosen["previewResults"]] == ["build-1", "old2"]
    with pytest.raises(ClientError) as info:
        boto.get_lifecycle_policy_preview(repositoryName=REPO, imageIds=[{"imageTag": "x"}],
                                          maxResults=5)
    assert error(info)[0] == "InvalidParameterException"


def test_the_waiter_waits_for_the_preview(app, boto, images):  # type: ignore[no-untyped-def]
    boto.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=KEEP_TWO_BUILDS)
    boto.start_lifecycle_policy_preview(repositoryName=REPO)
    worker = threading.Timer(1.5, app.services.runner.drain)  # the job runs while the waiter polls
    worker.start()
    started = time.monotonic()
    boto.get_waiter("lifecycle_policy_preview_complete").wait(
        repositoryName=REPO, WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    assert time.monotonic() - started >= 1.0
    worker.join()
    done = boto.get_lifecycle_policy_preview(repositoryName=REPO)
    assert done["summary"]["expiringImageTotalCount"] == 5  # old1, old2, build-0..2


def test_the_waiter_fails_on_a_failed_preview(app, boto, images):  # type: ignore[no-untyped-def]
    boto.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=KEEP_TWO_BUILDS)
    boto.start_lifecycle_policy_preview(repositoryName=REPO)
    store = app.services.lifecycle.store
    repo_id = app.services.repositories.store.get_repository(REPO).id
    preview = store.preview(repo_id)
    store.finish_preview(repo_id, preview.started_at, "FAILED", None, "boom",
                         app.services.jobs.clock.now())
    with pytest.raises(WaiterError):
        boto.get_waiter("lifecycle_policy_preview_complete").wait(
            repositoryName=REPO, WaiterConfig={"Delay": 1, "MaxAttempts": 2})


# --- runs ------------------------------------------------------------------------------------------
def test_a_run_leaves_exactly_what_the_preview_did_not_list(app, boto, images):  # type: ignore[no-untyped-def]
    boto.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=KEEP_TWO_BUILDS)
    boto.start_lifecycle_policy_preview(repositoryName=REPO)
    app.services.runner.drain()
    expiring = {r["imageDigest"] for r in boto.get_lifecycle_policy_preview(
        repositoryName=REPO)["previewResults"]}
    app.services.runner.enqueue_due()  # the scheduled run, through the job queue
    assert app.services.runner.drain() >= 1
    left = {d["imageDigest"] for page in boto.get_paginator("describe_images").paginate(
        repositoryName=REPO) for d in page["imageDetails"]}
    assert left == set(images.values()) - expiring
    assert {t for page in boto.get_paginator("describe_images").paginate(repositoryName=REPO)
            for d in page["imageDetails"] for t in d.get("imageTags", [])} == {
        "build-3", "build-4", "release-1.0"}


def test_a_multi_arch_image_and_its_referrers_expire_together(app, oci, boto):  # type: ignore[no-untyped-def]
    boto.create_repository(repositoryName=REPO)
    amd, arm = oci_image("amd"), oci_image("arm")
    for img in (amd, arm):
        oci.push_image(REPO, img)
    multi = index_of([amd, arm])
    oci.push_image(REPO, multi, "v1")
    signature = oci_image("sig", subject=multi, artifact_type="application/vnd.dev.cosign")
    oci.push_image(REPO, signature)
    newer = oci_image("newer")
    oci.push_image(REPO, newer, "v2")
    for digest in (amd.digest, arm.digest, multi.digest, signature.digest):
        age(app, digest, 5)
    boto.put_lifecycle_policy(repositoryName=REPO, lifecyclePolicyText=policy(
        rule(1, "untagged", "sinceImagePushed", 1), rule(2, "any", "imageCountMoreThan", 1)))
    report = app.services.lifecycle.run(REPO)
    assert {e.digest for _, e in report.expired} == {multi.digest, amd.digest, arm.digest,
                                                     signature.digest}
    left = boto.describe_images(repositoryName=REPO)["imageDetails"]
    assert [d["imageDigest"] for d in left] == [newer.digest]


# --- quotas ---------------------------------------------------------------------------------------
def test_a_push_over_quota_is_refused_with_clear_errors(app, oci, boto):  # type: ignore[no-untyped-def]
    boto.create_repository(repositoryName=REPO)
    oci.push_image(REPO, oci_image("one"), "one")
    app.services.usage.set_quota(REPO, max_bytes=None, max_images=1)
    two = oci_image("two")
    for digest, data in two.blobs.items():
        oci.push_blob(REPO, data, digest)
    response = oci.put_manifest(REPO, "two", two.manifest, two.media_type)
    body = assert_oci_error(response, 403, "DENIED")
    assert "its quota is 1" in body["message"]
    with pytest.raises(ClientError) as info:
        boto.put_image(repositoryName=REPO, imageManifest=two.manifest.decode(), imageTag="two")
    code, message = error(info)
    assert code == "LimitExceededException" and "holds 1 images, its quota is 1" in message


# --- garbage collection ------------------------------------------------------------------------------
def test_delete_repository_force_reclaims_exclusive_storage(app, oci, boto):  # type: ignore[no-untyped-def]
    boto.create_repository(repositoryName=REPO)
    boto.create_repository(repositoryName="team/keep")
    shared = b"a layer both repositories hold" * 50
    mine = oci_image("mine", config=b'{"mine": 1}')
    oci.push_image(REPO, mine, "v1")
    for repo in (REPO, "team/keep"):
        oci.push_blob(repo, shared)
    keep = oci_image("keep")
    oci.push_image("team/keep", keep, "v1")
    blobs_dir = Path(app.services.settings.data_dir).resolve() / "blobs" / "sha256"

    def stored(digest: str) -> bool:
        hex_ = digest.split(":")[1]
        return (blobs_dir / hex_[:2] / hex_).exists()

    boto.delete_repository(repositoryName=REPO, force=True)
    app.services.runner.drain()
    assert not any(stored(d) for d in mine.blobs)
    assert stored(sha256(shared)) and all(stored(d) for d in keep.blobs)
