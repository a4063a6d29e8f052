"""Server-side verification of AWS Signature Version 4 (Authorization-header form).

Canonicalisation mirrors botocore's ``SigV4Auth`` for non-S3 services: the path is normalised
(dot segments and empty segments removed) and then URI-encoded *again* (so ``%`` becomes ``%25``);
query parameters are decoded and re-encoded with AWS's unreserved set, sorted by key then value;
header values are trimmed with whitespace runs collapsed. Pure: no I/O, no framework imports.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import quote, unquote_plus

from dockyard.errors import IncompleteSignature, InvalidSignature

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
TERMINATOR = "aws4_request"
_STAMP = "%Y%m%dT%H%M%SZ"
_STAMP_RE = re.compile(r"\d{8}T\d{6}Z")
_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    date: str  # YYYYMMDD
    region: str
    service: str


@dataclass(frozen=True)
class ParsedAuthorization:
    credential: Credential
    signed_headers: tuple[str, ...]  # lower-case, in header order
    signature: str  # hex


def parse_authorization(header: str) -> ParsedAuthorization:
    """Split ``AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..`` into its parts."""
    algorithm, _, rest = (header or "").strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignature(f"Unsupported AWS 'algorithm': '{algorithm}'.")
    params: dict[str, str] = {}
    for pair in rest.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, eq, value = pair.partition("=")
        if not eq:
            raise IncompleteSignature(
                f"Invalid key=value pair (missing equal-sign) in Authorization header: '{pair}'."
            )
        params[key.strip()] = value.strip()
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not params.get(name)
    ]
    if missing:
        raise IncompleteSignature(" ".join(missing) + f" Authorization={header}")
    scope = params["Credential"].split("/")
    if len(scope) != 5 or not all(scope[:4]):
        raise IncompleteSignature(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{params['Credential']}'"
        )
    if scope[4] != TERMINATOR:
        raise IncompleteSignature(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{scope[4]}'."
        )
    names = tuple(n.strip().lower() for n in params["SignedHeaders"].split(";") if n.strip())
    if not names:
        raise IncompleteSignature(f"Authorization header requires 'SignedHeaders' parameter. Authorization={header}")
    return ParsedAuthorization(
        credential=Credential(scope[0], scope[1], scope[2], scope[3]),
        signed_headers=tuple(dict.fromkeys(names)),
        signature=params["Signature"],
    )


def request_time(headers: Mapping[str, str]) -> datetime:
    """The signing time: ``x-amz-date`` (ISO-8601 basic), else the HTTP ``date`` header. UTC."""
    amz = headers.get("x-amz-date")
    if amz is not None:
        amz = amz.strip()
        if _STAMP_RE.fullmatch(amz):
            try:
                return datetime.strptime(amz, _STAMP).replace(tzinfo=timezone.utc)
            except ValueError:
                pass
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{amz}'. See http://en.wikipedia.org/wiki/ISO_8601"
        )
    date = headers.get("date")
    if date is None:
        raise IncompleteSignature(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    try:
        parsed = parsedate_to_datetime(date.strip())
    except (TypeError, ValueError, IndexError):
        raise IncompleteSignature(f"Unable to parse the 'Date' header: '{date}'.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


@lru_cache(maxsize=256)
def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret_access_key).encode("utf-8")
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def _canonical_uri(raw_path: str) -> str:
    # botocore.utils.remove_dot_segments (also drops empty segments), then quote(safe='/~').
    if not raw_path:
        return "/"
    out: list[str] = []
    for seg in raw_path.split("/"):
        if seg == "..":
            if out:
                out.pop()
        elif seg and seg != ".":
            out.append(seg)
    path = ("/" if raw_path[0] == "/" else "") + "/".join(out)
    if raw_path[-1] == "/" and out:
        path += "/"
    return quote(path, safe="/~")


def _canonical_query(raw_query: str) -> str:
    if not raw_query:
        return ""
    pairs = []
    for item in raw_query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((quote(unquote_plus(key), safe="-_.~"), quote(unquote_plus(value), safe="-_.~")))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def verify(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    payload_sha256: str,
    auth: ParsedAuthorization,
    secret_access_key: str,
    now: datetime,
) -> None:
    """Raise ``IncompleteSignature``/``InvalidSignature`` unless the request is correctly signed."""
    if "host" not in auth.signed_headers and ":authority" not in auth.signed_headers:
        raise IncompleteSignature("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    when = request_time(headers)
    stamp = headers.get("x-amz-date")
    stamp = stamp.strip() if stamp is not None else when.strftime(_STAMP)
    cred = auth.credential
    if cred.date != stamp[:8]:
        raise InvalidSignature(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{cred.date}' != '{stamp[:8]}', from '{stamp}'."
        )
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    if when < now - MAX_SKEW:
        edge = (now - MAX_SKEW).strftime(_STAMP)
        raise InvalidSignature(
            f"Signature expired: {stamp} is now earlier than {edge} ({now.strftime(_STAMP)} - 15 min.)"
        )
    if when > now + MAX_SKEW:
        edge = (now + MAX_SKEW).strftime(_STAMP)
        raise InvalidSignature(
            f"Signature expired: {stamp} is now later than {edge} ({now.strftime(_STAMP)} + 15 min.)"
        )
    canonical_headers = "".join(
        f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in auth.signed_headers
    )
    canonical_request = "\n".join(
        (
            method.upper(),
            _canonical_uri(raw_path),
            _canonical_query(raw_query),
            canonical_headers,
            ";".join(auth.signed_headers),
            payload_sha256,
        )
    )
    scope = f"{cred.date}/{cred.region}/{cred.service}/{TERMINATOR}"
    string_to_sign = "\n".join(
        (ALGORITHM, stamp, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest())
    )
    key = signing_key(secret_access_key, cred.date, cred.region, cred.service)
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), auth.signature.lower().encode("utf-8")):
        raise InvalidSignature(_MISMATCH)
