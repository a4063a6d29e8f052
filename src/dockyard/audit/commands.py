"""``dockyard audit``: read the audit trail (optionally as CloudTrail-like JSON lines)."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import click

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``15m``, ``2h``, ``7d`` ago, or an ISO 8601 date/time (UTC unless it says otherwise)."""
    now = now or datetime.now(timezone.utc)
    match = _RELATIVE.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r}: use e.g. 30m, 12h, 7d or 2024-05-01T12:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@click.command("audit")
@click.option("--since", help="Only records from then on: 30m, 12h, 7d or an ISO 8601 time.")
@click.option("--until", help="Only records before then (same forms as --since).")
@click.option("--principal", help="A principal ARN, or a user or role name.")
@click.option("--action", help="An action, e.g. ecr:PutImage or iam:CreateUser.")
@click.option("--limit", type=int, help="At most this many records (oldest first).")
@click.option("--json", "as_json", is_flag=True, help="CloudTrail-like JSON, one record a line.")
def audit(since: str | None, until: str | None, principal: str | None, action: str | None,
          limit: int | None, as_json: bool) -> None:
    """Show the audit trail: who called what, on which resource, and what was decided."""
    from dockyard.app import bootstrap, open_identity
    from dockyard.audit.log import AuditLog
    from dockyard.metadata.audit_store import SqlAuditStore
    from dockyard.ports import SystemClock
    from dockyard.settings import Settings

    settings = Settings()
    bootstrap(settings)
    db, identity, _ = open_identity(settings)
    log = AuditLog(SqlAuditStore(db), SystemClock(), lambda: identity.registry.registry_id,
                   identity.registry.region)
    records = log.query(since=parse_since(since) if since else None,
                        until=parse_since(until) if until else None, principal=principal,
                        action=action, limit=limit)
    for record in records:
        if as_json:
            click.echo(json.dumps(log.cloudtrail(record), separators=(",", ":")))
        else:
            outcome = record.decision + (f" ({record.error_code})" if record.error_code else "")
            click.echo(f"{record.at.strftime('%Y-%m-%dT%H:%M:%SZ')}  {record.action:<32} "
                       f"{outcome:<24} {record.principal_arn or '-'}  {record.resource or '-'}  "
                       f"{record.source_ip or '-'}  {record.request_id or '-'}")
