"""Resource tags (``[{Key, Value}]`` on a repository) with AWS's tagging rules.

Keys are 1-128 characters, values 0-256; both may hold letters, digits, white space and
``_ . : / = + - @``. Keys starting with ``aws:`` are reserved. A resource carries at most 50 tags.
Within one request a repeated key keeps its last value. Breaking one of these rules is an
``InvalidTagParameterException`` (``TooManyTagsException`` for the count); a request whose tags are
not ``{Key, Value}`` objects of strings is an ``InvalidParameterException``.
"""

from __future__ import annotations

from collections.abc import Iterable

from dockyard.errors import InvalidParameter, InvalidTagParameter, TooManyTags

MAX_TAGS = 50
MAX_KEY, MAX_VALUE = 128, 256
_PUNCTUATION = frozenset("_.:/=+-@")
RESERVED_PREFIX = "aws:"

Tags = tuple[dict[str, str], ...]


def _allowed(text: str) -> bool:
    return all(c.isalnum() or c.isspace() or c in _PUNCTUATION for c in text)


def validate_key(key: object) -> str:
    if not isinstance(key, str):
        raise InvalidParameter(f"Invalid parameter: a tag key must be a string (got {key!r})")
    if not 1 <= len(key) <= MAX_KEY:
        raise InvalidTagParameter(
            f"Invalid parameter: tag keys must have between 1 and {MAX_KEY} characters "
            f"(got {len(key)})")
    if not _allowed(key):
        raise InvalidTagParameter(
            f"Invalid parameter: tag key {key!r} may only contain letters, digits, white space "
            f"and _ . : / = + - @")
    if key.lower().startswith(RESERVED_PREFIX):
        raise InvalidTagParameter(
            f"Invalid parameter: tag key {key!r} uses the reserved prefix '{RESERVED_PREFIX}'")
    return key


def validate_value(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(f"Invalid parameter: the value of tag {key!r} must be a string")
    if len(value) > MAX_VALUE:
        raise InvalidTagParameter(
            f"Invalid parameter: the value of tag {key!r} must be a string of at most "
            f"{MAX_VALUE} characters")
    if not _allowed(value):
        raise InvalidTagParameter(
            f"Invalid parameter: the value of tag {key!r} may only contain letters, digits, "
            f"white space and _ . : / = + - @")
    return value


def validate_tags(tags: object) -> Tags:
    """The tags of a request, checked; a key given twice keeps its last value."""
    if not isinstance(tags, (list, tuple)):
        raise InvalidParameter("Invalid parameter: tags must be a list of {Key, Value}")
    result: dict[str, str] = {}
    for tag in tags:
        if not isinstance(tag, dict):
            raise InvalidParameter("Invalid parameter: each tag must be an object {Key, Value}")
        key = validate_key(tag.get("Key"))
        if "Value" not in tag:
            raise InvalidParameter(f"Invalid parameter: tag {key!r} has no Value")
        result[key] = validate_value(key, tag["Value"])
    _check_count(len(result))
    return tuple({"Key": k, "Value": v} for k, v in result.items())


def validate_keys(keys: object) -> tuple[str, ...]:
    if not isinstance(keys, (list, tuple)):
        raise InvalidParameter("Invalid parameter: tagKeys must be a list of strings")
    return tuple(validate_key(k) for k in keys)


def merge(existing: Iterable[dict[str, str]], added: Tags) -> Tags:
    """``existing`` with ``added`` set on it (values replaced, new keys appended)."""
    merged = {t["Key"]: t["Value"] for t in existing}
    merged.update((t["Key"], t["Value"]) for t in added)
    _check_count(len(merged))
    return tuple({"Key": k, "Value": v} for k, v in merged.items())


def remove(existing: Iterable[dict[str, str]], keys: Iterable[str]) -> Tags:
    gone = set(keys)
    return tuple(dict(t) for t in existing if t["Key"] not in gone)


def _check_count(count: int) -> None:
    if count > MAX_TAGS:
        raise TooManyTags(
            f"A resource can have at most {MAX_TAGS} tags; this request would leave {count}")
