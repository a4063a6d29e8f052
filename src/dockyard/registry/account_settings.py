"""Registry-wide settings: ECR's account settings and DescribeRegistry.

| name | values | default |
|---|---|---|
| BASIC_SCAN_TYPE_VERSION | AWS_NATIVE, CLAIR | AWS_NATIVE |
| REGISTRY_POLICY_SCOPE | V1, V2 | V2 |
| BLOB_MOUNTING | ENABLED, DISABLED | ENABLED |

ECR's documentation states no default for BLOB_MOUNTING (it describes turning it on, which suggests
DISABLED there). Dockyard stores every blob once whatever the repositories linking it, so mounting
only saves clients an upload; it defaults to ENABLED. ``put-account-setting --name BLOB_MOUNTING
--value DISABLED`` gives ECR's opt-in behaviour.
"""

from __future__ import annotations

from typing import Any

from dockyard.domain.models import Principal
from dockyard.errors import InvalidParameter
from dockyard.iam.authorizer import Authorizer
from dockyard.metadata.settings_store import SqlSettingsStore
from dockyard.registry.repositories import RegistryAddress

BASIC_SCAN_TYPE_VERSION = "BASIC_SCAN_TYPE_VERSION"
REGISTRY_POLICY_SCOPE = "REGISTRY_POLICY_SCOPE"
BLOB_MOUNTING = "BLOB_MOUNTING"
ENABLED, DISABLED = "ENABLED", "DISABLED"

# name -> (allowed values, default)
SETTINGS: dict[str, tuple[tuple[str, ...], str]] = {
    BASIC_SCAN_TYPE_VERSION: (("AWS_NATIVE", "CLAIR"), "AWS_NATIVE"),
    REGISTRY_POLICY_SCOPE: (("V1", "V2"), "V2"),
    BLOB_MOUNTING: ((ENABLED, DISABLED), ENABLED),
}


def registry_resource(address: RegistryAddress) -> str:
    """The resource that registry-level ECR actions are authorized on."""
    return f"arn:aws:ecr:{address.region}:{address.registry_id}:*"


class AccountSettingsService:
    def __init__(self, store: SqlSettingsStore, authz: Authorizer,
                 address: RegistryAddress) -> None:
        self.store = store
        self.authz = authz
        self.address = address

    def _check(self, caller: Principal | None, action: str) -> None:
        self.authz.check(caller, action, registry_resource(self.address))

    def get(self, caller: Principal | None, name: str) -> str:
        self._check(caller, "ecr:GetAccountSetting")
        _setting(name)
        return self.value(name)

    def put(self, caller: Principal | None, name: str, value: str) -> str:
        self._check(caller, "ecr:PutAccountSetting")
        allowed, _ = _setting(name)
        if value not in allowed:
            raise InvalidParameter(
                f"Invalid parameter at 'value' failed to satisfy constraint: 'the value of "
                f"{name} must be one of [{', '.join(allowed)}]' (got {value!r})")
        self.store.put_account_setting(name, value)
        return value

    def value(self, name: str) -> str:
        """The setting's value for the registry's own use (no caller, no authorization)."""
        stored = self.store.account_setting(name)
        return SETTINGS[name][1] if stored is None else stored

    def blob_mounting_enabled(self) -> bool:
        return self.value(BLOB_MOUNTING) == ENABLED

    def describe_registry(self, caller: Principal | None) -> tuple[str, tuple[Any, ...]]:
        """DescribeRegistry: the registry id and its replication rules (none: no replication)."""
        self._check(caller, "ecr:DescribeRegistry")
        return self.address.registry_id, ()


def _setting(name: object) -> tuple[tuple[str, ...], str]:
    if not isinstance(name, str) or name not in SETTINGS:
        raise InvalidParameter(
            f"Invalid parameter at 'name' failed to satisfy constraint: 'Member must satisfy "
            f"enum value set: [{', '.join(SETTINGS)}]' (got {name!r})")
    return SETTINGS[name]
