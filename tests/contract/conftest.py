"""Contract suites: one suite per port, run over every driver (docs/architecture.md, "Tests").

The real engines (PostgreSQL, Ceph RGW) start once per session, each in a temporary directory;
each test gets a fresh database or a fresh bucket. Without the engines' packages those tests skip
(``make system-tools`` installs them), except under ``DOCKYARD_E2E_REQUIRED=1``, where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .engines import CephRgw, Postgres, missing


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    reason = Postgres.available()
    if reason:
        missing(reason)
    server = Postgres().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ceph() -> Iterator[CephRgw]:
    reason = CephRgw.available()
    if reason:
        missing(reason)
    server = CephRgw().start()
    try:
        yield server
    finally:
        server.stop()
