"""The console's sign-in back-off is one limit for the whole registry: two nodes (here two apps on
one data directory and database, as in test_nodes.py) count the same failures, and a success on
one clears the counters the other reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from starlette.testclient import TestClient

from dockyard.app import DockyardApp, bootstrap, build_services
from dockyard.console.signin import FREE_FAILURES
from dockyard.settings import Settings

from .test_console import Browser


class Clock:
    def __init__(self) -> None:
        self.moment = datetime.now(timezone.utc)

    def now(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def nodes(settings: Settings, clock: Clock) -> Iterator[tuple[Browser, Browser]]:
    bootstrap(settings)
    first = DockyardApp(build_services(settings, clock))
    second = DockyardApp(build_services(settings, clock))
    with TestClient(first) as a, TestClient(second) as b:
        yield Browser(a), Browser(b)


def test_failures_on_one_node_count_on_the_other(nodes: tuple[Browser, Browser],
                                                 clock: Clock) -> None:
    a, b = nodes
    for n in range(FREE_FAILURES):  # spread over both nodes
        response = (a if n % 2 == 0 else b).sign_in(secret="wrong")
        assert response.status_code == 401, (n, response.status_code)
    # each node has seen fewer than FREE_FAILURES failures, yet both back off
    for node in (a, b):
        response = node.sign_in()  # even the right secret is not checked
        assert response.status_code == 429, response.status_code
        assert 1 <= int(response.headers["retry-after"]) <= 2
    clock.advance(2)
    # a success on one node clears the counters the other reads ...
    response = b.sign_in()
    assert response.status_code == 200 and response.url.path == "/console/repositories"
    b.client.cookies.clear()  # signed out again
    # ... so counting starts again from zero on both
    for n in range(FREE_FAILURES):
        assert (a if n % 2 == 0 else b).sign_in(secret="wrong").status_code == 401
    assert a.sign_in(secret="wrong").status_code == 429


def test_the_name_tried_is_limited_across_nodes(nodes: tuple[Browser, Browser]) -> None:
    a, b = nodes
    for _ in range(FREE_FAILURES):
        assert a.sign_in(key_id="AKIAUNKNOWNKEY000000", secret="x").status_code == 401
    assert b.sign_in(key_id="AKIAUNKNOWNKEY000000", secret="x").status_code == 429
