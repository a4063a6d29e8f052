"""``AuditLog``: every front door records who called what on which resource and the decision.

Records are appended, never changed. Nothing secret is recorded (no request parameters, no
signatures, tokens or passwords). A failure to write a record is logged and does not fail the
request it describes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from dockyard.domain.audit import ALLOW, DENY, AuditRecord
from dockyard.ports import Clock

log = logging.getLogger("dockyard.audit")

__all__ = ["ALLOW", "DENY", "AuditLog", "AuditStore"]


class AuditStore(Protocol):
    def append(self, record: AuditRecord) -> None: ...

    def append_many(self, records: list[AuditRecord]) -> None: ...

    def query(self, *, since: datetime | None, until: datetime | None, principal: str | None,
              action: str | None, limit: int | None) -> list[AuditRecord]: ...


class AuditLog:
    """The append-only trail. ``record`` writes at once; ``defer`` queues a record that the
    server's flush loop writes within about a second, in one transaction per batch, so hot paths
    (pulls) do not pay a database write each. Records still queued when a process is killed are
    lost; a clean shutdown flushes them."""

    FLUSH_SECONDS = 1.0
    MAX_PENDING = 10_000

    def __init__(self, store: AuditStore, clock: Clock,
                 account: Callable[[], str] = str, region: str = "") -> None:
        self.store = store
        self.clock = clock
        self._account = account
        self.region = region
        self._pending: list[AuditRecord] = []

    def defer(self, *, action: str, decision: str, event_source: str, **fields: str | None) -> None:
        self._pending.append(self._record(action, decision, event_source, **fields))
        if len(self._pending) >= self.MAX_PENDING:
            self.flush()

    def flush(self) -> int:
        batch, self._pending = self._pending, []
        if batch:
            try:
                self.store.append_many(batch)
            except Exception:  # noqa: BLE001 - the trail must not take the server down with it
                log.exception("could not write %d audit records", len(batch))
        return len(batch)

    async def flush_forever(self) -> None:
        try:
            while True:
                await asyncio.sleep(self.FLUSH_SECONDS)
                self.flush()
        finally:
            self.flush()

    def _record(self, action: str, decision: str, event_source: str, *,
                principal_arn: str | None = None, access_key_id: str | None = None,
                source_ip: str | None = None, user_agent: str | None = None,
                resource: str | None = None, error_code: str | None = None,
                request_id: str | None = None) -> AuditRecord:
        return AuditRecord(self.clock.now(), event_source, action, decision, principal_arn,
                           access_key_id, source_ip, (user_agent or "")[:512] or None,
                           (resource or "")[:2048] or None, error_code, request_id)

    def record(self, *, action: str, decision: str, event_source: str,
               principal_arn: str | None = None, access_key_id: str | None = None,
               source_ip: str | None = None, user_agent: str | None = None,
               resource: str | None = None, error_code: str | None = None,
               request_id: str | None = None) -> None:
        """Append one record. ``action`` is IAM's name (``ecr:PutImage``, ``iam:CreateUser``);
        ``decision`` is ``ALLOW`` or ``DENY``; ``error_code`` the AWS error code if it failed."""
        record = self._record(action, decision, event_source, principal_arn=principal_arn,
                              access_key_id=access_key_id, source_ip=source_ip,
                              user_agent=user_agent, resource=resource, error_code=error_code,
                              request_id=request_id)
        try:
            self.store.append(record)
        except Exception:  # noqa: BLE001 - the trail must not take the request down with it
            log.exception("could not write audit record action=%s request_id=%s", action,
                          request_id)

    def query(self, *, since: datetime | None = None, until: datetime | None = None,
              principal: str | None = None, action: str | None = None,
              limit: int | None = None) -> list[AuditRecord]:
        """Records oldest first; ``principal`` matches an ARN exactly or a user/role name."""
        return self.store.query(since=since, until=until, principal=principal, action=action,
                                limit=limit)

    def cloudtrail(self, record: AuditRecord) -> dict[str, object]:
        return record.cloudtrail(self.region, self._account())
