"""dockyard.domain.digest: parsing, validation and computation of content digests."""

from __future__ import annotations

import hashlib

import pytest

from dockyard.domain.digest import SUPPORTED_ALGORITHMS, Digest
from dockyard.errors import DigestInvalid

HEX256 = hashlib.sha256(b"abc").hexdigest()
HEX512 = hashlib.sha512(b"abc").hexdigest()


def test_parse_sha256() -> None:
    d = Digest.parse(f"sha256:{HEX256}")
    assert d.algorithm == "sha256"
    assert d.hex == HEX256
    assert str(d) == f"sha256:{HEX256}"


def test_parse_sha512() -> None:
    d = Digest.parse(f"sha512:{HEX512}")
    assert (d.algorithm, d.hex) == ("sha512", HEX512)
    assert str(d) == f"sha512:{HEX512}"


def test_supported_algorithms() -> None:
    assert set(SUPPORTED_ALGORITHMS) == {"sha256", "sha512"}


@pytest.mark.parametrize("text", [
    "",
    "sha256",
    "sha256:",
    f":{HEX256}",
    f"sha256:{HEX256[:-1]}",
    f"sha256:{HEX256}0",
    f"sha256:{HEX256.upper()}",
    f"sha256:{HEX256[:-1]}G",
    f"sha512:{HEX256}",
    f"sha256:{HEX512}",
    f"SHA256:{HEX256}",
    f"md5:{hashlib.md5(b'abc').hexdigest()}",
    f"sha384:{hashlib.sha384(b'abc').hexdigest()}",
    f"sha256:{HEX256} ",
    f" sha256:{HEX256}",
    f"sha256:{HEX256}\n",
    f"sha256::{HEX256}",
    f"sha256:{HEX256[:32]}/{HEX256[33:]}",
    "sha256:" + "=" * 64,
])
def test_invalid_digests(text: str) -> None:
    with pytest.raises(DigestInvalid) as info:
        Digest.parse(text)
    assert info.value.oci_code == "DIGEST_INVALID"
    assert info.value.http_status == 400


def test_parse_none_is_invalid() -> None:
    with pytest.raises(DigestInvalid):
        Digest.parse(None)  # type: ignore[arg-type]


def test_unknown_algorithm_message_names_the_supported_ones() -> None:
    with pytest.raises(DigestInvalid) as info:
        Digest.parse("blake3:" + "a" * 64)
    assert "sha256" in info.value.message and "sha512" in info.value.message


@pytest.mark.parametrize("data", [b"", b"abc", bytes(range(256)) * 100])
def test_of(data: bytes) -> None:
    assert Digest.of(data) == Digest("sha256", hashlib.sha256(data).hexdigest())
    assert Digest.of(data, "sha256") == Digest.parse("sha256:" + hashlib.sha256(data).hexdigest())
    assert Digest.of(data, "sha512") == Digest("sha512", hashlib.sha512(data).hexdigest())


def test_of_empty_is_the_well_known_digest() -> None:
    assert str(Digest.of(b"")) == \
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_round_trip() -> None:
    for algorithm in SUPPORTED_ALGORITHMS:
        d = Digest.of(b"round trip", algorithm)
        assert Digest.parse(str(d)) == d


def test_hasher_uses_the_digest_algorithm() -> None:
    for algorithm in SUPPORTED_ALGORITHMS:
        d = Digest.of(b"payload", algorithm)
        h = d.hasher()
        h.update(b"pay")
        h.update(b"load")
        assert h.hexdigest() == d.hex


def test_digests_are_hashable_values() -> None:
    a, b = Digest.of(b"x"), Digest.parse(str(Digest.of(b"x")))
    assert a == b and hash(a) == hash(b)
    assert len({a, b, Digest.of(b"y")}) == 2
    with pytest.raises(AttributeError):
        a.hex = "0"  # type: ignore[misc]
