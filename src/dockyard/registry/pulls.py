"""Pull times (ECR's ``lastRecordedPullTime``), recorded without a write on every pull.

A node writes the pull time of an image at most once a minute; between writes the recorded time
may lag by up to that minute, which is what "last recorded" promises.
"""

from __future__ import annotations

from dockyard.metadata.image_store import SqlImageStore
from dockyard.ports import Clock

RECORD_INTERVAL_SECONDS = 60.0
_MAX_TRACKED = 100_000


class PullRecorder:
    def __init__(self, store: SqlImageStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self._written: dict[tuple[int, str], float] = {}

    def pulled(self, repository_id: int, digests: list[str]) -> None:
        now = self.clock.now()
        stamp = now.timestamp()
        due = [d for d in digests
               if stamp - self._written.get((repository_id, d), 0.0) >= RECORD_INTERVAL_SECONDS]
        if not due:
            return
        self.store.record_pulls(repository_id, due, now)
        if len(self._written) > _MAX_TRACKED:
            self._written.clear()
        for digest in due:
            self._written[(repository_id, digest)] = stamp
