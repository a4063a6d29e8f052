"""Shared builders for the lifecycle unit tests: policies as ECR documents, images as facts."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import Any

from dockyard.lifecycle.evaluation import ImageFacts
from dockyard.lifecycle.policy import LifecyclePolicy, parse_policy

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def digest(name: str) -> str:
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def image(name: str, *, days_ago: float, tags: tuple[str, ...] = (), pulled_days_ago: float | None = None,
          children: tuple[str, ...] = (), subject: str | None = None) -> ImageFacts:
    return ImageFacts(
        digest=digest(name), tags=tags, pushed_at=NOW - timedelta(days=days_ago),
        last_pulled_at=None if pulled_days_ago is None else NOW - timedelta(days=pulled_days_ago),
        media_type="application/vnd.oci.image.manifest.v1+json",
        subject=digest(subject) if subject else None,
        children=tuple(digest(c) for c in children))


def rule(priority: int, tag_status: str, count_type: str, count_number: int, *,
         prefixes: list[str] | None = None, patterns: list[str] | None = None,
         description: str | None = None, **extra: Any) -> dict[str, Any]:
    selection: dict[str, Any] = {"tagStatus": tag_status, "countType": count_type,
                                 "countNumber": count_number}
    if count_type != "imageCountMoreThan":
        selection["countUnit"] = "days"
    if prefixes is not None:
        selection["tagPrefixList"] = prefixes
    if patterns is not None:
        selection["tagPatternList"] = patterns
    selection.update(extra)
    doc: dict[str, Any] = {"rulePriority": priority, "selection": selection,
                           "action": {"type": "expire"}}
    if description is not None:
        doc["description"] = description
    return doc


def policy(*rules: dict[str, Any]) -> LifecyclePolicy:
    return parse_policy(json.dumps({"rules": list(rules)}))
