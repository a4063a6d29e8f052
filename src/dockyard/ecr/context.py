"""What every ECR operation receives: the caller, the services, and the decoded request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dockyard.domain.models import Principal
from dockyard.errors import InvalidParameter, ValidationError
from dockyard.services import Services


@dataclass(frozen=True)
class Call:
    caller: Principal
    access_key_id: str
    services: Services
    params: dict[str, Any]

    def required(self, field: str, kind: type = str) -> Any:
        value = self.params.get(field)
        if value is None:
            raise InvalidParameter(f"Invalid parameter: '{field}' is required")
        return self.typed(field, value, kind)

    def optional(self, field: str, kind: type = str, default: Any = None) -> Any:
        value = self.params.get(field)
        return default if value is None else self.typed(field, value, kind)

    @staticmethod
    def typed(field: str, value: Any, kind: type) -> Any:
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            raise ValidationError(f"1 validation error detected: Value at '{field}' failed to "
                                  f"satisfy constraint: Member must be of type {kind.__name__}")
        return value

    def max_results(self, default: int, upper: int = 1000) -> int:
        """``maxResults``: absent means ``default``; otherwise 1..``upper``."""
        value = self.optional("maxResults", int)
        if value is None:
            return default
        if not 1 <= value <= upper:
            raise InvalidParameter(
                f"Invalid parameter at 'maxResults' failed to satisfy constraint: 'Member must "
                f"have value less than or equal to {upper} and greater than or equal to 1'")
        return value

    def scan_on_push(self, default: bool = False) -> bool:
        """``imageScanningConfiguration.scanOnPush``, which must be a JSON boolean."""
        config = self.optional("imageScanningConfiguration", dict, {})
        value = config.get("scanOnPush", default)
        if not isinstance(value, bool):
            raise ValidationError("1 validation error detected: Value at "
                                  "'imageScanningConfiguration.scanOnPush' failed to satisfy "
                                  "constraint: Member must be of type boolean")
        return value

    def check_registry(self) -> None:
        registry_id = self.optional("registryId")
        own = self.services.identity.registry.registry_id
        if registry_id is not None and registry_id != own:
            raise InvalidParameter(
                f"Invalid parameter at 'registryId': registry '{registry_id}' is not this registry "
                f"('{own}')")
