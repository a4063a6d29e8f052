"""Console sign-in: an access key pair or an IAM user's console password, with brute-force
protection, and the principal behind a session on every later request.

Brute force: every failed attempt counts against the client address and against the name tried
(access key id or user name). From ``FREE_FAILURES`` failures in a row on, each further attempt must
wait an exponentially growing delay (capped at ``MAX_DELAY``), and an attempt made before then is
refused without checking the credentials. The counters are in the metadata database
(``LoginFailureStore``), so every node and every worker process enforces the same limit (see
docs/console.md). Console passwords are also protected by the IAM directory's lock-out.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from dockyard.console.sessions import ACCESS_KEY, PASSWORD, Session, password_binding
from dockyard.domain.models import Principal
from dockyard.errors import DockyardError, ServerError, Unauthenticated
from dockyard.iam.identity import ACTIVE, SESSION_KEY_PREFIX
from dockyard.ports import Clock, LoginFailureStore
from dockyard.services import Services

FREE_FAILURES = 3
MAX_DELAY = 300.0
FORGET_AFTER = timedelta(seconds=2 * MAX_DELAY)  # a counter idle this long is forgotten
PRUNE_EVERY = timedelta(seconds=60)  # how often a process looks for such counters
INCORRECT = "Your authentication information is incorrect. Please try again."


class TooManyAttempts(DockyardError):
    http_status = 429

    def __init__(self, wait: float) -> None:
        seconds = max(1, math.ceil(wait))
        super().__init__(f"Too many failed sign-in attempts. Try again in {seconds} seconds.")
        self.wait = seconds


def delay(failures: int) -> float:
    """Seconds to wait after ``failures`` failures in a row: none for the first
    ``FREE_FAILURES - 1``, then 2 s, 4 s, 8 s, ... up to ``MAX_DELAY``."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY, 2.0 ** min(failures - FREE_FAILURES + 1, 32))


class LoginThrottle:
    """Failure counters per client address and per name tried, with exponential back-off.

    The counters are in a ``LoginFailureStore`` shared by every node; the time of the next
    attempt allowed follows from a key's count and the time of its last failure. Clocks of
    different nodes may disagree a little: a wait is never longer than ``MAX_DELAY``."""

    def __init__(self, store: LoginFailureStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._next_prune: datetime | None = None

    def check(self, *keys: str) -> None:
        now = self._clock.now()
        wait = max(((last - now).total_seconds() + delay(count)
                    for count, last in self._store.failures(keys) if count >= FREE_FAILURES),
                   default=0.0)
        if wait > 0:
            raise TooManyAttempts(min(wait, MAX_DELAY))

    def failed(self, *keys: str) -> None:
        now = self._clock.now()
        self._store.record_failure(keys, now)
        if self._next_prune is None or now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY
            self._store.forget_before(now - FORGET_AFTER)

    def succeeded(self, *keys: str) -> None:
        self._store.clear(keys)


@dataclass(frozen=True, slots=True)
class SignedIn:
    method: str
    subject: str
    principal: Principal
    binding: str = ""
    password_reset_required: bool = False


@dataclass(frozen=True, slots=True)
class Resolved:
    principal: Principal | None
    password_reset_required: bool = False


class Authenticator:
    """Checks sign-in credentials and resolves the principal of a session."""

    def __init__(self, services: Services, throttle: LoginThrottle | None = None) -> None:
        self.services = services
        found = throttle or services.login_throttle
        if found is None:  # pragma: no cover - app._assemble always builds one
            raise ServerError("the console needs the shared sign-in throttle")
        self.throttle: LoginThrottle = found

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
                        password_binding(profile.password_hash), profile.password_reset_required)

    def principal(self, session: Session) -> Principal | None:
        """The principal behind a live session, or None when its credentials are gone."""
        return self.resolve(session).principal

    def resolve(self, session: Session) -> Resolved:
        """The principal behind a live session (None when its credentials are gone), and whether
        it signed in with a password whose login profile requires a reset."""
        identity = self.services.identity
        reset_required = False
        if session.method == ACCESS_KEY:
            key = identity.store.access_key(session.subject)
            if key is None or key.status != ACTIVE or key.principal_id != session.principal_id:
                return Resolved(None)
        else:
            directory = self.services.directory
            profile = directory.store.login_profile(session.subject) if directory else None
            if profile is None or session.subject != session.principal_id or not hmac.compare_digest(
                    password_binding(profile.password_hash), session.binding):
                return Resolved(None)
            reset_required = profile.password_reset_required
        row = identity.store.principal(session.principal_id)
        if row is None or row.kind != "user":
            return Resolved(None)
        return Resolved(identity.resolver.user(row), reset_required)

    def password_session(self, principal: Principal) -> SignedIn | None:
        """A fresh password session for ``principal`` after it changed its password (the old
        session is bound to the old password hash), or None without a login profile."""
        directory = self.services.directory
        profile = directory.store.login_profile(principal.id) if directory else None
        if profile is None:
            return None
        return SignedIn(PASSWORD, principal.id, principal, password_binding(profile.password_hash))
