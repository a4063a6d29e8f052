"""Identity service: the first start, access keys, and who is calling (SigV4 or a registry password)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import string
import time
from dataclasses import dataclass
from datetime import timedelta

from dockyard.domain.iam import USER, IamRole, StsSession
from dockyard.domain.models import AccessKey, Principal, RegistryInfo
from dockyard.errors import (
    AccessKeyNotFound,
    ExpiredToken,
    InvalidSignature,
    UnrecognizedClient,
    Unauthenticated,
)
from dockyard.iam import sigv4
from dockyard.iam.authorizer import Authorizer
from dockyard.iam.aws_managed import ADMINISTRATOR_ACCESS_ARN
from dockyard.iam.principals import PrincipalResolver
from dockyard.iam.secretbox import SecretBox
from dockyard.iam.tokens import TokenClaims, TokenSigner
from dockyard.metadata.iam_store import SqlIamStore
from dockyard.metadata.identity_store import SqlIdentityStore
from dockyard.ports import Clock

_KEY_ALPHABET = string.ascii_uppercase + "234567"
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
ACTIVE, INACTIVE = "Active", "Inactive"
ADMIN_USER = "admin"
_TOKEN_CACHE_SECONDS = 5.0
SESSION_KEY_PREFIX = "ASIA"
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
# IAM and STS are global services: clients sign them for us-east-1 whatever the registry's region.
_GLOBAL_REGION = "us-east-1"


def token_digest(session_token: str) -> str:
    return hashlib.sha256(session_token.encode()).hexdigest()


def new_access_key_id() -> str:
    return "AKIA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(16))


def new_secret_access_key() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


@dataclass(frozen=True, slots=True)
class NewKey:
    access_key_id: str
    secret_access_key: str
    principal: Principal


class IdentityService:
    def __init__(self, store: SqlIdentityStore, box: SecretBox, clock: Clock, region: str,
                 authz: Authorizer, iam_store: SqlIamStore | None = None,
                 token_ttl: timedelta = timedelta(hours=12)) -> None:
        self.store = store
        self.token_ttl = token_ttl
        self.iam_store = iam_store or SqlIamStore(store.db)
        self.resolver = PrincipalResolver(self.iam_store, lambda: self.registry.registry_id)
        self.authz = authz
        self.box = box
        self.clock = clock
        self._region = region
        self._registry: RegistryInfo | None = None
        self._signer: TokenSigner | None = None
        self._token_cache: dict[str, tuple[float, Principal, TokenClaims]] = {}

    # --- the registry and its first start -----------------------------------------------------
    def bootstrap(self, admin_key_id: str | None = None,
                  admin_secret: str | None = None) -> NewKey | None:
        """Create the registry and its administrator on the first start.

        Returns the administrator's new key (to print once), or None when the registry existed.
        """
        now = self.clock.now()
        registry_id = str(secrets.randbelow(9 * 10**11) + 10**11)
        token_key = self.box.encrypt(secrets.token_bytes(32))
        if not self.store.create_registry(RegistryInfo(registry_id, self._region, now), token_key):
            return None
        info = self.registry
        admin = Principal(id="AIDA" + "".join(secrets.choice(_KEY_ALPHABET) for _ in range(17)),
                          kind="user", name=ADMIN_USER,
                          arn=f"arn:aws:iam::{info.registry_id}:user/{ADMIN_USER}")
        self.store.create_principal(admin, now)
        self.iam_store.attach(USER, admin.id, ADMINISTRATOR_ACCESS_ARN, now)
        return self.create_access_key(ADMIN_USER, admin_key_id, admin_secret)

    @property
    def registry(self) -> RegistryInfo:
        if self._registry is None:
            found = self.store.registry()
            if found is None:
                raise RuntimeError("registry not initialised: bootstrap() first")
            self._registry, token_key = found
            self._signer = TokenSigner(self.box.decrypt(token_key))
        return self._registry

    @property
    def signer(self) -> TokenSigner:
        _ = self.registry
        assert self._signer is not None
        return self._signer

    # --- access keys ----------------------------------------------------------------------------
    def create_access_key(self, user: str = ADMIN_USER, access_key_id: str | None = None,
                          secret: str | None = None) -> NewKey:
        principal = self.store.principal_by_name("user", user)
        if principal is None:
            raise AccessKeyNotFound(f"The user with name {user} cannot be found.")
        key_id = access_key_id or new_access_key_id()
        secret = secret or new_secret_access_key()
        self.store.create_access_key(AccessKey(key_id, principal.id, ACTIVE, self.clock.now(), None,
                                               self.box.encrypt(secret.encode())))
        return NewKey(key_id, secret, principal)

    def list_access_keys(self) -> list[tuple[AccessKey, Principal | None]]:
        return [(k, self.store.principal(k.principal_id)) for k in self.store.access_keys()]

    def rotate_access_key(self, access_key_id: str) -> NewKey:
        """Issue a new key for the same principal and deactivate the old one."""
        old = self._key(access_key_id)
        principal = self.store.principal(old.principal_id)
        assert principal is not None
        new = self.create_access_key(principal.name)
        self.store.set_access_key_status(access_key_id, INACTIVE)
        return new

    def set_access_key_status(self, access_key_id: str, status: str) -> None:
        self._key(access_key_id)
        self.store.set_access_key_status(access_key_id, status)

    def delete_access_key(self, access_key_id: str) -> None:
        if not self.store.delete_access_key(access_key_id):
            raise AccessKeyNotFound(f"The Access Key with id {access_key_id} cannot be found.")

    def _key(self, access_key_id: str) -> AccessKey:
        key = self.store.access_key(access_key_id)
        if key is None:
            raise AccessKeyNotFound(f"The Access Key with id {access_key_id} cannot be found.")
        return key

    # --- authentication ---------------------------------------------------------------------------
    def _active_key(self, access_key_id: str) -> tuple[AccessKey, Principal]:
        key = self.store.access_key(access_key_id)
        principal = self.store.principal(key.principal_id) if key else None
        if key is None or key.status != ACTIVE or principal is None:
            raise UnrecognizedClient("The security token included in the request is invalid.")
        return key, principal

    def _session(self, access_key_id: str, token: str | None) -> tuple[StsSession, IamRole]:
        """The live STS session behind a temporary key; its token must match (when given)."""
        session = self.iam_store.session(access_key_id)
        role = self.iam_store.role_by_id(session.role_id) if session else None
        if session is None or role is None:
            raise UnrecognizedClient(INVALID_TOKEN)
        if token is not None and not hmac.compare_digest(token_digest(token).encode(),
                                                         session.token_sha256.encode()):
            raise UnrecognizedClient(INVALID_TOKEN)
        if session.expires_at <= self.clock.now():
            raise ExpiredToken(EXPIRED_TOKEN)
        return session, role

    def authenticate_sigv4(self, *, method: str, raw_path: str, raw_query: str,
                           headers: dict[str, str], payload_sha256: str,
                           service: str = "ecr") -> tuple[Principal, str]:
        """Verify a SigV4-signed request for ``service`` (the credential scope's service: ``ecr``,
        ``iam`` or ``sts``); returns the caller and the access key it signed with.

        Temporary keys (``ASIA...``) need their session token in ``X-Amz-Security-Token``; the
        caller then is the role session, with the role's policies."""
        auth = sigv4.parse_authorization(headers.get("authorization", ""))
        key_id = auth.credential.access_key_id
        token = headers.get("x-amz-security-token")
        key: AccessKey | None = None
        row: Principal | None = None
        session: tuple[StsSession, IamRole] | None = None
        if key_id.startswith(SESSION_KEY_PREFIX):
            if not token:
                raise UnrecognizedClient(INVALID_TOKEN)
            session = self._session(key_id, token)
            secret_encrypted = session[0].secret_encrypted
        else:
            if token:
                raise UnrecognizedClient(INVALID_TOKEN)
            key, row = self._active_key(key_id)
            secret_encrypted = key.secret_encrypted
        regions = {self._region, _GLOBAL_REGION} if service in ("iam", "sts") else {self._region}
        if auth.credential.region not in regions:
            raise InvalidSignature(
                f"Credential should be scoped to a valid region, not '{auth.credential.region}'. ")
        if auth.credential.service != service:
            raise InvalidSignature(
                f"Credential should be scoped to correct service: '{service}'. ")
        sigv4.verify(method=method, raw_path=raw_path, raw_query=raw_query, headers=headers,
                     payload_sha256=payload_sha256, auth=auth,
                     secret_access_key=self.box.decrypt(secret_encrypted).decode(),
                     now=self.clock.now())
        if session is not None:
            return self.resolver.session(*session), key_id
        assert key is not None and row is not None
        self._touch(key)
        return self.resolver.user(row), key_id

    def _touch(self, key: AccessKey) -> None:
        """Record when a key was last used, at most once a minute per key."""
        now = self.clock.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            self.store.touch_access_key(key.access_key_id, now)

    def authorize_login(self, caller: Principal) -> None:
        self.authz.check(caller, "ecr:GetAuthorizationToken", "*")

    def issue_password(self, principal: Principal, access_key_id: str) -> TokenClaims:
        expires = self.clock.now() + self.token_ttl
        if access_key_id.startswith(SESSION_KEY_PREFIX):  # never outlive the role session
            session = self.iam_store.session(access_key_id)
            if session is not None:
                expires = min(expires, session.expires_at)
        return TokenClaims(principal.id, access_key_id, expires.replace(microsecond=0))

    def password(self, claims: TokenClaims) -> str:
        return self.signer.issue(claims)

    def authenticate_basic(self, header: str | None) -> tuple[Principal, str] | None:
        """The caller and access key behind ``Authorization: Basic AWS:<password>`` (docker
        login's credentials), or None for an anonymous request (no header, or the empty
        ``Basic Og==`` containers/image sends without a login)."""
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            raise Unauthenticated("authentication required: use Basic credentials AWS:<password>")
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("authentication required: malformed Basic credentials") from None
        if not user and not password:
            return None
        if user != "AWS":
            raise Unauthenticated("authentication required: the user name must be AWS")
        return self.authenticate_password_with_key(password)

    def authenticate_password(self, password: str) -> Principal:
        """The caller behind a registry password; the key it was issued for must still be active."""
        return self.authenticate_password_with_key(password)[0]

    def authenticate_password_with_key(self, password: str) -> tuple[Principal, str]:
        """As ``authenticate_password``, with the access key id the password was issued for."""
        cached = self._token_cache.get(password)
        if cached is not None and cached[0] > time.monotonic():
            claims = cached[2]
            if claims.expires_at > self.clock.now():
                return cached[1], claims.access_key_id
        claims = self.signer.verify(password, self.clock.now())
        if claims.access_key_id.startswith(SESSION_KEY_PREFIX):
            session, role = self._session(claims.access_key_id, None)
            if role.id != claims.principal_id:
                raise UnrecognizedClient(INVALID_TOKEN)
            principal = self.resolver.session(session, role)
        else:
            key, row = self._active_key(claims.access_key_id)
            if key.principal_id != claims.principal_id:
                raise UnrecognizedClient(INVALID_TOKEN)
            principal = self.resolver.user(row)
        if len(self._token_cache) > 10_000:
            self._token_cache.clear()
        self._token_cache[password] = (time.monotonic() + _TOKEN_CACHE_SECONDS, principal, claims)
        return principal, claims.access_key_id
