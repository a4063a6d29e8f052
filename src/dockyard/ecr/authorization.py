"""ECR GetAuthorizationToken: a registry password for docker login, as ``base64("AWS:<password>")``."""

from __future__ import annotations

import base64
from typing import Any

from dockyard.ecr.context import Call
from dockyard.ecr.shapes import timestamp


def get_authorization_token(call: Call) -> dict[str, Any]:
    identity = call.services.identity
    identity.authorize_login(call.caller)
    claims = identity.issue_password(call.caller, call.access_key_id)
    token = base64.b64encode(f"AWS:{identity.password(claims)}".encode()).decode()
    return {"authorizationData": [{
        "authorizationToken": token,
        "expiresAt": timestamp(claims.expires_at),
        "proxyEndpoint": call.services.settings.endpoint,
    }]}
