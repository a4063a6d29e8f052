"""One audit trail record: who did what to which resource, and what was decided (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

ALLOW, DENY = "Allow", "Deny"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: datetime
    event_source: str  # iam.amazonaws.com | sts.amazonaws.com | ecr.amazonaws.com | registry
    action: str  # iam:CreateUser, ecr:BatchGetImage, ...
    decision: str  # Allow | Deny
    principal_arn: str | None = None
    access_key_id: str | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    resource: str | None = None
    error_code: str | None = None
    request_id: str | None = None
    id: int | None = None

    def cloudtrail(self, region: str, account: str) -> dict[str, Any]:
        """A CloudTrail-like event (the JSON line ``dockyard audit --json`` prints)."""
        service, _, name = self.action.partition(":")
        event: dict[str, Any] = {
            "eventVersion": "1.08",
            "eventTime": self.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": self.event_source,
            "eventName": name or service,
            "awsRegion": region,
            "sourceIPAddress": self.source_ip,
            "userAgent": self.user_agent,
            "userIdentity": {"arn": self.principal_arn, "accessKeyId": self.access_key_id,
                             "accountId": account},
            "requestID": self.request_id,
            "eventID": self.id,
            "resources": [{"ARN": self.resource}] if self.resource else [],
            "decision": self.decision,
            "recipientAccountId": account,
        }
        if self.error_code:
            event["errorCode"] = self.error_code
        return event
