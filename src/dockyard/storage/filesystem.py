"""Filesystem BlobStore: content-addressed files under ``<root>/blobs``, uploads under ``<root>/uploads``.

Crash safety: bytes land in an upload (or temporary) file; a blob becomes visible only by an atomic
rename after its digest was verified and its bytes fsynced, so a crash at any moment leaves either
no blob or a complete one. The metadata row of an upload is authoritative for its length: bytes a
crash left beyond it are cut off when the upload continues.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from dockyard.domain.digest import Digest
from dockyard.domain.models import StoredParts
from dockyard.errors import DockyardError, UploadInvalid

CHUNK = 1024 * 1024


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._tmp = root / "tmp"
        self._trash = root / "trash"  # blobs the garbage collector is taking away
        for path in (self._blobs, self._uploads, self._tmp):
            path.mkdir(parents=True, exist_ok=True)

    # --- blobs ------------------------------------------------------------------------------------
    def local_path(self, digest: Digest) -> Path:
        return self._blobs / digest.algorithm / digest.hex[:2] / digest.hex

    def exists(self, digest: Digest) -> bool:
        return self.local_path(digest).is_file()

    def size(self, digest: Digest) -> int | None:
        try:
            return self.local_path(digest).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, digest: Digest, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes [start, end) of a blob, in chunks."""
        with open(self.local_path(digest), "rb") as f:
            yield from _chunks(f, start, end)

    def put(self, digest: Digest, data: bytes) -> None:
        """Store bytes already verified to have ``digest``."""
        if self.exists(digest):
            return
        tmp = self._tmp / uuid.uuid4().hex
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self._publish(tmp, digest)

    def delete(self, digest: Digest) -> bool:
        try:
            self.local_path(digest).unlink()
            return True
        except FileNotFoundError:
            return False

    def download_url(self, digest: Digest, expires_in: int) -> None:
        """No URL elsewhere: the registry serves the file itself (zero-copy)."""
        return None

    def check(self) -> None:
        """Readiness: the directories exist and take new files."""
        for path in (self._blobs, self._uploads, self._tmp):
            if not os.access(path, os.W_OK | os.X_OK):
                raise OSError(f"{path} is not writable")

    def _publish(self, source: Path, digest: Digest) -> None:
        target = self.local_path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
        _fsync_dir(target.parent)

    # --- uploads ----------------------------------------------------------------------------------
    def _upload_path(self, upload_id: str) -> Path:
        return self._uploads / upload_id

    def create_upload(self, upload_id: str) -> None:
        self._upload_path(upload_id).touch()

    def open_upload(self, upload_id: str, offset: int) -> BinaryIO:
        """Open an upload for appending at ``offset`` (bytes after it, left by a crash, are cut)."""
        f = open(self._upload_path(upload_id), "r+b")
        f.truncate(offset)
        f.seek(offset)
        return f

    def append_upload(self, upload_id: str, offset: int,
                      stored: StoredParts | None = None) -> "_FileAppender":
        return _FileAppender(self.open_upload(upload_id, offset))

    def verify_upload(self, upload_id: str, size: int, stored: StoredParts | None,
                      digest: Digest) -> bool:
        """Whether bytes [0, size) of an upload have ``digest`` (read back from the file)."""
        hasher = digest.hasher()
        for chunk in self.read_upload(upload_id, 0, size):
            hasher.update(chunk)
        return hasher.hexdigest() == digest.hex

    def read_upload(self, upload_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        with open(self._upload_path(upload_id), "rb") as f:
            yield from _chunks(f, start, end)

    def commit_upload(self, upload_id: str, digest: Digest, size: int,
                      stored: StoredParts | None = None) -> None:
        """Make bytes [0, size) of an upload the blob ``digest`` (already verified)."""
        path = self._upload_path(upload_id)
        if self.exists(digest):
            return  # dedup; the upload's bytes stay until the upload is deleted
        try:
            with open(path, "r+b") as f:
                f.truncate(size)
                os.fsync(f.fileno())
        except FileNotFoundError:
            raise UploadInvalid("the upload's stored bytes are missing; start it again") from None
        self._publish(path, digest)

    def delete_upload(self, upload_id: str, stored: StoredParts | None = None) -> None:
        """Delete the upload's file (what ``stored`` would record is always that file here)."""
        self._upload_path(upload_id).unlink(missing_ok=True)

    # --- garbage collection (gc/collector.py decides; these only move files) --------------------
    def stored_blobs(self) -> Iterator[tuple[Digest, int, float]]:
        """Every blob file: (digest, size, time of its last change, from mtime or ctime)."""
        for algorithm in sorted(p for p in self._blobs.iterdir() if p.is_dir()):
            for prefix in sorted(p for p in algorithm.iterdir() if p.is_dir()):
                for path in sorted(prefix.iterdir()):
                    digest = _digest_or_none(f"{algorithm.name}:{path.name}")
                    if digest is None:
                        continue
                    try:
                        st = path.stat()
                    except FileNotFoundError:
                        continue
                    yield digest, st.st_size, max(st.st_mtime, st.st_ctime)

    def changed_at(self, digest: Digest) -> float | None:
        """When the blob's file last changed (as ``stored_blobs`` reports it); None if absent."""
        try:
            st = self.local_path(digest).stat()
        except FileNotFoundError:
            return None
        return max(st.st_mtime, st.st_ctime)

    def trash(self, digest: Digest) -> str | None:
        """Move a blob out of sight, atomically; the token restores or drops it. None if absent."""
        token = f"{digest.algorithm}-{digest.hex}-{uuid.uuid4().hex[:12]}"
        self._trash.mkdir(exist_ok=True)
        try:
            os.rename(self.local_path(digest), self._trash / token)
        except FileNotFoundError:
            return None
        return token

    def restore(self, token: str) -> bool:
        """Put a trashed blob back (unless the blob was stored again meanwhile); True if it was."""
        digest = trash_digest(token)
        target = self.local_path(digest)
        if target.exists():
            self.drop(token)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(self._trash / token, target)
        return True

    def drop(self, token: str) -> None:
        (self._trash / token).unlink(missing_ok=True)

    def trashed(self) -> list[tuple[str, Digest]]:
        """(token, digest) of every trashed blob."""
        names = sorted(p.name for p in self._trash.iterdir()) if self._trash.exists() else []
        return [(name, trash_digest(name)) for name in names]

    def stored_uploads(self) -> Iterator[tuple[str, int, float]]:
        """Every upload buffer: (upload id, size, time of its last write)."""
        for path in sorted(self._uploads.iterdir()):
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            yield path.name, st.st_size, st.st_mtime

    def remove_temporaries(self, older_than: float) -> int:
        """Delete temporary files (left by crashed writes) last changed before ``older_than``."""
        removed = 0
        for path in list(self._tmp.iterdir()):
            try:
                if path.stat().st_mtime < older_than:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


class _FileAppender:
    """Appends go straight to the upload file (no fsync: the row says how many bytes count)."""

    __slots__ = ("_file",)

    def __init__(self, file: BinaryIO) -> None:
        self._file = file

    async def write(self, data: bytes) -> None:
        self._file.write(data)

    async def close(self) -> None:
        self._file.close()

    async def recorded(self) -> None:
        """Nothing replaced: the file is appended to in place."""

    async def abort(self) -> None:
        self._file.close()


def trash_digest(token: str) -> Digest:
    algorithm, hex_digest, _ = token.rsplit("-", 2)
    return Digest.parse(f"{algorithm}:{hex_digest}")


def _digest_or_none(text: str) -> Digest | None:
    try:
        return Digest.parse(text)
    except DockyardError:
        return None


def _chunks(f: BinaryIO, start: int, end: int | None) -> Iterator[bytes]:
    f.seek(start)
    remaining = None if end is None else end - start
    while remaining is None or remaining > 0:
        data = f.read(CHUNK if remaining is None else min(CHUNK, remaining))
        if not data:
            return
        if remaining is not None:
            remaining -= len(data)
        yield data


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
