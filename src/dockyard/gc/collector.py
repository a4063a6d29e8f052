"""The garbage collector: reclaims what no repository references, while the registry serves.

One run (``collect``):
1. settles the trash a crash may have left (a file whose blob row survived goes back);
2. stamps blob links newly seen unreferenced by their repository's manifests (and clears the
   stamp of links referenced again);
3. for every blob with a garbage link, or with no link at all, decides in one transaction per blob:
   remove the links that have been unreferenced — and untouched by any push — for the grace
   period, and, when no link and no manifest reference is left, delete the blob's row and move its
   file to the trash before that transaction commits (the file is dropped after);
4. removes stored files that have no blob row and are older than the grace period;
5. purges uploads idle for longer than the upload timeout.

A manifest PUT checks its blobs in a write transaction that locks the same blob rows, and linking
a blob (upload, mount) checks its file in a write transaction, so a claim by the collector and a
reference by a push are decided one after the other: the push either sees the link and the file
(and the collector then sees the reference), or sees neither and fails cleanly (the client pushes
the blob again). See docs/architecture.md, "Blobs and uploads".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dockyard.domain.digest import Digest
from dockyard.domain.events import RepositoryDeleted
from dockyard.domain.sizes import human_bytes
from dockyard.gc.upload_purge import UploadPurge
from dockyard.metadata.gc_store import SqlGcStore
from dockyard.ports import Clock, CollectableBlobStore
from dockyard.workers.queue import JobQueue
from dockyard.workers.runner import Runner, Schedule

log = logging.getLogger("dockyard.gc")
COLLECT, RECLAIM = "gc.collect", "gc.reclaim"


@dataclass
class GcReport:
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None = None
    links_marked: int = 0  # links newly seen unreferenced (reclaimable after the grace period)
    links_removed: int = 0
    blobs_removed: int = 0
    blob_bytes: int = 0
    orphans_removed: int = 0
    orphan_bytes: int = 0
    trash_restored: int = 0
    uploads_purged: int = 0
    upload_bytes: int = 0
    temporaries_removed: int = 0
    freed: list[tuple[str, int]] = field(default_factory=list)  # (digest, size) of removed blobs

    @property
    def bytes_freed(self) -> int:
        return self.blob_bytes + self.orphan_bytes + self.upload_bytes

    def summary(self) -> str:
        verb = "would free" if self.dry_run else "freed"
        return (f"{verb} {human_bytes(self.bytes_freed)}: {self.blobs_removed} blobs "
                f"({human_bytes(self.blob_bytes)}), {self.links_removed} blob links, "
                f"{self.orphans_removed} stray files ({human_bytes(self.orphan_bytes)}), "
                f"{self.uploads_purged} abandoned uploads ({human_bytes(self.upload_bytes)}); "
                f"{self.links_marked} links newly unreferenced")

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "freed"} | {
            "bytes_freed": self.bytes_freed}


class GarbageCollector:
    def __init__(self, store: SqlGcStore, blobs: CollectableBlobStore, clock: Clock, *,
                 grace: timedelta, upload_timeout: timedelta, jobs: JobQueue | None = None) -> None:
        self.store = store
        self.blobs = blobs
        self.clock = clock
        self.grace = grace
        self.jobs = jobs
        self.uploads = UploadPurge(store, blobs, upload_timeout)

    # --- runs ------------------------------------------------------------------------------------
    def collect(self, *, dry_run: bool = False) -> GcReport:
        now = self.clock.now()
        cutoff = now - self.grace
        report = GcReport(dry_run, now)
        if not dry_run:
            self._settle_trash(report)
            report.links_marked = self.store.mark_unreferenced(now)[0]
        candidates = set(self.store.stale_link_digests(cutoff)) | set(self.store.unlinked_blobs())
        self._reclaim(sorted(candidates), cutoff, report)
        self._orphans(cutoff, report)
        purged = self.uploads.purge(now, dry_run=dry_run)
        report.uploads_purged, report.upload_bytes = purged.uploads, purged.bytes
        report.temporaries_removed = purged.temporaries
        report.finished_at = self.clock.now()
        log.info("garbage collection %s", report.summary())
        return report

    def reclaim_unlinked(self) -> GcReport:
        """Reclaim at once the blobs no repository links any more (after DeleteRepository
        --force): nothing can be about to reference a blob without a link, so no grace applies."""
        now = self.clock.now()
        report = GcReport(False, now)
        self._reclaim(self.store.unlinked_blobs(), now - self.grace, report)
        report.finished_at = self.clock.now()
        return report

    def _reclaim(self, digests: list[str], cutoff: datetime, report: GcReport) -> None:
        for digest in digests:
            if report.dry_run:
                result = self.store.would_reclaim(digest, cutoff)
            else:
                result, token = self.store.reclaim(digest, cutoff, self.blobs.trash,
                                                   self.blobs.restore)
                if token is not None:
                    self.blobs.drop(token)
            report.links_removed += result.links_removed
            if result.blob_removed:
                report.blobs_removed += 1
                report.blob_bytes += result.size
                report.freed.append((digest, result.size))

    def _orphans(self, cutoff: datetime, report: GcReport) -> None:
        known = self.store.blob_digests()
        for digest, size, changed in list(self.blobs.stored_blobs()):
            if str(digest) in known or changed >= cutoff.timestamp():
                continue
            if not report.dry_run:
                token = self.store.forget_orphan(
                    digest, self.blobs.trash, lambda d=digest: self._unchanged_since(d, cutoff))
                if token is None:
                    continue
                self.blobs.drop(token)
            report.orphans_removed += 1
            report.orphan_bytes += size

    def _unchanged_since(self, digest: Digest, cutoff: datetime) -> bool:
        changed = self.blobs.changed_at(digest)
        return changed is not None and changed < cutoff.timestamp()

    def _settle_trash(self, report: GcReport) -> None:
        for token, digest in self.blobs.trashed():
            if self.store.settle_trashed(digest, token, self.blobs.restore, self.blobs.drop):
                report.trash_restored += 1

    # --- pushes and the job queue ----------------------------------------------------------------
    def touched(self, repository_id: int, linked: dict[str, datetime]) -> set[str]:
        """A push found these blobs (digest: when linked) in the repository (HEAD,
        BatchCheckLayerAvailability): their links start a new grace period, so the push can
        reference them. Written at most once per half grace period per link. Returns the
        digests still linked."""
        now = self.clock.now()
        stale = sorted(d for d, at in linked.items() if at < now - self.grace / 2)
        if not stale:
            return set(linked)
        return set(linked) - set(stale) | self.store.refresh_links(repository_id, stale, now)

    def on_repository_deleted(self, event: RepositoryDeleted) -> None:
        if self.jobs is not None:
            self.jobs.enqueue(RECLAIM, {"repository": event.repository})

    def register(self, runner: Runner, every: timedelta) -> None:
        runner.register(COLLECT, lambda payload: self.collect())
        runner.register(RECLAIM, lambda payload: self.reclaim_unlinked())
        runner.schedule(Schedule(COLLECT, every, {}))
