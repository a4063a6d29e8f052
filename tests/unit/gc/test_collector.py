"""Online garbage collection against a real registry: SQLite, the filesystem, Dockyard's services."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event

from dockyard.domain.digest import Digest
from dockyard.errors import BlobUnknown, ManifestBlobUnknown, UploadUnknown
from dockyard.gc.collector import RECLAIM

from .registry import GRACE, Registry, image, index, sha256

BASE = b"shared base layer " * 300


def past_grace(registry: Registry) -> None:
    registry.clock.advance(seconds=GRACE.total_seconds() + 1)


def test_blobs_of_a_deleted_image_go_only_after_the_grace_period(registry):
    img = image("a")
    registry.push("team/app", img)
    registry.delete("team/app", img.digest)
    assert registry.files() == set(img.blobs)  # deleting removes metadata only

    first = registry.collect()  # sees the links unreferenced: starts their grace period
    assert first.links_marked == 2 and first.blobs_removed == 0
    registry.clock.advance(seconds=GRACE.total_seconds() - 1)
    assert registry.collect().blobs_removed == 0
    registry.clock.advance(seconds=2)
    report = registry.collect()
    assert report.blobs_removed == 2
    assert report.blob_bytes == sum(len(b) for b in img.blobs.values())
    assert sorted(report.freed) == sorted((d, len(b)) for d, b in img.blobs.items())
    assert registry.files() == set() and registry.rows() == set()
    assert not any((registry.root / "trash").iterdir())


def test_referenced_blobs_stay_whatever_else_goes(registry):
    keep, drop = image("keep", BASE), image("drop", BASE)
    registry.push("team/app", keep, "keep")
    registry.push("team/app", drop, "drop")
    registry.delete("team/app", drop.digest)
    registry.collect()
    past_grace(registry)
    report = registry.collect()
    assert {d for d, _ in report.freed} == set(drop.blobs) - {sha256(BASE)}
    assert registry.files() == registry.rows() == set(keep.blobs) == registry.referenced()
    for digest in keep.blobs:  # the kept image still reads completely
        assert b"".join(registry.services.blobs.read(Digest.parse(digest))) == keep.blobs[digest]


def test_a_blob_another_repository_references_stays(registry):
    registry.create("team/other")
    img = image("x", BASE)
    registry.push("team/app", img)
    registry.push("team/other", image("y", BASE))
    registry.delete("team/app", img.digest)
    registry.collect()
    past_grace(registry)
    report = registry.collect()
    assert sha256(BASE) not in {d for d, _ in report.freed}
    assert report.links_removed == 3  # team/app's links to config, own layer and the base
    assert sha256(BASE) in registry.files()
    with pytest.raises(BlobUnknown):  # team/app no longer holds it
        registry.services.blobs.stat(registry.admin, "team/app", Digest.parse(sha256(BASE)))


def test_an_uploaded_blob_waits_the_grace_period_for_its_manifest(registry):
    digest = registry.push_blob("team/app", b"pushed, manifest to come")
    registry.collect()
    registry.clock.advance(seconds=GRACE.total_seconds() - 60)
    registry.collect()
    assert digest in registry.files()
    past_grace(registry)
    registry.collect()
    assert digest not in registry.files()


def test_a_push_that_finds_a_blob_restarts_its_grace_period(registry):
    old = image("old", BASE)
    registry.push("team/app", old)
    registry.delete("team/app", old.digest)
    registry.collect()
    past_grace(registry)
    # docker's HEAD before skipping the upload of a layer it sees in the repository
    assert registry.services.blobs.stat(registry.admin, "team/app", Digest.parse(sha256(BASE)),
                                        action="ecr:BatchCheckLayerAvailability") == len(BASE)
    assert registry.services.blobs.check_layers(registry.admin, "team/app", [
        Digest.parse(sha256(BASE))]) == {sha256(BASE): len(BASE)}
    report = registry.collect()
    assert sha256(BASE) not in {d for d, _ in report.freed}
    new = image("new", BASE)
    for digest, data in new.blobs.items():
        if digest != sha256(BASE):
            registry.push_blob("team/app", data)
    registry.put_manifest("team/app", new, "new")  # references the layer it did not upload
    past_grace(registry)
    registry.collect()
    past_grace(registry)
    registry.collect()
    assert registry.files() == registry.referenced() == set(new.blobs)


def test_a_head_after_the_collector_took_the_link_answers_unknown(registry):
    old = image("gone")
    registry.push("team/app", old)
    registry.delete("team/app", old.digest)
    registry.collect()
    past_grace(registry)
    registry.collect()
    layer = next(d for d in old.blobs if d != sha256(old.manifest))
    with pytest.raises(BlobUnknown):
        registry.services.blobs.stat(registry.admin, "team/app", Digest.parse(layer),
                                     action="ecr:BatchCheckLayerAvailability")


def _garbage(registry: Registry) -> tuple[str, bytes]:
    """A blob whose only image was deleted, past its grace period: the collector's next claim."""
    data = b"a layer about to be collected " * 40
    img = image("victim", data)
    registry.push("team/app", img)
    registry.delete("team/app", img.digest)
    registry.collect()
    past_grace(registry)
    return sha256(data), data


