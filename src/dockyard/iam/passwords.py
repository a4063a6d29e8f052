"""Console passwords: argon2id hashes (never the password), IAM's default password policy, and
brute-force protection (a lock-out after repeated failures)."""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dockyard.errors import PasswordPolicyViolation

MIN_LENGTH = 8
MAX_LENGTH = 128
LOCK_AFTER = 5  # failed attempts in a row
LOCK_FOR = timedelta(minutes=15)

# argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): tens of milliseconds a
# check here, which keeps a burst of console sign-ins from exhausting the server's CPU.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_dummy: list[str] = []  # a hash to verify against when there is none, so timing does not tell


def check_policy(password: object) -> str:
    """IAM's default password policy: 8 to 128 characters from the ASCII printable set."""
    if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise PasswordPolicyViolation(
            f"Password should have a minimum length of {MIN_LENGTH} (and at most {MAX_LENGTH})")
    if any(not " " <= ch <= "~" for ch in password):
        raise PasswordPolicyViolation("Password may only contain printable ASCII characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the user exists; True only on a match."""
    if password_hash is None and not _dummy:
        _dummy.append(_hasher.hash("dockyard-no-such-user"))
    try:
        return _hasher.verify(password_hash or _dummy[0], password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and locked_until > now
