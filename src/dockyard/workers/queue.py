"""The job table: enqueue, claim with a lease, finish. Any node or ``dockyard worker`` process can
run any job; a job whose lease expired (its runner died) is claimed again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from dockyard.metadata.engine import Database, retry_conflicts
from dockyard.metadata.tables import jobs
from dockyard.ports import Clock

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True, slots=True)
class Job:
    id: str
    kind: str
    payload: dict[str, Any]
    attempts: int


@retry_conflicts
class JobQueue:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def enqueue(self, kind: str, payload: dict[str, Any], *, delay: timedelta = timedelta(0),
                dedupe_key: str | None = None) -> str | None:
        """Queue a job; with ``dedupe_key``, only the first job with that key is kept (None then)."""
        now = self.clock.now()
        job_id = str(uuid.uuid4())
        try:
            with self.db.write() as c:
                c.execute(insert(jobs).values(
                    id=job_id, kind=kind, payload=payload, state=QUEUED, dedupe_key=dedupe_key,
                    run_after=now + delay, attempts=0, created_at=now))
        except IntegrityError:
            return None
        return job_id

    def claim(self, owner: str, kinds: list[str], lease: timedelta) -> Job | None:
        now = self.clock.now()
        claimable = or_(and_(jobs.c.state == QUEUED, jobs.c.run_after <= now),
                        and_(jobs.c.state == RUNNING, jobs.c.lease_expires < now))
        with self.db.write() as c:
            # PostgreSQL: runners on other nodes skip the row this one locked and take the next
            # (SQLite: BEGIN IMMEDIATE already serialises claims; the clause is not rendered).
            row = c.execute(select(jobs.c.id, jobs.c.kind, jobs.c.payload, jobs.c.attempts)
                            .where(claimable, jobs.c.kind.in_(kinds))
                            .order_by(jobs.c.run_after).limit(1)
                            .with_for_update(skip_locked=True)).first()
            if row is None:
                return None
            taken = c.execute(update(jobs).where(jobs.c.id == row.id, claimable).values(
                state=RUNNING, lease_owner=owner, lease_expires=now + lease,
                attempts=jobs.c.attempts + 1)).rowcount
        return Job(row.id, row.kind, row.payload, row.attempts + 1) if taken else None

    def finish(self, job: Job, owner: str, error: str | None = None,
               retry_in: timedelta | None = None) -> None:
        now = self.clock.now()
        values: dict[str, Any] = {"lease_owner": None, "lease_expires": None, "last_error": error}
        if error is not None and retry_in is not None:
            values.update(state=QUEUED, run_after=now + retry_in)
        else:
            values.update(state=FAILED if error else DONE, finished_at=now)
        with self.db.write() as c:
            c.execute(update(jobs).where(jobs.c.id == job.id, jobs.c.lease_owner == owner)
                      .values(**values))

    def state(self, job_id: str) -> tuple[str, str | None] | None:
        with self.db.read() as c:
            row = c.execute(select(jobs.c.state, jobs.c.last_error).where(jobs.c.id == job_id)).first()
        return (row.state, row.last_error) if row else None

    def dedupe_taken(self, key: str) -> bool:
        with self.db.read() as c:
            return c.execute(select(jobs.c.id).where(jobs.c.dedupe_key == key)).first() is not None