def test_the_claim_and_a_manifest_put_are_decided_one_after_the_other(registry):
    digest, data = _garbage(registry)
    store, blobs = registry.services.gc.store, registry.services.gc.blobs
    cutoff = registry.clock.now() - GRACE
    late = image("late", data)
    outcome: dict[str, object] = {}

    def put_manifest() -> None:
        try:
            registry.put_manifest("team/app", late, "late")
            outcome["put"] = "stored"
        except ManifestBlobUnknown as exc:
            outcome["put"] = exc

    pusher = threading.Thread(target=put_manifest)

    def trash_while_a_push_waits(d: Digest):  # runs inside the collector's transaction
        pusher.start()
        time.sleep(0.5)
        outcome["blocked"] = pusher.is_alive()  # the PUT waits for the claim to commit
        return blobs.trash(d)

    result, token = store.reclaim(digest, cutoff, trash_while_a_push_waits, blobs.restore)
    blobs.drop(token)
    pusher.join(10)
    assert result.blob_removed and outcome["blocked"] is True
    assert isinstance(outcome["put"], ManifestBlobUnknown)  # refused cleanly: no dangling image
    assert digest not in registry.files() and digest not in registry.rows()


def test_a_reference_committed_first_wins_over_the_claim(registry):
    digest, data = _garbage(registry)
    late = image("late", data)
    registry.services.blobs.check_layers(registry.admin, "team/app", [Digest.parse(digest)])
    registry.push("team/app", late, "late")
    result, token = registry.services.gc.store.reclaim(
        digest, registry.clock.now() - GRACE, registry.services.gc.blobs.trash,
        registry.services.gc.blobs.restore)
    assert not result.blob_removed and token is None
    assert digest in registry.files()


def test_an_upload_completing_during_a_claim_stores_its_own_bytes(registry):
    digest, data = _garbage(registry)
    blobs = registry.services.gc.blobs
    done: dict[str, object] = {}

    def upload() -> None:
        try:
            done["digest"] = registry.push_blob_chunked("team/app", data)
        except Exception as exc:  # noqa: BLE001 - reported below
            done["error"] = exc

    uploader = threading.Thread(target=upload)

    def trash_while_an_upload_completes(d: Digest):
        uploader.start()
        time.sleep(0.5)  # it found the file, and waits to link it
        return blobs.trash(d)

    _, token = registry.services.gc.store.reclaim(digest, registry.clock.now() - GRACE,
                                                  trash_while_an_upload_completes, blobs.restore)
    blobs.drop(token)
    uploader.join(10)
    assert done.get("digest") == digest, done
    assert digest in registry.files() and digest in registry.rows()
    assert registry.services.blobs.stat(registry.admin, "team/app", Digest.parse(digest)) == len(data)


def test_a_failed_commit_puts_the_trashed_file_back(registry):
    digest, _ = _garbage(registry)
    blobs = registry.services.gc.blobs
    engine = registry.services.jobs.db.engine

    def fail_commit(connection):  # the database refuses the claim's commit
        raise OSError("disk trouble at commit")

    event.listen(engine, "commit", fail_commit, once=True)
    with pytest.raises(OSError):
        registry.services.gc.store.reclaim(digest, registry.clock.now() - GRACE, blobs.trash,
                                           blobs.restore)
    assert digest in registry.files() and digest in registry.rows()
    assert not any((registry.root / "trash").iterdir())


def test_a_crash_between_trash_and_commit_is_settled_by_the_next_run(registry):
    img = image("live")
    registry.push("team/app", img, "live")
    layer = next(iter(img.blobs))
    token = registry.services.gc.blobs.trash(Digest.parse(layer))  # as if the process died here
    assert token and layer not in registry.files()
    report = registry.collect()
    assert report.trash_restored == 1 and layer in registry.files()


def test_stray_files_without_a_row_go_after_the_grace_period(registry):
    data = b"written by a crashed upload"
    registry.services.gc.blobs.put(Digest.parse(sha256(data)), data)
    assert registry.collect().orphans_removed == 0
    registry.clock.advance(seconds=GRACE.total_seconds() + 300)  # file times are real times
    report = registry.collect()
    assert report.orphans_removed == 1 and report.orphan_bytes == len(data)
    assert sha256(data) not in registry.files()


