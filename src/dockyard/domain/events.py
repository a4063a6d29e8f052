"""Domain events: what the core tells features (scanning, lifecycle, GC) without knowing them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ImagePushed:
    """A manifest was stored in a repository, or a tag moved to it."""

    repository: str
    repository_id: int
    digest: str
    media_type: str
    tag: str | None
    new_manifest: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class ImageDeleted:
    repository: str
    repository_id: int
    digest: str
    at: datetime


@dataclass(frozen=True, slots=True)
class RepositoryDeleted:
    repository: str
    repository_id: int
    at: datetime
