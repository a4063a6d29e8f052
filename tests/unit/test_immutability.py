"""dockyard.domain.immutability: ECR's four tag mutability modes and their exclusion filters."""

from __future__ import annotations

import botocore.session
import pytest

from dockyard.domain.immutability import (
    IMMUTABLE,
    IMMUTABLE_WITH_EXCLUSION,
    MODES,
    MUTABLE,
    MUTABLE_WITH_EXCLUSION,
    tag_is_immutable,
)

FILTERS = [{"filterType": "WILDCARD", "filter": "latest"},
           {"filterType": "WILDCARD", "filter": "dev-*"},
           {"filterType": "WILDCARD", "filter": "*-snapshot"},
           {"filterType": "WILDCARD", "filter": "v*.*-rc*"}]
EXCLUDED = ["latest", "dev-", "dev-123", "dev-feature.x", "1.0-snapshot", "-snapshot", "v1.2-rc1",
            "v10.0-rc"]
NOT_EXCLUDED = ["Latest", "latest2", "xlatest", "dev", "Dev-1", "1.0-snapshots", "v1.2", "1.2-rc1",
                "release"]


def test_modes_are_ecr_s() -> None:
    shape = botocore.session.get_session().get_service_model("ecr").shape_for("ImageTagMutability")
    assert set(MODES) == set(shape.enum)


@pytest.mark.parametrize("tag", EXCLUDED + NOT_EXCLUDED)
def test_mutable(tag: str) -> None:
    assert tag_is_immutable(MUTABLE, FILTERS, tag) is False
    assert tag_is_immutable(MUTABLE, [], tag) is False


@pytest.mark.parametrize("tag", EXCLUDED + NOT_EXCLUDED)
def test_immutable_ignores_filters(tag: str) -> None:
    assert tag_is_immutable(IMMUTABLE, FILTERS, tag) is True
    assert tag_is_immutable(IMMUTABLE, [], tag) is True


@pytest.mark.parametrize("tag", EXCLUDED)
def test_immutable_with_exclusion_excluded_tags_are_mutable(tag: str) -> None:
    assert tag_is_immutable(IMMUTABLE_WITH_EXCLUSION, FILTERS, tag) is False


@pytest.mark.parametrize("tag", NOT_EXCLUDED)
def test_immutable_with_exclusion_other_tags_are_immutable(tag: str) -> None:
    assert tag_is_immutable(IMMUTABLE_WITH_EXCLUSION, FILTERS, tag) is True


@pytest.mark.parametrize("tag", EXCLUDED)
def test_mutable_with_exclusion_excluded_tags_are_immutable(tag: str) -> None:
    assert tag_is_immutable(MUTABLE_WITH_EXCLUSION, FILTERS, tag) is True


@pytest.mark.parametrize("tag", NOT_EXCLUDED)
def test_mutable_with_exclusion_other_tags_are_mutable(tag: str) -> None:
    assert tag_is_immutable(MUTABLE_WITH_EXCLUSION, FILTERS, tag) is False


def test_exclusion_modes_without_filters() -> None:
    assert tag_is_immutable(IMMUTABLE_WITH_EXCLUSION, [], "latest") is True
    assert tag_is_immutable(MUTABLE_WITH_EXCLUSION, [], "latest") is False


def test_filters_are_case_sensitive() -> None:
    filters = [{"filterType": "WILDCARD", "filter": "Release-*"}]
    assert tag_is_immutable(MUTABLE_WITH_EXCLUSION, filters, "Release-1") is True
    assert tag_is_immutable(MUTABLE_WITH_EXCLUSION, filters, "release-1") is False


def test_star_matches_everything() -> None:
    filters = [{"filterType": "WILDCARD", "filter": "*"}]
    assert tag_is_immutable(IMMUTABLE_WITH_EXCLUSION, filters, "anything") is False
    assert tag_is_immutable(MUTABLE_WITH_EXCLUSION, filters, "anything") is True


def test_filters_accept_any_iterable() -> None:
    assert tag_is_immutable(MUTABLE_WITH_EXCLUSION, tuple(FILTERS), "latest") is True
    assert tag_is_immutable(MUTABLE_WITH_EXCLUSION, (f for f in FILTERS), "latest") is True
