"""The job queue and runner on a real SQLite database."""

from datetime import datetime, timedelta, timezone

import pytest

from dockyard.metadata.engine import Database, make_engine
from dockyard.metadata.migrate import upgrade
from dockyard.workers.queue import DONE, FAILED, JobQueue
from dockyard.workers.runner import MAX_ATTEMPTS, Runner, Schedule


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def now(self) -> datetime:
        return self.moment


@pytest.fixture()
def queue(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    return JobQueue(Database(engine), FakeClock())


def test_job_runs_once_and_is_done(queue):
    seen = []
    runner = Runner(queue)
    runner.register("echo", lambda payload: seen.append(payload["n"]))
    job_id = queue.enqueue("echo", {"n": 1})
    assert runner.drain() == 1
    assert seen == [1]
    assert queue.state(job_id) == (DONE, None)
    assert runner.drain() == 0


def test_delayed_job_waits_for_its_time(queue):
    runner = Runner(queue)
    runner.register("echo", lambda payload: None)
    queue.enqueue("echo", {}, delay=timedelta(minutes=5))
    assert runner.drain() == 0
    queue.clock.moment += timedelta(minutes=5)
    assert runner.drain() == 1


def test_failures_are_retried_then_recorded(queue):
    runner = Runner(queue)

    def boom(payload):
        raise RuntimeError("disk on fire")

    runner.register("boom", boom)
    job_id = queue.enqueue("boom", {})
    for _ in range(MAX_ATTEMPTS):
        assert runner.run_once() is not None
        state, error = queue.state(job_id)
        assert "disk on fire" in error
        queue.clock.moment += timedelta(hours=1)
    assert state == FAILED


def test_expired_lease_is_claimed_again(queue):
    first = queue.claim("node-a", ["k"], timedelta(minutes=1)) if queue.enqueue("k", {}) else None
    assert first is not None
    assert queue.claim("node-b", ["k"], timedelta(minutes=1)) is None
    queue.clock.moment += timedelta(minutes=2)
    again = queue.claim("node-b", ["k"], timedelta(minutes=1))
    assert again is not None and again.id == first.id and again.attempts == 2
    queue.finish(first, "node-a")  # the first owner's late finish must not count
    assert queue.state(first.id)[0] != DONE


def test_dedupe_key_keeps_one_job(queue):
    assert queue.enqueue("k", {}, dedupe_key="once") is not None
    assert queue.enqueue("k", {}, dedupe_key="once") is None


def test_schedule_enqueues_once_per_period(queue):
    runner = Runner(queue)
    ran = []
    runner.register("gc", lambda payload: ran.append(1))
    runner.schedule(Schedule("gc", timedelta(hours=1), {}))
    runner.enqueue_due()
    runner.enqueue_due()
    assert runner.drain() == 1
    queue.clock.moment += timedelta(hours=1)
    runner.enqueue_due()
    assert runner.drain() == 1
    assert ran == [1, 1]
