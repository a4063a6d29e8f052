"""The layer overlay: compression, whiteouts, opaque directories, replacements, links."""

from __future__ import annotations

import tarfile
from typing import IO, Any

import pytest

from dockyard.scanning.layers import LayerError, overlay

from .conftest import Member, layer


def keep_all(path: str, info: tarfile.TarInfo, f: IO[bytes] | None) -> Any:
    """A picker that keeps every file's content (and symlink targets)."""
    if f is None:
        return ("link", info.linkname)
    return f.read()


def files(*layers: tuple[str, list[bytes]]) -> dict[str, Any]:
    return {path: entry.value for path, entry in overlay(list(layers), keep_all).items()}


@pytest.mark.parametrize("how", ["gzip", "zstd", "none"])
def test_every_compression_is_read(how: str) -> None:
    got = files(layer([Member("etc"), Member("etc/a", b"A"), Member("./etc/b", b"B")], how))
    assert got == {"etc/a": b"A", "etc/b": b"B"}


def test_later_layers_replace_files() -> None:
    got = files(layer([Member("a", b"old"), Member("b", b"kept")]), layer([Member("a", b"new")]))
    assert got == {"a": b"new", "b": b"kept"}


def test_whiteout_deletes_a_file_and_a_directory_of_lower_layers() -> None:
    base = layer([Member("usr/lib/x.py", b"x"), Member("usr/lib/pkg/__init__.py", b"p"),
                  Member("usr/lib/pkg/sub/m.py", b"m"), Member("usr/lib/pkgother/y", b"y")])
    top = layer([Member("usr/lib/.wh.x.py", b""), Member("usr/lib/.wh.pkg", b"")])
    assert files(base, top) == {"usr/lib/pkgother/y": b"y"}


def test_whiteout_does_not_delete_a_file_of_its_own_layer() -> None:
    base = layer([Member("d/f", b"old")])
    top = layer([Member("d/f", b"new"), Member("d/.wh.f", b"")])
    assert files(base, top) == {"d/f": b"new"}


def test_opaque_directory_hides_lower_contents_only() -> None:
    base = layer([Member("app/old.txt", b"1"), Member("app/sub/deep.txt", b"2"),
                  Member("other/keep.txt", b"3")])
    top = layer([Member("app/new.txt", b"4"), Member("app/.wh..wh..opq", b"")])
    assert files(base, top) == {"app/new.txt": b"4", "other/keep.txt": b"3"}


def test_a_file_replacing_a_directory_hides_its_contents() -> None:
    base = layer([Member("opt/tool/bin", b"1"), Member("opt/tool/lib", b"2")])
    top = layer([Member("opt/tool", b"now a file")])
    assert files(base, top) == {"opt/tool": b"now a file"}


def test_deleting_then_recreating_in_a_later_layer() -> None:
    got = files(layer([Member("x", b"1")]), layer([Member(".wh.x", b"")]), layer([Member("x", b"3")]))
    assert got == {"x": b"3"}


def test_symlinks_and_hardlinks() -> None:
    got = files(layer([Member("usr/lib/os-release", b"ID=debian\n"),
                       Member("etc/os-release", link="../usr/lib/os-release"),
                       Member("bin/a", b"AAA"), Member("bin/b", hardlink="bin/a")]))
    assert got["etc/os-release"] == ("link", "../usr/lib/os-release")
    assert got["bin/b"] == b"AAA"


def test_the_picker_decides_what_is_kept() -> None:
    def only_txt(path: str, info: tarfile.TarInfo, f: IO[bytes] | None) -> Any:
        return f.read() if f is not None and path.endswith(".txt") else None

    result = overlay([layer([Member("a.txt", b"1"), Member("b.bin", b"2")])], only_txt)
    assert {p: e.value for p, e in result.items()} == {"a.txt": b"1"}


def test_the_layer_of_each_file_is_recorded() -> None:
    first, second = layer([Member("a", b"1")], name="sha256:1"), layer([Member("b", b"2")], name="sha256:2")
    result = overlay([first, second], keep_all)
    assert {p: e.layer for p, e in result.items()} == {"a": "sha256:1", "b": "sha256:2"}


def test_a_blob_that_is_not_a_tar_fails_clearly() -> None:
    with pytest.raises(LayerError):
        overlay([("sha256:bad", [b"this is not a tar archive at all" * 40])], keep_all)


def test_memory_stays_bounded_on_a_large_layer() -> None:
    """A 24 MiB layer of files nobody picks: the overlay keeps nothing of them."""
    import tracemalloc

    big = [Member(f"data/f{i}", b"\0" * (1024 * 1024)) for i in range(24)]
    name, chunks = layer(big, "gzip")
    tracemalloc.start()
    result = overlay([(name, iter(chunks))], lambda p, i, f: None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result == {}
    assert peak < 16 * 1024 * 1024, peak
