"""Console sessions, CSRF tokens, the sign-in back-off, and the push commands text."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from dockyard.console.push_commands import push_commands
from dockyard.console.sessions import ACCESS_KEY, SessionCodec
from dockyard.console.signin import (
    FORGET_AFTER,
    FREE_FAILURES,
    MAX_DELAY,
    PRUNE_EVERY,
    LoginThrottle,
    TooManyAttempts,
)
from dockyard.metadata.engine import Database, make_engine
from dockyard.metadata.login_throttle_store import SqlLoginFailureStore, hashed
from dockyard.metadata.migrate import upgrade
from dockyard.metadata.tables import login_failures

KEY = b"k" * 32
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.moment = T0

    def now(self) -> datetime:
        return self.moment

    def at(self, seconds: float) -> None:
        self.moment = T0 + timedelta(seconds=seconds)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    engine = make_engine(f"sqlite:///{tmp_path / 'throttle.db'}")
    upgrade(engine)
    try:
        yield Database(engine)
    finally:
        engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(db: Database, clock: Clock) -> LoginThrottle:
    return LoginThrottle(SqlLoginFailureStore(db), clock)


def test_a_session_round_trips_and_expires() -> None:
    codec = SessionCodec(KEY)
    session, cookie = codec.issue(ACCESS_KEY, "AKIAEXAMPLE", "AIDAEXAMPLE", 1000, ttl=60)
    assert codec.verify(cookie, 1059) == session
    assert codec.verify(cookie, 1060) is None


def test_a_changed_or_foreign_session_is_refused() -> None:
    codec = SessionCodec(KEY)
    _, cookie = codec.issue(ACCESS_KEY, "AKIAEXAMPLE", "AIDAEXAMPLE", 1000)
    payload, mac = cookie.split(".")
    assert SessionCodec(b"x" * 32).verify(cookie, 1001) is None
    assert codec.verify(payload + "." + mac[::-1], 1001) is None
    assert codec.verify(payload.replace("A", "B", 1) + "." + mac, 1001) is None
    assert codec.verify("garbage", 1001) is None and codec.verify(None, 1001) is None
    # a value signed for another purpose (a flash message) is not a session
    assert codec.verify(codec.sign("flash", {"m": "hi"}), 1001) is None


def test_csrf_tokens_are_bound_to_the_session() -> None:
    codec = SessionCodec(KEY)
    token = codec.csrf_token("nonce-1")
    assert codec.check_csrf("nonce-1", token)
    assert not codec.check_csrf("nonce-2", token)
    assert not codec.check_csrf("nonce-1", "") and not codec.check_csrf(None, token)


def test_failed_sign_ins_back_off_exponentially(throttle: LoginThrottle, clock: Clock) -> None:
    for _ in range(FREE_FAILURES - 1):
        throttle.check("ip:a", "key:k")
        throttle.failed("ip:a", "key:k")
    throttle.check("ip:a")
    throttle.failed("ip:a", "key:k")  # the FREE_FAILURES-th failure: wait 2 s
    with pytest.raises(TooManyAttempts) as raised:
        throttle.check("key:k")
    assert raised.value.wait == 2
    clock.at(2.0)
    throttle.check("key:k")
    throttle.failed("key:k")
    with pytest.raises(TooManyAttempts) as raised:
        throttle.check("key:k")
    assert raised.value.wait == 4
    for _ in range(20):
        throttle.failed("key:k")
    with pytest.raises(TooManyAttempts) as raised:
        throttle.check("key:k")
    assert raised.value.wait == MAX_DELAY
    throttle.succeeded("key:k")
    throttle.check("key:k")
    throttle.check("ip:other")


def test_the_wait_runs_from_the_last_failure(throttle: LoginThrottle, clock: Clock) -> None:
    for _ in range(FREE_FAILURES + 2):  # 8 s after the last one
        throttle.failed("user:alice")
    clock.at(5.5)
    with pytest.raises(TooManyAttempts) as raised:
        throttle.check("ip:a", "user:alice")
    assert raised.value.wait == 3  # rounded up
    clock.at(8.0)
    throttle.check("ip:a", "user:alice")


def test_a_success_clears_the_address_and_the_name(throttle: LoginThrottle, clock: Clock) -> None:
    for _ in range(FREE_FAILURES):
        throttle.failed("ip:a", "user:alice")
    throttle.succeeded("ip:a", "user:alice")
    throttle.check("ip:a", "user:alice")
    throttle.failed("ip:a", "user:alice")  # counting starts again
    throttle.check("ip:a", "user:alice")


def test_huge_counts_and_clocks_that_disagree_never_wait_beyond_the_cap(
        throttle: LoginThrottle, db: Database, clock: Clock) -> None:
    with db.write() as c:  # a count no exponent can take, and a failure stamped in the future
        c.execute(login_failures.insert().values(key=hashed("user:x"), failures=5000,
                                                 last_failure=T0 + timedelta(hours=1)))
        c.execute(login_failures.insert().values(key=hashed("user:y"), failures=1,
                                                 last_failure=T0 + timedelta(hours=1)))
    with pytest.raises(TooManyAttempts) as raised:
        throttle.check("user:x")
    assert raised.value.wait == MAX_DELAY
    throttle.check("user:y")  # below FREE_FAILURES: no wait whatever the clocks say


def test_names_are_stored_hashed(throttle: LoginThrottle, db: Database) -> None:
    throttle.failed("ip:192.0.2.7", "user:alice")
    with db.read() as c:
        rows = c.execute(select(login_failures)).all()
    assert sorted(r.key for r in rows) == sorted([hashed("ip:192.0.2.7"), hashed("user:alice")])
    assert all(len(r.key) == 64 and "alice" not in r.key for r in rows)
    assert {r.failures for r in rows} == {1} and all(r.last_failure == T0 for r in rows)


def test_idle_counters_are_forgotten(throttle: LoginThrottle, db: Database, clock: Clock) -> None:
    def stored() -> set[str]:
        with db.read() as c:
            return set(c.execute(select(login_failures.c.key)).scalars())

    throttle.failed("user:old")  # prunes (nothing yet), then not again for PRUNE_EVERY
    forget = FORGET_AFTER.total_seconds()
    clock.at(forget - 1)
    throttle.failed("user:recent")  # prunes: "user:old" has been idle just under FORGET_AFTER
    assert stored() == {hashed("user:old"), hashed("user:recent")}
    clock.at(forget + 1)
    throttle.failed("user:new")  # idle long enough, but the next pruning is not due yet
    assert hashed("user:old") in stored()
    clock.at(forget - 1 + PRUNE_EVERY.total_seconds())
    throttle.failed("user:new")
    assert stored() == {hashed("user:recent"), hashed("user:new")}


def test_push_commands_for_http_and_https() -> None:
    docker, podman = push_commands(repository="team/app", region="eu-west-1",
                                   endpoint="http://10.0.0.5:5000", host="10.0.0.5:5000")
    commands = [s.command for s in docker.steps]
    assert commands == [
        "aws ecr get-login-password --region eu-west-1 --endpoint-url http://10.0.0.5:5000 | "
        "docker login --username AWS --password-stdin 10.0.0.5:5000",
        "docker build -t team/app .",
        "docker tag team/app:latest 10.0.0.5:5000/team/app:latest",
        "docker push 10.0.0.5:5000/team/app:latest",
    ]
    assert any("insecure-registries" in n for n in docker.notes)
    assert "--tls-verify=false" in podman.steps[0].command
    assert podman.steps[3].command == "podman push --tls-verify=false 10.0.0.5:5000/team/app:latest"
    docker, podman = push_commands(repository="app", region="us-east-1",
                                   endpoint="https://registry.example.com",
                                   host="registry.example.com")
    assert not any("insecure" in n for n in docker.notes)
    assert all("tls-verify" not in s.command for s in podman.steps)
