"""Registry passwords (``aws ecr get-login-password``): signed, expiring, bound to an access key.

A password is ``base64url(claims) "." base64url(HMAC-SHA256(claims))``: no ``:``, verifiable by any
node that shares the registry's token key, and revoked with the access key it was issued for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from dockyard.errors import AccessDenied, ExpiredToken, Unauthenticated


@dataclass(frozen=True, slots=True)
class TokenClaims:
    principal_id: str
    access_key_id: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def issue(self, claims: TokenClaims) -> str:
        payload = json.dumps(
            {"p": claims.principal_id, "k": claims.access_key_id,
             "e": int(claims.expires_at.timestamp())},
            separators=(",", ":"),
        ).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def verify(self, token: str, now: datetime) -> TokenClaims:
        try:
            payload_text, mac_text = token.split(".")
            payload = _unb64(payload_text)
            mac = _unb64(mac_text)
        except ValueError:
            raise Unauthenticated("authentication required: malformed registry password") from None
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise Unauthenticated("authentication required: invalid registry password")
        data = json.loads(payload)
        claims = TokenClaims(data["p"], data["k"], datetime.fromtimestamp(data["e"], timezone.utc))
        if claims.expires_at <= now:
            raise ExpiredToken("Your authorization token has expired. Reauthenticate and try again.")
        return claims

    def sign_path(self, path: str, expires: int) -> str:
        """Signature for a time-limited URL (``GetDownloadUrlForLayer``)."""
        return _b64(self._mac(f"url\n{path}\n{expires}".encode()))

    def verify_path(self, path: str, expires: str, signature: str, now: datetime) -> None:
        if not expires.isdigit() or not hmac.compare_digest(
                signature.encode(), self.sign_path(path, int(expires)).encode()):
            raise AccessDenied("the download URL signature is not valid")
        if int(expires) <= now.timestamp():
            raise AccessDenied("the download URL has expired")

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()
