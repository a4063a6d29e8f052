"""Storage accounting and quotas, for ``dockyard storage`` and ``dockyard quota``.

Per repository: its manifests plus the distinct blobs they reference (what its quota counts),
what it links (including blobs not referenced yet or any more, until garbage collection), and
what only it links (what ``DeleteRepository --force`` frees). For the registry: every blob once,
however many repositories share it.
"""

from __future__ import annotations

from collections.abc import Sequence

from dockyard.errors import InvalidParameter
from dockyard.metadata.usage_store import RegistryUsage, RepositoryUsage, SqlUsageStore
from dockyard.registry.repositories import RepositoryService

_UNITS = {"": 1, "B": 1, "K": 1000, "KB": 1000, "KIB": 1024, "M": 1000**2, "MB": 1000**2,
          "MIB": 1024**2, "G": 1000**3, "GB": 1000**3, "GIB": 1024**3, "T": 1000**4, "TB": 1000**4,
          "TIB": 1024**4}


def parse_size(text: str) -> int:
    """``500MiB``, ``2GB``, ``1024``: a byte count."""
    cleaned = text.strip().replace(" ", "").upper()
    number = cleaned.rstrip("BKMGTI")
    unit = cleaned[len(number):]
    try:
        value = float(number)
    except ValueError:
        raise InvalidParameter(f"not a size: {text!r} (examples: 500MiB, 2GB, 1048576)") from None
    if unit not in _UNITS or value < 0:
        raise InvalidParameter(f"not a size: {text!r} (examples: 500MiB, 2GB, 1048576)")
    return int(value * _UNITS[unit])


class StorageUsage:
    def __init__(self, store: SqlUsageStore, repos: RepositoryService) -> None:
        self.store = store
        self.repos = repos

    def repositories(self, names: Sequence[str] | None = None) -> list[RepositoryUsage]:
        found = self.store.repositories(names)
        if names:
            missing = sorted(set(names) - {u.name for u in found})
            if missing:
                raise self.repos.not_found(missing[0])
        return found

    def registry(self) -> RegistryUsage:
        return self.store.registry()

    def set_quota(self, name: str, *, max_bytes: int | None, max_images: int | None,
                  ) -> RepositoryUsage:
        repo = self.repos.store.get_repository(name)
        if repo is None:
            raise self.repos.not_found(name)
        for value in (max_bytes, max_images):
            if value is not None and value < 0:
                raise InvalidParameter("a quota cannot be negative")
        self.store.set_quota(repo.id, max_bytes, max_images)
        return self.store.repositories([name])[0]
