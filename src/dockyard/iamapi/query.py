"""The AWS query protocol as IAM and STS speak it (pure: no HTTP, no services).

Requests are form-encoded ``Action=CreateUser&Version=2010-05-08&UserName=bob``; lists and maps
are flattened as botocore's ``QuerySerializer`` does: ``Tags.member.1.Key=k``,
``TagKeys.member.1=k``. Responses are XML: ``<ActionResponse xmlns=ns><ActionResult>...
</ActionResult><ResponseMetadata><RequestId>..</RequestId></ResponseMetadata></ActionResponse>``,
lists as ``<Name><member>..</member></Name>``; errors are ``<ErrorResponse>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl
from xml.etree.ElementTree import Element, SubElement, tostring

from dockyard.errors import ValidationError

IAM_VERSION = "2010-05-08"
STS_VERSION = "2011-06-15"
NAMESPACES = {
    IAM_VERSION: "https://iam.amazonaws.com/doc/2010-05-08/",
    STS_VERSION: "https://sts.amazonaws.com/doc/2011-06-15/",
}
SERVICES = {IAM_VERSION: "iam", STS_VERSION: "sts"}
MAX_PARAMETERS = 2000
MAX_DEPTH = 8  # IAM/STS parameters nest at most Name.member.N.Field


def parse_form(body: bytes) -> dict[str, str]:
    """Decode a form body; a repeated key keeps its last value (as AWS does)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("The request body is not valid UTF-8") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_PARAMETERS)
    except ValueError:
        raise ValidationError(f"The request has more than {MAX_PARAMETERS} parameters") from None
    return dict(pairs)


def nest(flat: Mapping[str, str]) -> dict[str, Any]:
    """``{"Tags.member.1.Key": "k"}`` → ``{"Tags": [{"Key": "k"}]}``."""
    root: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        if not all(parts) or len(parts) > MAX_DEPTH:
            raise ValidationError(f"Invalid parameter name {key!r}")
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValidationError(f"Parameter {key!r} conflicts with another parameter")
            node = child
        if isinstance(node.get(parts[-1]), dict):
            raise ValidationError(f"Parameter {key!r} conflicts with another parameter")
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    members = node.get("member")
    if set(node) == {"member"} and isinstance(members, dict) and members and all(
            k.isdigit() for k in members):
        return [_lists(v) for _, v in sorted(members.items(), key=lambda kv: int(kv[0]))]
    return {k: _lists(v) for k, v in node.items()}


def timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC, as IAM writes it: ``2024-05-01T12:00:00Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _append(parent: Element, name: str, value: Any) -> None:
    if value is None:
        return
    element = SubElement(parent, name)
    if isinstance(value, Mapping):
        for key, item in value.items():
            _append(element, key, item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _append(element, "member", item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, datetime):
        element.text = timestamp(value)
    else:
        element.text = str(value)


def render_result(action: str, version: str, result: Mapping[str, Any] | None,
                  request_id: str) -> bytes:
    root = Element(f"{action}Response", xmlns=NAMESPACES[version])
    if result is not None:
        _append(root, f"{action}Result", result)
    metadata = SubElement(root, "ResponseMetadata")
    SubElement(metadata, "RequestId").text = request_id
    return tostring(root, encoding="utf-8", xml_declaration=True)


def render_error(code: str, message: str, status: int, request_id: str,
                 version: str = IAM_VERSION) -> bytes:
    root = Element("ErrorResponse", xmlns=NAMESPACES.get(version, NAMESPACES[IAM_VERSION]))
    error = SubElement(root, "Error")
    SubElement(error, "Type").text = "Receiver" if status >= 500 else "Sender"
    SubElement(error, "Code").text = code
    SubElement(error, "Message").text = message
    SubElement(root, "RequestId").text = request_id
    return tostring(root, encoding="utf-8", xml_declaration=True)
