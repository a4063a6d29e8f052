"""Go build information of ELF executables, read from a stream (the ``debug/buildinfo`` format).

The Go linker embeds a 32-byte header starting with ``\\xff Go buildinf:`` (16-byte aligned) in the
executable's writable data: in the ``.go.buildinfo`` section, which lies in a writable, non-
executable ``PT_LOAD`` segment. Since Go 1.18 the header is followed by two varint-length strings:
the toolchain version (``go1.21.5``) and the module information (``path``, ``mod``, ``dep`` and
``=>`` replacement lines between two 16-byte sentinels). The reader parses the ELF header and
program headers at the start of the file, skips to the writable segments and searches them, so
it needs no seeking and keeps at most a window of bytes in memory. Binaries from Go before 1.18
(pointers to the strings instead of inline strings) are reported as unsupported.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import IO

ELF_MAGIC = b"\x7fELF"
BUILDINFO_MAGIC = b"\xff Go buildinf:"
ALIGN = 16
HEADER = 32
PT_LOAD, PF_X, PF_W = 1, 1, 2
CHUNK = 1024 * 1024
MAX_STRINGS = 4 * 1024 * 1024  # version + module info
FLAG_INLINE = 0x2


class UnsupportedGoBinary(ValueError):
    """A Go binary whose build information this reader cannot read (Go < 1.18)."""


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    version: str
    sum: str = ""
    replaced_by: "Module | None" = None


@dataclass(frozen=True, slots=True)
class BuildInfo:
    go_version: str  # as embedded: go1.21.5
    path: str = ""  # main package path
    main: Module | None = None
    deps: tuple[Module, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)


class _Reader:
    """Forward-only reads with a position."""

    def __init__(self, f: IO[bytes]) -> None:
        self.f = f
        self.pos = 0

    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        self.pos += len(data)
        return data

    def skip_to(self, offset: int) -> bool:
        while self.pos < offset:
            data = self.read(min(CHUNK, offset - self.pos))
            if not data:
                return False
        return self.pos == offset


def is_elf(head: bytes) -> bool:
    return head[:4] == ELF_MAGIC


def read(f: IO[bytes]) -> BuildInfo | None:
    """The build information of the ELF executable streamed by ``f``; None if it is not a Go
    binary (or not ELF)."""
    reader = _Reader(f)
    ident = reader.read(64)
    if len(ident) < 52 or not is_elf(ident):
        return None
    is64 = ident[4] == 2
    endian = "<" if ident[5] == 1 else ">"
    if is64:
        phoff, = struct.unpack_from(endian + "Q", ident, 32)
        phentsize, phnum = struct.unpack_from(endian + "HH", ident, 54)
    else:
        phoff, = struct.unpack_from(endian + "I", ident, 28)
        phentsize, phnum = struct.unpack_from(endian + "HH", ident, 42)
    if not phnum or phentsize < (56 if is64 else 32) or phoff < reader.pos - len(ident):
        return None
    head = ident
    end = phoff + phentsize * phnum
    if end > 1024 * 1024:
        return None
    if end > len(head):
        head += reader.read(end - len(head))
    segments: list[tuple[int, int, int]] = []  # (file offset, file size, vaddr)
    for i in range(phnum):
        base = phoff + i * phentsize
        if is64:
            p_type, p_flags, p_offset, p_vaddr, _p_paddr, p_filesz = struct.unpack_from(
                endian + "IIQQQQ", head, base)
        else:
            p_type, p_offset, p_vaddr, _p_paddr, p_filesz, _memsz, p_flags = struct.unpack_from(
                endian + "IIIIIII", head, base)
        if p_type == PT_LOAD and p_flags & (PF_X | PF_W) == PF_W and p_filesz:
            segments.append((p_offset, p_filesz, p_vaddr))
    for offset, size, vaddr in sorted(segments):
        if offset < reader.pos:
            continue
        if not reader.skip_to(offset):
            return None
        found = _search(reader, offset, size, vaddr)
        if found is not None:
            return found
    return None


def _search(reader: _Reader, offset: int, size: int, vaddr: int) -> BuildInfo | None:
    """Look for the build info header in the segment [offset, offset + size)."""
    window = b""
    window_start = offset  # file offset of window[0]
    end = offset + size
    while reader.pos < end or window:
        if reader.pos < end:
            data = reader.read(min(CHUNK, end - reader.pos))
            if not data:
                end = reader.pos
            window += data
        start = 0
        while True:
            i = window.find(BUILDINFO_MAGIC, start)
            if i < 0:
                break
            if (vaddr + window_start - offset + i) % ALIGN == 0:
                needed = i + HEADER + 10
                while len(window) < needed + MAX_STRINGS and reader.pos < end:
                    more = reader.read(min(CHUNK, end - reader.pos))
                    if not more:
                        break
                    window += more
                info = _decode(window[i:])
                if info is not None:
                    return info
            start = i + 1
        if reader.pos >= end:
            return None
        keep = len(BUILDINFO_MAGIC) - 1
        window_start += len(window) - keep
        window = window[-keep:]
    return None


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            break
    raise ValueError("bad varint")


def _decode(blob: bytes) -> BuildInfo | None:
    if len(blob) < HEADER:
        return None
    ptr_size, flags = blob[14], blob[15]
    if ptr_size not in (4, 8):
        return None
    if not flags & FLAG_INLINE:
        raise UnsupportedGoBinary("Go build info from before Go 1.18 (not inline) is not supported")
    try:
        n, pos = _uvarint(blob, HEADER)
        version = blob[pos:pos + n].decode("utf-8", "replace")
        pos += n
        n, pos = _uvarint(blob, pos)
        modinfo = blob[pos:pos + n]
    except ValueError:
        return None
    if not version.startswith(("go", "devel")) or len(modinfo) < n:
        return None
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        modinfo = modinfo[16:-16]
    else:
        modinfo = b""
    return parse_modinfo(version, modinfo.decode("utf-8", "replace"))


def parse_modinfo(version: str, text: str) -> BuildInfo:
    """The ``runtime/debug.BuildInfo.String`` text format."""
    path = ""
    main: Module | None = None
    deps: list[Module] = []
    settings: dict[str, str] = {}
    last: str | None = None  # "main" | "dep"
    for line in text.splitlines():
        fields = line.split("\t")
        kind = fields[0]
        if kind == "path" and len(fields) >= 2:
            path = fields[1]
        elif kind in ("mod", "dep") and len(fields) >= 3:
            module = Module(fields[1], fields[2], fields[3] if len(fields) > 3 else "")
            if kind == "mod":
                main, last = module, "main"
            else:
                deps.append(module)
                last = "dep"
        elif kind == "=>" and len(fields) >= 2:
            replacement = Module(fields[1], fields[2] if len(fields) > 2 else "",
                                 fields[3] if len(fields) > 3 else "")
            if last == "dep" and deps:
                deps[-1] = Module(deps[-1].path, deps[-1].version, deps[-1].sum, replacement)
            elif last == "main" and main is not None:
                main = Module(main.path, main.version, main.sum, replacement)
        elif kind == "build" and len(fields) >= 2:
            key, _, value = fields[1].partition("=")
            settings[key] = value
    return BuildInfo(version.split()[0] if version.strip() else version, path, main, tuple(deps),
                     settings)
