"""Content digests (``algorithm:hex``) as the OCI image spec defines them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from dockyard.errors import DigestInvalid

# OCI image spec: algorithm-component ( separator algorithm-component )* ":" encoded
_DIGEST_RE = re.compile(r"^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$")
_HEX_LENGTH = {"sha256": 64, "sha512": 128}
SUPPORTED_ALGORITHMS = tuple(_HEX_LENGTH)


@dataclass(frozen=True, slots=True)
class Digest:
    algorithm: str
    hex: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    @classmethod
    def parse(cls, text: str) -> "Digest":
        match = _DIGEST_RE.fullmatch(text or "") if isinstance(text, str) else None
        if match is None:
            raise DigestInvalid(f"invalid digest {text!r}: expected algorithm:hex", {"digest": text})
        algorithm, encoded = match.groups()
        length = _HEX_LENGTH.get(algorithm)
        if length is None:
            raise DigestInvalid(
                f"unsupported digest algorithm {algorithm!r}: supported are "
                + ", ".join(SUPPORTED_ALGORITHMS),
                {"digest": text},
            )
        if len(encoded) != length or not _is_lower_hex(encoded):
            raise DigestInvalid(
                f"invalid {algorithm} digest: expected {length} lower-case hex characters",
                {"digest": text},
            )
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> "Digest":
        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    def hasher(self) -> "hashlib._Hash":
        return hashlib.new(self.algorithm)


def _is_lower_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)
