"""ECR policies and registry settings: repository policies, the registry policy,
DescribeRegistry, GetAccountSetting and PutAccountSetting."""

from __future__ import annotations

from typing import Any

from dockyard.ecr.context import Call


def _registry_id(call: Call) -> str:
    return call.services.repositories.address.registry_id


def _repository_policy(call: Call, name: str, text: str) -> dict[str, Any]:
    return {"registryId": _registry_id(call), "repositoryName": name, "policyText": text}


def set_repository_policy(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    text = call.services.policies.set_repository_policy(
        call.caller, name, call.required("policyText"), force=call.optional("force", bool, False))
    return _repository_policy(call, name, text)


def get_repository_policy(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    return _repository_policy(call, name,
                              call.services.policies.get_repository_policy(call.caller, name))


def delete_repository_policy(call: Call) -> dict[str, Any]:
    call.check_registry()
    name = call.required("repositoryName")
    return _repository_policy(call, name,
                              call.services.policies.delete_repository_policy(call.caller, name))


def put_registry_policy(call: Call) -> dict[str, Any]:
    text = call.services.policies.put_registry_policy(call.caller, call.required("policyText"))
    return {"registryId": _registry_id(call), "policyText": text}


def get_registry_policy(call: Call) -> dict[str, Any]:
    text = call.services.policies.get_registry_policy(call.caller)
    return {"registryId": _registry_id(call), "policyText": text}


def delete_registry_policy(call: Call) -> dict[str, Any]:
    text = call.services.policies.delete_registry_policy(call.caller)
    return {"registryId": _registry_id(call), "policyText": text}


def describe_registry(call: Call) -> dict[str, Any]:
    registry_id, rules = call.services.account_settings.describe_registry(call.caller)
    return {"registryId": registry_id, "replicationConfiguration": {"rules": list(rules)}}


def get_account_setting(call: Call) -> dict[str, Any]:
    name = call.required("name")
    return {"name": name, "value": call.services.account_settings.get(call.caller, name)}


def put_account_setting(call: Call) -> dict[str, Any]:
    name = call.required("name")
    value = call.services.account_settings.put(call.caller, name, call.required("value"))
    return {"name": name, "value": value}
