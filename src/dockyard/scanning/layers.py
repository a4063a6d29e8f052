"""Image layers, streamed: decompression (gzip, zstd, none) and the OCI layer overlay.

Layers are read once, in order, as tar streams straight from the blob store; nothing is unpacked
to disk. For each entry a *picker* decides whether the file matters (a package database, a
``METADATA`` file, an executable) and returns what it parsed from it; only those parsed values
are kept, so memory depends on what is installed, not on layer sizes.

The overlay follows the OCI image layer rules: an entry in a later layer replaces the same path
in earlier layers; ``.wh.<name>`` deletes ``<name>`` (and what is under it) from earlier layers;
``.wh..wh..opq`` in a directory hides everything earlier layers put in that directory; a
non-directory entry where earlier layers had a directory hides what was under it. Whiteouts act
on earlier layers only, never on entries of their own layer.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import zstandard

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class LayerError(ValueError):
    """A layer that is not a (compressed) tar stream."""


@dataclass(frozen=True, slots=True)
class Entry:
    value: Any
    layer: str  # digest of the layer the file came from


# picker(path, tarinfo, file or None for links) -> parsed value to keep, or None to ignore
Picker = Callable[[str, tarfile.TarInfo, IO[bytes] | None], Any]


class _ChunkStream(io.RawIOBase):
    """A readable byte stream over an iterator of chunks (the blob store's ``read``)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:  # type: ignore[override]
        while not self._buffer:
            try:
                self._buffer = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def open_layer(chunks: Iterable[bytes]) -> IO[bytes]:
    """The uncompressed tar stream of a layer, whatever its compression (sniffed, not trusted
    from the media type: docker pushes gzip under ``tar`` types at times)."""
    raw = io.BufferedReader(_ChunkStream(chunks), buffer_size=1024 * 1024)
    magic = raw.peek(4)[:4]
    if magic[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if magic == ZSTD_MAGIC:
        reader = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)
        return io.BufferedReader(reader, buffer_size=1024 * 1024)  # type: ignore[arg-type]
    return raw


def clean_path(name: str) -> str:
    """A tar member name as an image path: no leading ``./`` or ``/``, normalised."""
    path = posixpath.normpath("/" + name).lstrip("/")
    return "" if path == "." else path


def _parent(path: str) -> str:
    return posixpath.dirname(path)


class Overlay:
    """The union of the picked files of the layers applied so far."""

    def __init__(self) -> None:
        self.files: dict[str, Entry] = {}
        self._dirs: dict[str, int] = {}  # directory -> number of kept files under it

    def _index(self, path: str, delta: int) -> None:
        parent = _parent(path)
        while parent:
            count = self._dirs.get(parent, 0) + delta
            if count:
                self._dirs[parent] = count
            else:
                self._dirs.pop(parent, None)
            parent = _parent(parent)

    def remove(self, path: str) -> None:
        if self.files.pop(path, None) is not None:
            self._index(path, -1)

    def remove_under(self, directory: str) -> None:
        if directory and directory not in self._dirs:
            return
        prefix = directory + "/" if directory else ""
        for path in [p for p in self.files if p.startswith(prefix)]:
            self.remove(path)

    def has_dir(self, path: str) -> bool:
        return path in self._dirs

    def put(self, path: str, entry: Entry) -> None:
        if path not in self.files:
            self._index(path, 1)
        self.files[path] = entry

    def apply(self, stream: IO[bytes], layer: str, pick: Picker) -> None:
        """Apply one uncompressed layer tar stream on top."""
        added: dict[str, Entry] = {}
        gone: list[str] = []  # paths deleted in lower layers
        gone_under: list[str] = []  # directories whose lower contents are hidden
        try:
            tar = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - closed below
        except tarfile.TarError as exc:
            raise LayerError(f"layer {layer} is not a tar stream: {exc}") from None
        try:
            for info in tar:
                path = clean_path(info.name)
                if not path:
                    continue
                name = posixpath.basename(path)
                if name == OPAQUE:
                    gone_under.append(_parent(path))
                    continue
                if name.startswith(WHITEOUT):
                    target = posixpath.join(_parent(path), name[len(WHITEOUT):])
                    gone.append(target)
                    gone_under.append(target)
                    continue
                if path in self.files:
                    gone.append(path)  # replaced (by a file, a link or a directory)
                if not info.isdir():
                    if self.has_dir(path):
                        gone_under.append(path)  # a file now stands where a directory was
                    added.pop(path, None)
                if info.isfile():
                    value = pick(path, info, tar.extractfile(info))
                elif info.issym():
                    value = pick(path, info, None)
                elif info.islnk():
                    source = clean_path(info.linkname)
                    entry = added.get(source) or self.files.get(source)
                    if entry is not None:
                        added[path] = entry
                    continue
                else:
                    continue
                if value is not None:
                    added[path] = Entry(value, layer)
        except tarfile.TarError as exc:
            raise LayerError(f"layer {layer}: {exc}") from None
        finally:
            tar.close()
        for path in gone:
            self.remove(path)
        for directory in gone_under:
            self.remove_under(directory)
        for path, entry in added.items():
            self.put(path, entry)


def overlay(layers: Iterable[tuple[str, Iterable[bytes]]], pick: Picker) -> dict[str, Entry]:
    """Apply ``layers`` ((digest, chunks) in manifest order) and return the picked files that
    survive in the final filesystem."""
    result = Overlay()
    for digest, chunks in layers:
        stream = open_layer(chunks)
        try:
            result.apply(stream, digest, pick)
        except (OSError, EOFError, zstandard.ZstdError) as exc:
            raise LayerError(f"layer {digest} cannot be read: {exc}") from None
        finally:
            stream.close()
    return result.files
