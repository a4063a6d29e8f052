"""The audit trail in SQL: inserts and queries only (the table is append-only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, or_, select

from dockyard.domain.audit import AuditRecord
from dockyard.metadata.engine import Database, retry_conflicts
from dockyard.metadata.tables import audit_log


@retry_conflicts
class SqlAuditStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, record: AuditRecord) -> None:
        self.append_many([record])

    def append_many(self, records: list[AuditRecord]) -> None:
        with self.db.write() as c:
            c.execute(insert(audit_log), [{
                "at": r.at, "event_source": r.event_source, "action": r.action,
                "decision": r.decision, "principal_arn": r.principal_arn,
                "access_key_id": r.access_key_id, "source_ip": r.source_ip,
                "user_agent": r.user_agent, "resource": r.resource,
                "error_code": r.error_code, "request_id": r.request_id} for r in records])

    def query(self, *, since: datetime | None = None, until: datetime | None = None,
              principal: str | None = None, action: str | None = None,
              limit: int | None = None) -> list[AuditRecord]:
        query = select(audit_log).order_by(audit_log.c.at, audit_log.c.id)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if until is not None:
            query = query.where(audit_log.c.at < until)
        if principal:
            query = query.where(or_(audit_log.c.principal_arn == principal,
                                    audit_log.c.principal_arn.endswith(f"/{principal}",
                                                                       autoescape=True),
                                    audit_log.c.principal_arn.contains(f"/{principal}/",
                                                                       autoescape=True)))
        if action:
            query = query.where(audit_log.c.action == action)
        if limit is not None:
            query = query.limit(limit)
        with self.db.read() as c:
            return [AuditRecord(r.at, r.event_source, r.action, r.decision, r.principal_arn,
                                r.access_key_id, r.source_ip, r.user_agent, r.resource,
                                r.error_code, r.request_id, r.id) for r in c.execute(query)]
