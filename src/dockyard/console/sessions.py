"""Console sessions in signed cookies, and CSRF tokens.

A session is ``base64url(claims) "." base64url(HMAC-SHA256(claims))`` in an HttpOnly, SameSite=Lax
cookie (``Secure`` over https). Nothing lives in one process's memory: any node or worker that
shares the registry's token key verifies it. The HMAC key is derived from that token key (stored
encrypted in the database) with a label of its own, so a console cookie can never pass for a
registry password or a signed download URL, nor the other way round.

The claims name how the user signed in (an access key, or an IAM user's console password), who,
when the session ends, and a random nonce that the CSRF token is bound to. The principal is
resolved again on every request, so deactivating the key, deleting the login profile or changing
the password ends the session at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

SESSION_COOKIE = "dockyard_session"
LOGIN_COOKIE = "dockyard_login"  # pre-session CSRF nonce of the sign-in form
FLASH_COOKIE = "dockyard_flash"
COOKIE_PATH = "/console"
SESSION_SECONDS = 8 * 3600
ACCESS_KEY, PASSWORD = "key", "password"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    method: str  # ACCESS_KEY | PASSWORD
    subject: str  # the access key id, or the IAM user id
    principal_id: str
    issued_at: int
    expires_at: int
    nonce: str
    binding: str = ""  # PASSWORD: a digest of the password hash (a new password ends it)


class SessionCodec:
    """Signs and verifies sessions, CSRF tokens and flash messages with one derived key."""

    def __init__(self, token_key: bytes) -> None:
        self._key = hmac.new(token_key, b"dockyard console session v1", hashlib.sha256).digest()

    def _mac(self, label: str, payload: bytes) -> bytes:
        return hmac.new(self._key, label.encode() + b"\n" + payload, hashlib.sha256).digest()

    # --- signed values ----------------------------------------------------------------------------
    def sign(self, label: str, data: dict[str, Any]) -> str:
        payload = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(payload)}.{_b64(self._mac(label, payload))}"

    def unsign(self, label: str, token: str | None) -> dict[str, Any] | None:
        if not token or token.count(".") != 1 or len(token) > 4096:
            return None
        payload_text, mac_text = token.split(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except ValueError:
            return None
        if not hmac.compare_digest(mac, self._mac(label, payload)):
            return None
        try:
            data = json.loads(payload)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    # --- sessions ---------------------------------------------------------------------------------
    def issue(self, method: str, subject: str, principal_id: str, now: int,
              binding: str = "", ttl: int = SESSION_SECONDS) -> tuple[Session, str]:
        session = Session(method, subject, principal_id, now, now + ttl, secrets.token_urlsafe(18),
                          binding)
        return session, self.sign("session", {
            "m": method, "s": subject, "p": principal_id, "i": now, "e": now + ttl,
            "n": session.nonce, "b": binding})

    def verify(self, cookie: str | None, now: int) -> Session | None:
        data = self.unsign("session", cookie)
        if data is None:
            return None
        try:
            session = Session(str(data["m"]), str(data["s"]), str(data["p"]), int(data["i"]),
                              int(data["e"]), str(data["n"]), str(data.get("b", "")))
        except (KeyError, TypeError, ValueError):
            return None
        if session.expires_at <= now or session.method not in (ACCESS_KEY, PASSWORD):
            return None
        return session

    # --- CSRF -------------------------------------------------------------------------------------
    def csrf_token(self, nonce: str) -> str:
        """The token every form of a session carries (bound to the session's nonce)."""
        return _b64(self._mac("csrf", nonce.encode()))

    def check_csrf(self, nonce: str | None, token: str | None) -> bool:
        if not nonce or not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(nonce).encode())


def password_binding(password_hash: str) -> str:
    """What a password session is bound to: changing the password changes it."""
    return hashlib.sha256(b"dockyard console\n" + password_hash.encode()).hexdigest()[:32]