def test_a_stray_file_stored_again_after_the_listing_stays(registry):
    """The sweep lists an old stray file; before it takes it, an upload stores the same bytes
    again (and is about to link them): the sweep re-checks the file under the digest's lock and
    leaves it."""
    data = b"stray, then pushed again"
    digest = Digest.parse(sha256(data))
    blobs = registry.services.gc.blobs
    blobs.put(digest, data)
    registry.clock.advance(seconds=GRACE.total_seconds() + 300)
    listed = list(blobs.stored_blobs())

    def listing_then_a_fresh_store():  # the file changes after it was listed
        future = registry.clock.now().timestamp() + 60
        os.utime(blobs.local_path(digest), (future, future))
        return iter(listed)

    blobs.stored_blobs = listing_then_a_fresh_store
    assert registry.collect().orphans_removed == 0
    assert str(digest) in registry.files()


def test_an_upload_whose_deduplicated_file_is_collected_stores_its_own_bytes(registry):
    """An upload finds the blob stored by someone else when it completes, so it keeps its own
    bytes aside; the collector takes that file before the link: the upload stores its bytes and
    links them, instead of failing."""
    data = b"pushed by two clients at once " * 30
    digest = Digest.parse(sha256(data))
    blobs = registry.services.uploads.blobs
    original = blobs.commit_upload
    calls: list[bool] = []

    def commit_racing_with_another_push_and_the_collector(*args, **kwargs):  # type: ignore[no-untyped-def]
        first = not calls
        calls.append(True)
        if first:
            blobs.put(digest, data)  # another client's push stored the same blob
        original(*args, **kwargs)  # finds it: deduplicated
        if first:
            blobs.drop(blobs.trash(digest))  # the collector took it before the link

    blobs.commit_upload = commit_racing_with_another_push_and_the_collector
    assert registry.push_blob_chunked("team/app", data) == str(digest)
    assert len(calls) == 2
    assert registry.services.blobs.stat(registry.admin, "team/app", digest) == len(data)
    assert b"".join(registry.services.blobs.read(digest)) == data


def test_abandoned_uploads_are_purged_after_the_upload_timeout(registry):
    upload = registry.services.uploads.start(registry.admin, "team/app")

    async def chunk():
        yield b"partial bytes"

    asyncio.run(registry.services.uploads.append(registry.admin, "team/app", upload.id, chunk()))
    stray = registry.root / "uploads" / "not-a-known-upload"
    stray.write_bytes(b"x" * 10)
    old = time.time() - 2 * 86400
    os.utime(stray, (old, old))
    assert registry.collect().uploads_purged == 1  # only the stray buffer: the upload is recent
    registry.clock.advance(seconds=registry.settings.upload_timeout_seconds + 1)
    report = registry.collect()
    assert report.uploads_purged == 1 and report.upload_bytes == len(b"partial bytes")
    assert not (registry.root / "uploads" / upload.id).exists() and not stray.exists()
    with pytest.raises(UploadUnknown):
        registry.services.uploads.status(registry.admin, "team/app", upload.id)


def test_dry_run_reports_what_the_run_frees_and_changes_nothing(registry):
    keep, drop = image("keep", BASE), image("drop", BASE)
    registry.push("team/app", keep, "keep")
    registry.push("team/app", drop, "drop")
    registry.delete("team/app", drop.digest)
    registry.collect()
    past_grace(registry)
    before = registry.files()
    dry = registry.collect(dry_run=True)
    assert registry.files() == before
    real = registry.collect()
    assert sorted(dry.freed) == sorted(real.freed) and dry.blob_bytes == real.blob_bytes > 0
    assert dry.links_removed == real.links_removed


def test_delete_repository_force_reclaims_its_exclusive_storage_at_once(registry):
    registry.create("team/other")
    mine, theirs = image("mine", BASE), image("theirs", BASE)
    registry.push("team/app", mine, "v1")
    registry.push("team/other", theirs, "v1")
    registry.services.repositories.delete(registry.admin, "team/app", force=True)
    assert registry.files() == set(mine.blobs) | set(theirs.blobs)  # until the reclaim job runs
    job = registry.services.jobs.claim("test", [RECLAIM], timedelta(minutes=1))
    assert job is not None and job.payload == {"repository": "team/app"}
    registry.services.runner.handlers[RECLAIM](job.payload)
    assert registry.files() == set(theirs.blobs)  # no grace: nothing can reference an unlinked blob
    assert registry.referenced() == set(theirs.blobs)


def test_index_children_and_referrers_keep_their_blobs(registry):
    amd, arm = image("amd"), image("arm")
    sig = image("sig", subject=amd)
    for img in (amd, arm):
        registry.push("team/app", img)
    registry.push("team/app", index(amd, arm), "multi")
    registry.push("team/app", sig)
    registry.collect()
    past_grace(registry)
    assert registry.collect().blobs_removed == 0
    assert registry.files() == set(amd.blobs) | set(arm.blobs) | set(sig.blobs)


@pytest.mark.parametrize("dry_run", [True, False])
def test_gc_reports_when_nothing_is_garbage(registry, dry_run):
    report = registry.collect(dry_run=dry_run)
    assert report.bytes_freed == 0 and "0 blobs" in report.summary()
