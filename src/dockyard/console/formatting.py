"""Template filters: sizes, times, digests."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from dockyard.domain import sizes

IMAGE_CONFIGS = ("application/vnd.oci.image.config.v1+json",
                 "application/vnd.docker.container.image.v1+json")
SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")


def human_bytes(size: int | None) -> str:
    return "–" if size is None else sizes.human_bytes(size)


def when(moment: datetime | None) -> str:
    """``2024-05-01 12:03:04 UTC``; a dash for never."""
    if moment is None:
        return "–"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def short_digest(digest: str | None) -> str:
    if not digest:
        return ""
    algorithm, _, hexpart = digest.partition(":")
    return f"{algorithm}:{hexpart[:12]}"


def path(text: str) -> str:
    """A repository name or digest inside a URL path (slashes kept: names have them)."""
    return quote(text, safe="/:@")


def query(base: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**base, **changes}.items() if v not in (None, "")}
    return "?" + urlencode(merged) if merged else ""


def severity_class(severity: str) -> str:
    return "sev-" + severity.lower()


FILTERS = {"bytes": human_bytes, "when": when, "iso": iso, "short_digest": short_digest,
           "path": path, "severity_class": severity_class}
