"""dockyard.iam.tokens: registry passwords (signed, expiring claims)."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest

from dockyard.errors import ExpiredToken, Unauthenticated
from dockyard.iam.tokens import TokenClaims, TokenSigner

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)
KEY = b"k" * 32


def _claims(expires: datetime = NOW + timedelta(hours=12)) -> TokenClaims:
    return TokenClaims("AIDAEXAMPLEPRINCIPAL1", "AKIAEXAMPLEKEY000001", expires)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_round_trip() -> None:
    signer = TokenSigner(KEY)
    claims = _claims()
    assert signer.verify(signer.issue(claims), NOW) == claims


def test_verified_expiry_is_utc_aware() -> None:
    signer = TokenSigner(KEY)
    got = signer.verify(signer.issue(_claims()), NOW)
    assert got.expires_at.tzinfo is not None
    assert got.expires_at.utcoffset() == timedelta(0)


def test_another_key_does_not_verify() -> None:
    token = TokenSigner(KEY).issue(_claims())
    with pytest.raises(Unauthenticated):
        TokenSigner(b"x" * 32).verify(token, NOW)


def test_tampered_payload_is_refused() -> None:
    signer = TokenSigner(KEY)
    payload, mac = signer.issue(_claims()).split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["p"] = "AIDASOMEONEELSE000001"
    with pytest.raises(Unauthenticated):
        signer.verify(f"{_b64(json.dumps(data, separators=(',', ':')).encode())}.{mac}", NOW)
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["e"] += 3600 * 24 * 365
    with pytest.raises(Unauthenticated):
        signer.verify(f"{_b64(json.dumps(data, separators=(',', ':')).encode())}.{mac}", NOW)


def test_tampered_mac_is_refused() -> None:
    signer = TokenSigner(KEY)
    payload, mac = signer.issue(_claims()).split(".")
    raw = bytearray(base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4)))
    raw[0] ^= 1
    with pytest.raises(Unauthenticated):
        signer.verify(f"{payload}.{_b64(bytes(raw))}", NOW)
    with pytest.raises(Unauthenticated):
        signer.verify(f"{payload}.", NOW)


def test_expiry() -> None:
    signer = TokenSigner(KEY)
    expires = NOW + timedelta(hours=1)
    token = signer.issue(_claims(expires))
    assert signer.verify(token, expires - timedelta(seconds=1)).expires_at == expires
    with pytest.raises(ExpiredToken):
        signer.verify(token, expires)
    with pytest.raises(ExpiredToken) as info:
        signer.verify(token, expires + timedelta(days=1))
    assert info.value.aws_type == "ExpiredTokenException"
    assert isinstance(info.value, Unauthenticated)  # the OCI edge answers 401 with a challenge


def test_expiry_has_second_resolution() -> None:
    signer = TokenSigner(KEY)
    expires = NOW + timedelta(hours=1, microseconds=999_999)
    got = signer.verify(signer.issue(_claims(expires)), NOW)
    assert got.expires_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize("token", ["", "no-dot", "a.b.c", ".", "..", "é.é", "!!!.???", "YQ.YQ",
                                   "a" * 10_000])
def test_malformed_tokens(token: str) -> None:
    with pytest.raises(Unauthenticated):
        TokenSigner(KEY).verify(token, NOW)


def test_passwords_never_contain_a_colon() -> None:
    """docker splits ``user:password`` at the first colon; a password must not contain one."""
    signer = TokenSigner(KEY)
    for i in range(200):
        claims = TokenClaims(f"AIDA{i:017d}", f"AKIA{i:016d}", NOW + timedelta(seconds=i * 7919))
        token = signer.issue(claims)
        assert ":" not in token
        assert all(c.isalnum() or c in "-_." for c in token)
        assert signer.verify(token, NOW - timedelta(days=1)) == claims


def test_tokens_for_different_claims_differ() -> None:
    signer = TokenSigner(KEY)
    a = signer.issue(_claims())
    b = signer.issue(TokenClaims("AIDAEXAMPLEPRINCIPAL1", "AKIAEXAMPLEKEY000002", NOW + timedelta(hours=12)))
    assert a != b
