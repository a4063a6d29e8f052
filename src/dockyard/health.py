"""Liveness and readiness for load balancers and orchestrators.

``/healthz`` (liveness) answers 200 while the process serves requests; it checks nothing else, so
an outage of the database or of S3 does not get every node restarted. ``/readyz`` (readiness)
checks that this node can serve: the database answers a query and the blob store its cheapest
request (S3: HeadBucket; filesystem: its directories are writable), each within a timeout. It
answers 503 when a check fails, and while the node shuts down (so the balancer drains it). Details
of a failure go to the log, not to the unauthenticated caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

log = logging.getLogger("dockyard.health")


class Health:
    def __init__(self, checks: Mapping[str, Callable[[], None]], timeout: float = 5.0) -> None:
        self.checks = dict(checks)
        self.timeout = timeout
        self.draining = False

    async def ready(self) -> tuple[bool, dict[str, str]]:
        """(ready, {check: "ok" | "unavailable" | "draining"})."""
        results: dict[str, str] = {}
        if self.draining:
            results["node"] = "draining"
        for name, check in self.checks.items():
            try:
                await asyncio.wait_for(asyncio.to_thread(check), self.timeout)
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means not ready
                log.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
                results[name] = "unavailable"
        return all(v == "ok" for v in results.values()), results
