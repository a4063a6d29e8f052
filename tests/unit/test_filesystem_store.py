"""dockyard.storage.filesystem: content-addressed blobs and upload buffers on a local disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.domain.digest import Digest
from dockyard.storage.filesystem import CHUNK, FilesystemBlobStore


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path)


def _read(store: FilesystemBlobStore, digest: Digest, start: int = 0, end: int | None = None) -> bytes:
    return b"".join(store.read(digest, start, end))


def test_layout(store: FilesystemBlobStore, tmp_path: Path) -> None:
    for sub in ("blobs", "uploads", "tmp"):
        assert (tmp_path / sub).is_dir()
    d = Digest.of(b"x")
    assert store.local_path(d) == tmp_path / "blobs" / "sha256" / d.hex[:2] / d.hex


def test_put_and_read(store: FilesystemBlobStore) -> None:
    data = os.urandom(10_000)
    d = Digest.of(data)
    assert not store.exists(d)
    assert store.size(d) is None
    store.put(d, data)
    assert store.exists(d)
    assert store.size(d) == len(data)
    assert _read(store, d) == data
    assert store.local_path(d).read_bytes() == data


def test_put_sha512(store: FilesystemBlobStore) -> None:
    data = b"sha512 blob"
    d = Digest.of(data, "sha512")
    store.put(d, data)
    assert _read(store, d) == data
    assert "sha512" in store.local_path(d).parts
    assert not store.exists(Digest.of(data))


@pytest.mark.parametrize("start,end", [(0, None), (0, 10), (10, None), (5, 6), (0, 0), (999, 1000),
                                       (999, None), (1000, None), (500, 5000)])
def test_read_ranges(store: FilesystemBlobStore, start: int, end: int | None) -> None:
    data = bytes(range(250)) * 4
    d = Digest.of(data)
    store.put(d, data)
    assert _read(store, d, start, end) == data[start:end]


def test_large_reads_come_in_chunks(store: FilesystemBlobStore) -> None:
    data = os.urandom(2 * CHUNK + 123)
    d = Digest.of(data)
    store.put(d, data)
    chunks = list(store.read(d))
    assert len(chunks) == 3
    assert all(len(c) <= CHUNK for c in chunks)
    assert b"".join(chunks) == data
    assert b"".join(store.read(d, CHUNK - 1, CHUNK + 1)) == data[CHUNK - 1:CHUNK + 1]


def test_read_of_a_missing_blob_raises(store: FilesystemBlobStore) -> None:
    with pytest.raises(FileNotFoundError):
        _read(store, Digest.of(b"missing"))


def test_put_is_idempotent(store: FilesystemBlobStore) -> None:
    d = Digest.of(b"same")
    store.put(d, b"same")
    mtime = store.local_path(d).stat().st_mtime_ns
    store.put(d, b"same")
    assert store.local_path(d).stat().st_mtime_ns == mtime
    assert _read(store, d) == b"same"


def test_put_leaves_no_temporary_files(store: FilesystemBlobStore, tmp_path: Path) -> None:
    for i in range(5):
        data = f"blob {i}".encode()
        store.put(Digest.of(data), data)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_delete(store: FilesystemBlobStore) -> None:
    d = Digest.of(b"doomed")
    store.put(d, b"doomed")
    assert store.delete(d) is True
    assert not store.exists(d)
    assert store.size(d) is None
    assert store.delete(d) is False


def test_empty_blob(store: FilesystemBlobStore) -> None:
    d = Digest.of(b"")
    store.put(d, b"")
    assert store.exists(d)
    assert store.size(d) == 0
    assert _read(store, d) == b""


# --- uploads ------------------------------------------------------------------------------------
def _append(store: FilesystemBlobStore, upload_id: str, offset: int, data: bytes) -> None:
    with store.open_upload(upload_id, offset) as f:
        f.write(data)


def test_upload_append_and_commit(store: FilesystemBlobStore, tmp_path: Path) -> None:
    store.create_upload("u1")
    _append(store, "u1", 0, b"hello ")
    _append(store, "u1", 6, b"world")
    assert b"".join(store.read_upload("u1")) == b"hello world"
    assert b"".join(store.read_upload("u1", 6, 11)) == b"world"
    d = Digest.of(b"hello world")
    store.commit_upload("u1", d, 11)
    assert _read(store, d) == b"hello world"
    assert not (tmp_path / "uploads" / "u1").exists()


def test_no_blob_is_visible_before_commit(store: FilesystemBlobStore) -> None:
    data = b"in progress"
    d = Digest.of(data)
    store.create_upload("u2")
    _append(store, "u2", 0, data)
    assert not store.exists(d)
    assert store.size(d) is None
    assert not store.local_path(d).exists()


def test_reopen_truncates_bytes_beyond_the_recorded_offset(store: FilesystemBlobStore) -> None:
    store.create_upload("u3")
    _append(store, "u3", 0, b"0123456789")
    # a crash left "56789" that the metadata never recorded: continuing at 5 cuts them off
    _append(store, "u3", 5, b"abc")
    assert b"".join(store.read_upload("u3")) == b"01234abc"
    d = Digest.of(b"01234abc")
    store.commit_upload("u3", d, 8)
    assert _read(store, d) == b"01234abc"


def test_commit_cuts_the_upload_to_the_given_size(store: FilesystemBlobStore) -> None:
    store.create_upload("u4")
    _append(store, "u4", 0, b"abcdefXYZ")
    d = Digest.of(b"abcdef")
    store.commit_upload("u4", d, 6)
    assert _read(store, d) == b"abcdef"
    assert store.size(d) == 6


def test_commit_of_an_existing_blob_deduplicates(store: FilesystemBlobStore, tmp_path: Path) -> None:
    data = b"already here"
    d = Digest.of(data)
    store.put(d, data)
    inode = store.local_path(d).stat().st_ino
    store.create_upload("u5")
    _append(store, "u5", 0, data)
    store.commit_upload("u5", d, len(data))
    assert store.local_path(d).stat().st_ino == inode
    assert _read(store, d) == data
    # the upload keeps its bytes until it is deleted (linking may still need them)
    assert (tmp_path / "uploads" / "u5").exists()
    store.delete_upload("u5")
    assert not (tmp_path / "uploads" / "u5").exists()


def test_delete_upload(store: FilesystemBlobStore, tmp_path: Path) -> None:
    store.create_upload("u6")
    _append(store, "u6", 0, b"bytes")
    store.delete_upload("u6")
    assert not (tmp_path / "uploads" / "u6").exists()
    store.delete_upload("u6")  # twice is fine
    store.delete_upload("never-created")


def test_empty_upload_commit(store: FilesystemBlobStore) -> None:
    store.create_upload("u7")
    d = Digest.of(b"")
    store.commit_upload("u7", d, 0)
    assert store.exists(d)
    assert _read(store, d) == b""


def test_concurrent_uploads_are_independent(store: FilesystemBlobStore) -> None:
    store.create_upload("a")
    store.create_upload("b")
    _append(store, "a", 0, b"AAAA")
    _append(store, "b", 0, b"BB")
    _append(store, "a", 4, b"aa")
    assert b"".join(store.read_upload("a")) == b"AAAAaa"
    assert b"".join(store.read_upload("b")) == b"BB"


def test_store_reopens_on_the_same_root(tmp_path: Path) -> None:
    first = FilesystemBlobStore(tmp_path)
    d = Digest.of(b"persistent")
    first.put(d, b"persistent")
    second = FilesystemBlobStore(tmp_path)
    assert second.exists(d)
    assert _read(second, d) == b"persistent"
