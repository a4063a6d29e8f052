"""STS: ``AssumeRole`` (temporary credentials for a role, its trust policy checked) and
``GetCallerIdentity``.

Trust is decided the way AWS documents it for role trust policies: an explicit ``Deny`` in the
trust policy or in the caller's identity policies refuses; otherwise the trust policy must allow
``sts:AssumeRole`` for the caller. When it names the caller (its user ARN, role ARN or session
ARN) that is enough within the account; when it only names the account (``123456789012`` or
``arn:aws:iam::123456789012:root``), or the caller is from another account, the caller's identity
policies must allow ``sts:AssumeRole`` on the role too. Session tags also need
``sts:TagSession``; a nonexistent role is refused the same way as an untrusted one.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from dockyard.domain.iam import IamRole, StsSession, check_session_name, check_tags
from dockyard.domain.models import Principal
from dockyard.errors import AccessDenied, MalformedPolicyDocument, Unauthenticated, ValidationError
from dockyard.iam.aws_managed import AWS_MANAGED
from dockyard.iam.identity import SESSION_KEY_PREFIX, new_secret_access_key, token_digest
from dockyard.iam.policy import Caller, Request, evaluate
from dockyard.iam.policy_text import SESSION_POLICY_SIZE, check_session_policy, packed_size
from dockyard.iam.principals import ASSUMED_ROLE, session_arn
from dockyard.iam.request_context import current_request
from dockyard.iam.secretbox import SecretBox
from dockyard.metadata.iam_store import SqlIamStore
from dockyard.ports import Clock

MIN_DURATION = 900
DEFAULT_DURATION = 3600
CHAINED_MAX_DURATION = 3600
MAX_SESSION_POLICY_ARNS = 10
MAX_SESSION_TAGS = 50
_KEY_ALPHABET = string.ascii_uppercase + "234567"
_KEEP_EXPIRED = timedelta(days=1)  # expired sessions answer ExpiredToken this long, then go


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """What AssumeRole hands back once (the secret and the token are not kept in clear)."""

    session: StsSession
    secret_access_key: str
    session_token: str
    role: IamRole
    assumed_role_id: str
    arn: str
    packed_policy_percent: int | None


class TokenService:
    def __init__(self, store: SqlIamStore, box: SecretBox, clock: Clock,
                 account: Callable[[], str]) -> None:
        self.store = store
        self.box = box
        self.clock = clock
        self._account = account

    @staticmethod
    def caller_identity(caller: Principal | None) -> dict[str, str]:
        """``GetCallerIdentity``: needs no permission, only valid credentials."""
        if caller is None:
            raise Unauthenticated("authentication required")
        user_id = caller.user_id or (f"{caller.id}:{caller.session_name}" if caller.session_name
                                     else caller.id)
        return {"UserId": user_id, "Account": caller.account or caller.arn.split(":")[4],
                "Arn": caller.arn}

    def assume_role(self, caller: Principal | None, role_arn: str, session_name: str, *,
                    duration: int | None = None, policy: str | None = None,
                    policy_arns: Sequence[str] = (), tags: Sequence[tuple[str, str]] = (),
                    external_id: str | None = None,
                    source_identity: str | None = None) -> IssuedSession:
        if caller is None:
            raise Unauthenticated("authentication required")
        check_session_name(session_name)
        tags = check_tags(list(tags))
        if len(tags) > MAX_SESSION_TAGS:
            raise ValidationError(f"1 validation error detected: Value at 'tags' failed to satisfy "
                                  f"constraint: Member must have length less than or equal to "
                                  f"{MAX_SESSION_TAGS}")
        role = self._role(role_arn)
        context = self._context(caller, session_name, tags, external_id, source_identity)
        self._check_trust(caller, role, role_arn, "sts:AssumeRole", context)
        if tags:
            self._check_trust(caller, role, role_arn, "sts:TagSession", context)
        assert role is not None
        seconds = self._duration(caller, role, duration)
        if policy is not None:
            check_session_policy(policy)
        arns = self._policy_arns(policy_arns)
        now = self.clock.now()
        self.store.delete_expired_sessions(now - _KEEP_EXPIRED)
        secret = new_secret_access_key()
        token = base64.b64encode(secrets.token_bytes(120)).decode()
        session = StsSession(
            access_key_id=SESSION_KEY_PREFIX + "".join(secrets.choice(_KEY_ALPHABET)
                                                       for _ in range(16)),
            role_id=role.id, session_name=session_name, source_arn=caller.arn, created_at=now,
            expires_at=(now + timedelta(seconds=seconds)).replace(microsecond=0),
            secret_encrypted=self.box.encrypt(secret.encode()), token_sha256=token_digest(token),
            session_policy=policy, policy_arns=tuple(arns), tags=tuple(tags),
            source_identity=source_identity)
        self.store.create_session(session)
        self.store.update_role(role.id, last_used_at=now)
        packed = None
        if policy is not None or tags:
            size = packed_size(policy or "") + packed_size(json.dumps(tags))
            packed = max(1, size * 100 // SESSION_POLICY_SIZE)
        return IssuedSession(session, secret, token, role, f"{role.id}:{session_name}",
                             session_arn(self._account(), role.name, session_name), packed)

    # --- parts ------------------------------------------------------------------------------------
    def _role(self, role_arn: str) -> IamRole | None:
        parts = role_arn.split(":", 5) if isinstance(role_arn, str) else []
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or \
                not parts[5].startswith("role/"):
            raise ValidationError(f"{role_arn} is invalid")
        if parts[4] != self._account():
            return None
        role = self.store.role(parts[5].rsplit("/", 1)[-1])
        return role if role is not None and role.arn == role_arn else None

    def _check_trust(self, caller: Principal, role: IamRole | None, role_arn: str, action: str,
                     context: dict[str, list[str]]) -> None:
        account = self._account()
        refused = AccessDenied(f"User: {caller.arn} is not authorized to perform: {action} on "
                               f"resource: {role_arn}")
        if role is None:
            raise refused
        trust = json.loads(role.trust_policy)
        own = caller.account or account
        named = {caller.arn, *([caller.role_arn] if caller.role_arn else [])}
        root = {f"arn:aws:iam::{own}:root"}
        request = Request(action, role.arn, account, context)
        everything = evaluate(request, Caller(own, frozenset(named | root)),
                              identity_policies=caller.policies, resource_policies=[trust])
        if everything.explicit_deny:
            raise refused
        same_account = own == account
        # The trust policy on its own (no identity policies counted), as a resource policy.
        # (An empty account on both sides: a Principal naming the account number must not match.)
        trusts_caller = same_account and evaluate(
            Request(action, role.arn, "", context), Caller("", frozenset(named)),
            resource_policies=[trust]).allowed
        trusts_account = evaluate(Request(action, role.arn, own, context),
                                  Caller(own, frozenset(named | root)),
                                  resource_policies=[trust]).allowed
        identity_allows = evaluate(Request(action, role.arn, own, context),
                                   Caller(own, frozenset(named)),
                                   identity_policies=caller.policies).allowed
        if not (trusts_caller or (trusts_account and identity_allows)):
            raise refused

    @staticmethod
    def _duration(caller: Principal, role: IamRole, duration: int | None) -> int:
        seconds = DEFAULT_DURATION if duration is None else duration
        if seconds < MIN_DURATION:
            raise ValidationError(f"1 validation error detected: Value '{seconds}' at "
                                  f"'durationSeconds' failed to satisfy constraint: Member must "
                                  f"have value greater than or equal to {MIN_DURATION}")
        if caller.kind == ASSUMED_ROLE and seconds > CHAINED_MAX_DURATION:
            raise ValidationError("The requested DurationSeconds exceeds the 1 hour session limit "
                                  "for roles assumed by role chaining.")
        if seconds > role.max_session_duration:
            raise ValidationError("The requested DurationSeconds exceeds the MaxSessionDuration "
                                  "set for this role.")
        return seconds

    def _policy_arns(self, policy_arns: Sequence[str]) -> list[str]:
        if len(policy_arns) > MAX_SESSION_POLICY_ARNS:
            raise ValidationError(f"1 validation error detected: Value at 'policyArns' failed to "
                                  f"satisfy constraint: Member must have length less than or "
                                  f"equal to {MAX_SESSION_POLICY_ARNS}")
        missing = [a for a in policy_arns if a not in AWS_MANAGED and self.store.policy(a) is None]
        if missing:
            raise MalformedPolicyDocument(f"Policy {missing[0]} does not exist or is not attachable.")
        return list(policy_arns)

    def _context(self, caller: Principal, session_name: str, tags: Sequence[tuple[str, str]],
                 external_id: str | None, source_identity: str | None) -> dict[str, list[str]]:
        """Condition keys a trust policy may test (keys lower-case, values lists)."""
        info = current_request()
        now = self.clock.now()
        context: dict[str, list[str]] = {
            "aws:currenttime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
            "aws:epochtime": [str(int(now.timestamp()))],
            "aws:securetransport": ["true" if info.secure_transport else "false"],
            "aws:principalarn": [caller.role_arn or caller.arn],
            "aws:principalaccount": [caller.account or self._account()],
            "aws:principaltype": ["AssumedRole" if caller.role_arn else "User"],
            "aws:userid": [caller.user_id or caller.id],
            "sts:rolesessionname": [session_name],
        }
        if caller.kind != ASSUMED_ROLE:
            context["aws:username"] = [caller.name]
        if info.source_ip:
            context["aws:sourceip"] = [info.source_ip]
        if info.user_agent:
            context["aws:useragent"] = [info.user_agent]
        for key, value in caller.tags.items():
            context[f"aws:principaltag/{key.lower()}"] = [value]
        for key, value in tags:
            context[f"aws:requesttag/{key.lower()}"] = [value]
        if tags:
            context["aws:tagkeys"] = [k for k, _ in tags]
        if external_id is not None:
            context["sts:externalid"] = [external_id]
        if source_identity is not None:
            context["sts:sourceidentity"] = [source_identity]
        return context

