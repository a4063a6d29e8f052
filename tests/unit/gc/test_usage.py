"""Storage accounting and quotas on a real registry."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidParameter, QuotaExceeded
from dockyard.gc.usage import parse_size

from .registry import image, index

BASE = b"base layer shared by everything " * 100


def size_of(img) -> int:
    return sum(len(b) for b in img.blobs.values())


def test_shared_layers_count_once_for_the_registry(registry):
    registry.create("team/other")
    a, b = image("a", BASE), image("b", BASE)
    registry.push("team/app", a, "a")
    registry.push("team/other", b, "b")
    usage = {u.name: u for u in registry.services.usage.repositories()}
    assert usage["team/app"].stored_bytes == size_of(a) + len(a.manifest)
    assert usage["team/other"].stored_bytes == size_of(b) + len(b.manifest)
    assert usage["team/app"].exclusive_bytes == size_of(a) - len(BASE)
    total = registry.services.usage.registry()
    assert total.blob_bytes == size_of(a) + size_of(b) - len(BASE)
    assert total.images == 2 and total.blobs == 5 and total.repositories == 2


def test_an_index_and_its_children_count_each_blob_once(registry):
    one, two = image("one", BASE), image("two", BASE)
    registry.push("team/app", one)
    registry.push("team/app", two)
    multi = index(one, two)
    registry.push("team/app", multi, "multi")
    [usage] = registry.services.usage.repositories(["team/app"])
    assert usage.images == 3
    assert usage.referenced_bytes == size_of(one) + size_of(two) - len(BASE)


def test_image_count_quota_refuses_the_next_new_image(registry):
    registry.services.usage.set_quota("team/app", max_bytes=None, max_images=2)
    registry.push("team/app", image("1"), "one")
    registry.push("team/app", image("2"), "two")
    third = image("3")
    with pytest.raises(QuotaExceeded) as info:
        registry.push("team/app", third, "three")
    assert "holds 2 images, its quota is 2" in info.value.message
    assert info.value.aws_type == "LimitExceededException" and info.value.http_status == 403
    registry.put_manifest("team/app", image("1"), "again")  # a tag on a stored image is fine
    registry.delete("team/app", image("2").digest)
    registry.put_manifest("team/app", third, "three")  # room again


def test_byte_quota_counts_the_blobs_the_new_manifest_adds(registry):
    first = image("first", BASE)
    registry.push("team/app", first, "first")
    used = size_of(first) + len(first.manifest)
    second = image("second", BASE)  # adds its own config and layer, shares the base
    added = size_of(second) - len(BASE) + len(second.manifest)
    registry.services.usage.set_quota("team/app", max_bytes=used + added - 1, max_images=None)
    with pytest.raises(QuotaExceeded) as info:
        registry.push("team/app", second, "second")
    assert "over its storage quota" in info.value.message
    registry.services.usage.set_quota("team/app", max_bytes=used + added, max_images=None)
    registry.put_manifest("team/app", second, "second")
    [usage] = registry.services.usage.repositories(["team/app"])
    assert usage.stored_bytes == used + added == usage.max_bytes


def test_clearing_a_quota(registry):
    registry.services.usage.set_quota("team/app", max_bytes=None, max_images=0)
    with pytest.raises(QuotaExceeded):
        registry.push("team/app", image("x"))
    registry.services.usage.set_quota("team/app", max_bytes=None, max_images=None)
    registry.push("team/app", image("x"))
    assert registry.services.usage.repositories(["team/app"])[0].max_images is None


@pytest.mark.parametrize("text, expected", [
    ("1024", 1024), ("10KiB", 10240), ("2MB", 2_000_000), ("1.5GiB", int(1.5 * 1024**3)),
    ("3 gb", 3_000_000_000), ("7B", 7),
])
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "ten", "5XB", "-1"])
def test_bad_sizes(text):
    with pytest.raises(InvalidParameter):
        parse_size(text)


def test_unknown_repository(registry):
    with pytest.raises(Exception) as info:
        registry.services.usage.repositories(["nope"])
    assert "nope" in str(info.value)
