"""Console sign-in: an access key pair or an IAM user's console password, with brute-force
protection, and the principal behind a session on every later request.

Brute force: every failed attempt counts against the client address and against the name tried
(access key id or user name). From ``FREE_FAILURES`` failures in a row on, each further attempt must
wait an exponentially growing delay (capped at ``MAX_DELAY``), and an attempt made before then is
refused without checking the credentials. These counters live in the memory of each server
process (a per-node limit; see docs/console.md). Console passwords are also protected by the IAM
directory's lock-out, which is stored in the database and so holds across nodes.
"""

from __future__ import annotations

import hmac
import math
import time
from dataclasses import dataclass

from dockyard.console.sessions import ACCESS_KEY, PASSWORD, Session, password_binding
from dockyard.domain.models import Principal
from dockyard.errors import DockyardError, Unauthenticated
from dockyard.iam.identity import ACTIVE, SESSION_KEY_PREFIX
from dockyard.services import Services

FREE_FAILURES = 3
MAX_DELAY = 300.0
_MAX_ENTRIES = 10_000
INCORRECT = "Your authentication information is incorrect. Please try again."


class TooManyAttempts(DockyardError):
    http_status = 429

    def __init__(self, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        super().__init__(f"Too many failed sign-in attempts. Try again in {seconds} seconds.")
        self.wait = seconds


@dataclass
class _Failures:
    count: int
    not_before: float  # monotonic time of the next attempt allowed
    last: float


class LoginThrottle:
    """Failure counters per client address and per name tried, with exponential back-off."""

    def __init__(self, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self._clock = clock
        self._entries: dict[str, _Failures] = {}

    def check(self, *keys: str) -> None:
        now = self._clock()
        wait = max((self._entries[k].not_before - now for k in keys if k in self._entries),
                   default=0.0)
        if wait > 0:
            raise TooManyAttempts(wait)

    def failed(self, *keys: str) -> None:
        now = self._clock()
        if len(self._entries) >= _MAX_ENTRIES:
            self._prune(now)
        for key in keys:
            entry = self._entries.get(key) or _Failures(0, now, now)
            entry.count += 1
            entry.last = now
            if entry.count >= FREE_FAILURES:  # then 2 s, 4 s, 8 s, ... up to MAX_DELAY
                entry.not_before = now + min(MAX_DELAY, 2.0 ** (entry.count - FREE_FAILURES + 1))
            self._entries[key] = entry

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    def _prune(self, now: float) -> None:
        """Forget counters idle for longer than the longest delay, then the oldest ones."""
        for key in [k for k, e in self._entries.items() if now - e.last > 2 * MAX_DELAY]:
            del self._entries[key]
        if len(self._entries) >= _MAX_ENTRIES:
            for key, _ in sorted(self._entries.items(), key=lambda i: i[1].last)[:_MAX_ENTRIES // 2]:
                del self._entries[key]


@dataclass(frozen=True, slots=True)
class SignedIn:
    method: str
    subject: str
    principal: Principal
    binding: str = ""


class Authenticator:
    """Checks sign-in credentials and resolves the principal of a session."""

    def __init__(self, services: Services, throttle: LoginThrottle | None = None) -> None:
        self.services = services
        self.throttle = throttle or LoginThrottle()

    @property
    def passwords_enabled(self) -> bool:
        """Whether the IAM directory can check console passwords (login profiles)."""
        return hasattr(self.services.directory, "authenticate_console")

    def sign_in_with_key(self, client: str, access_key_id: str, secret: str) -> SignedIn:
        access_key_id = access_key_id.strip()
        keys = (f"ip:{client}", f"key:{access_key_id}")
        self.throttle.check(*keys)
        identity = self.services.identity
        key = identity.store.access_key(access_key_id) if access_key_id else None
        row = identity.store.principal(key.principal_id) if key is not None else None
        ok = False
        if key is not None and key.status == ACTIVE and row is not None and row.kind == "user":
            stored = identity.box.decrypt(key.secret_encrypted)
            ok = hmac.compare_digest(stored, secret.encode())
        else:
            hmac.compare_digest(b"x" * 40, secret.encode())  # the same work for an unknown key
        if not ok or row is None:
            self.throttle.failed(*keys)
            if access_key_id.startswith(SESSION_KEY_PREFIX):
                raise Unauthenticated("Temporary (ASIA...) keys cannot sign in to the console; "
                                      "use a long-term access key or a console password.")
            raise Unauthenticated(INCORRECT)
        self.throttle.succeeded(*keys)
        return SignedIn(ACCESS_KEY, access_key_id, identity.resolver.user(row))

    def sign_in_with_password(self, client: str, user_name: str, password: str) -> SignedIn:
        user_name = user_name.strip()
        keys = (f"ip:{client}", f"user:{user_name}")
        self.throttle.check(*keys)
        directory = self.services.directory
        if directory is None or not self.passwords_enabled:
            raise Unauthenticated("Console passwords are not available on this registry; "
                                  "sign in with an access key.")
        try:
            user = directory.authenticate_console(user_name, password)
        except Unauthenticated:
            self.throttle.failed(*keys)
            raise Unauthenticated(INCORRECT) from None
        self.throttle.succeeded(*keys)
        row = self.services.identity.store.principal(user.id)
        profile = directory.store.login_profile(user.id)
        if row is None or profile is None:
            raise Unauthenticated(INCORRECT)
        return SignedIn(PASSWORD, user.id, self.services.identity.resolver.user(row),
                        password_binding(profile.password_hash))

    def principal(self, session: Session) -> Principal | None:
        """The principal behind a live session, or None when its credentials are gone."""
        identity = self.services.identity
        if session.method == ACCESS_KEY:
            key = identity.store.access_key(session.subject)
            if key is None or key.status != ACTIVE or key.principal_id != session.principal_id:
                return None
        else:
            directory = self.services.directory
            profile = directory.store.login_profile(session.subject) if directory else None
            if profile is None or session.subject != session.principal_id or not hmac.compare_digest(
                    password_binding(profile.password_hash), session.binding):
                return None
        row = identity.store.principal(session.principal_id)
        if row is None or row.kind != "user":
            return None
        return identity.resolver.user(row)
