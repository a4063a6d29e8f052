"""Runs queued jobs: in the server process by default, or in ``dockyard worker`` processes.

Handlers are plain functions ``handler(payload) -> None`` registered per job kind; they run in a
thread so the event loop keeps serving. A handler that raises is retried with back-off up to
``MAX_ATTEMPTS`` times. Schedules enqueue recurring jobs once per period across the cluster (the
period is the job's dedupe key).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio

from dockyard.workers.queue import Job, JobQueue

log = logging.getLogger("dockyard.workers")
Handler = Callable[[dict[str, Any]], None]
MAX_ATTEMPTS = 5
LEASE = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Schedule:
    kind: str
    every: timedelta
    payload: dict[str, Any]


class Runner:
    def __init__(self, queue: JobQueue, poll_seconds: float = 1.0) -> None:
        self.queue = queue
        self.poll_seconds = poll_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.handlers: dict[str, Handler] = {}
        self.schedules: list[Schedule] = []

    def register(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    def schedule(self, schedule: Schedule) -> None:
        self.schedules.append(schedule)

    def enqueue_due(self) -> None:
        now = self.queue.clock.now().timestamp()
        for s in self.schedules:
            period = int(now // s.every.total_seconds())
            self.queue.enqueue(s.kind, s.payload, dedupe_key=f"schedule:{s.kind}:{period}")

    def run_once(self) -> Job | None:
        """Claim and run one job (synchronously); returns it, or None when nothing was due."""
        job = self.queue.claim(self.owner, list(self.handlers), LEASE)
        if job is None:
            return None
        try:
            self.handlers[job.kind](job.payload)
        except Exception as exc:  # noqa: BLE001 - recorded on the job and retried
            log.exception("job %s (%s) failed, attempt %d", job.id, job.kind, job.attempts)
            retry = timedelta(seconds=2 ** job.attempts) if job.attempts < MAX_ATTEMPTS else None
            self.queue.finish(job, self.owner, error=f"{type(exc).__name__}: {exc}", retry_in=retry)
        else:
            self.queue.finish(job, self.owner)
        return job

    def drain(self) -> int:
        """Run every due job now (the CLI's on-demand runs and tests use this)."""
        count = 0
        while self.run_once() is not None:
            count += 1
        return count

    async def run_forever(self) -> None:
        while True:
            try:
                await anyio.to_thread.run_sync(self.enqueue_due)
                ran = await anyio.to_thread.run_sync(self.run_once)
            except Exception:  # noqa: BLE001 - keep the loop alive across database hiccups
                log.exception("job runner iteration failed")
                ran = None
            if ran is None:
                await asyncio.sleep(self.poll_seconds)
