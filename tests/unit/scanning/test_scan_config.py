"""Registry scanning rules: validation, ECR's wildcard filters, the effective repository setting."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidParameter
from dockyard.scanning.scan_config import filter_matches, for_repository, validate


@pytest.mark.parametrize(("pattern", "name", "expected"), [
    ("prod", "team/prod-api", True),  # no wildcard: contains
    ("prod", "team/staging", False),
    ("prod*", "prod/api", True),  # wildcard: whole name, * spans slashes
    ("prod*", "team/prod", False),
    ("*api", "team/prod-api", True),
    ("*api", "team/api-gw", False),
    ("team/*/api", "team/x/y/api", True),
    ("*", "anything/at/all", True),
])
def test_filter_matching(pattern: str, name: str, expected: bool) -> None:
    assert filter_matches(pattern, name) is expected


def rule(frequency: str, *filters: str) -> dict:
    return {"scanFrequency": frequency,
            "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"} for f in filters]}


def test_basic_rules_and_repository_scan_on_push() -> None:
    config = validate("BASIC", [rule("SCAN_ON_PUSH", "prod*")])
    assert for_repository(config, "prod/api", False).frequency == "SCAN_ON_PUSH"
    assert for_repository(config, "dev/api", False).frequency == "MANUAL"
    repo_level = for_repository(config, "dev/api", True)
    assert (repo_level.scan_on_push, repo_level.frequency, repo_level.applied_filters) == \
        (True, "SCAN_ON_PUSH", ())


def test_enhanced_strongest_rule_wins_and_repository_setting_is_ignored() -> None:
    config = validate("ENHANCED", [rule("SCAN_ON_PUSH", "*"), rule("CONTINUOUS_SCAN", "prod")])
    prod = for_repository(config, "team/prod", False)
    assert (prod.frequency, prod.continuous, prod.applied_filters) == (
        "CONTINUOUS_SCAN", True, ({"filter": "prod", "filterType": "WILDCARD"},))
    assert for_repository(config, "team/dev", False).frequency == "SCAN_ON_PUSH"
    assert for_repository(validate("ENHANCED", []), "x", True).frequency == "MANUAL"


@pytest.mark.parametrize(("scan_type", "rules"), [
    ("FANCY", []),
    ("BASIC", [rule("CONTINUOUS_SCAN", "x")]),
    ("ENHANCED", [rule("SCAN_ON_PUSH", "x"), rule("SCAN_ON_PUSH", "y")]),
    ("ENHANCED", [rule("SCAN_ON_PUSH", "x"), rule("MANUAL", "y"), rule("CONTINUOUS_SCAN", "z")]),
    ("BASIC", [rule("SCAN_ON_PUSH", "UPPER")]),
    ("BASIC", [{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [{"filter": "x"}]}]),
    ("BASIC", [{"scanFrequency": "DAILY", "repositoryFilters": []}]),
])
def test_invalid_configurations(scan_type: str, rules: list) -> None:
    with pytest.raises(InvalidParameter):
        validate(scan_type, rules)
