"""Tag mutability settings: the exclusion-filter rules of CreateRepository/PutImageTagMutability,
and what the stored filters then mean for a push."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.immutability import (
    IMMUTABLE,
    IMMUTABLE_WITH_EXCLUSION,
    MODES,
    MUTABLE,
    MUTABLE_WITH_EXCLUSION,
    tag_is_immutable,
    validate_tag_mutability,
)
from dockyard.errors import InvalidParameter


def wildcard(*patterns: str) -> list[dict[str, str]]:
    return [{"filterType": "WILDCARD", "filter": p} for p in patterns]


@pytest.mark.parametrize("mode", [MUTABLE, IMMUTABLE])
def test_plain_modes_take_no_filters(mode: str) -> None:
    assert validate_tag_mutability(mode, None) == ()
    with pytest.raises(InvalidParameter, match="can only be given with"):
        validate_tag_mutability(mode, wildcard("dev-*"))
    with pytest.raises(InvalidParameter, match="can only be given with"):
        validate_tag_mutability(mode, [])


@pytest.mark.parametrize("mode", [IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION])
def test_exclusion_modes_need_one_to_five_filters(mode: str) -> None:
    with pytest.raises(InvalidParameter, match="requires 1-5 exclusion filters"):
        validate_tag_mutability(mode, None)
    for count in (0, 6):
        with pytest.raises(InvalidParameter, match="length between 1 and 5"):
            validate_tag_mutability(mode, wildcard(*[f"t{i}" for i in range(count)]))
    for count in (1, 5):
        filters = wildcard(*[f"t{i}-*" for i in range(count)])
        assert validate_tag_mutability(mode, filters) == tuple(filters)


@pytest.mark.parametrize("pattern", ["*", "latest", "v1.2.3", "dev-*", "*-rc*", "A_b.C-d",
                                     "a" * 128, "*" * 128])
def test_valid_filter_patterns(pattern: str) -> None:
    assert validate_tag_mutability(IMMUTABLE_WITH_EXCLUSION, wildcard(pattern)) == (
        {"filterType": "WILDCARD", "filter": pattern},)


@pytest.mark.parametrize("filters, problem", [
    (wildcard(""), "length between 1 and 128"),
    (wildcard("a" * 129), "length between 1 and 128"),
    (wildcard("dev/*"), "regular expression"),
    (wildcard("v?"), "regular expression"),
    (wildcard("[ab]"), "regular expression"),
    (wildcard("dev *"), "regular expression"),
    (wildcard("é"), "regular expression"),
    ([{"filterType": "REGEX", "filter": "x"}], "enum value set: [WILDCARD]"),
    ([{"filterType": "wildcard", "filter": "x"}], "enum value set: [WILDCARD]"),
    ([{"filter": "x"}], "enum value set: [WILDCARD]"),
    ([{"filterType": "WILDCARD"}], "length between 1 and 128"),
    ([{"filterType": "WILDCARD", "filter": 7}], "length between 1 and 128"),
    (["dev-*"], "must be an object"),
    ("dev-*", "length between 1 and 5"),
    ({"filterType": "WILDCARD", "filter": "x"}, "length between 1 and 5"),
])
def test_invalid_filters(filters: Any, problem: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        validate_tag_mutability(MUTABLE_WITH_EXCLUSION, filters)
    assert problem in info.value.message
    assert info.value.aws_type == "InvalidParameterException"


def test_the_failing_filter_is_named() -> None:
    with pytest.raises(InvalidParameter, match=r"imageTagMutabilityExclusionFilters\.2\.filter"):
        validate_tag_mutability(IMMUTABLE_WITH_EXCLUSION, wildcard("ok", "not/ok"))


@pytest.mark.parametrize("mode", [None, "", "mutable", "SOMETIMES", 1])
def test_unknown_modes(mode: Any) -> None:
    with pytest.raises(InvalidParameter, match="enum value set"):
        validate_tag_mutability(mode, None)


def test_filters_are_stored_with_only_their_two_fields() -> None:
    given = [{"filterType": "WILDCARD", "filter": "dev-*", "comment": "ignored"}]
    assert validate_tag_mutability(IMMUTABLE_WITH_EXCLUSION, given) == (
        {"filterType": "WILDCARD", "filter": "dev-*"},)


@pytest.mark.parametrize("mode, tag, immutable", [
    (MUTABLE, "v1", False),
    (IMMUTABLE, "dev-1", True),
    (IMMUTABLE_WITH_EXCLUSION, "v1", True),
    (IMMUTABLE_WITH_EXCLUSION, "dev-1", False),
    (IMMUTABLE_WITH_EXCLUSION, "latest", False),
    (IMMUTABLE_WITH_EXCLUSION, "latest-1", True),
    (MUTABLE_WITH_EXCLUSION, "v1", False),
    (MUTABLE_WITH_EXCLUSION, "dev-1", True),
    (MUTABLE_WITH_EXCLUSION, "DEV-1", False),  # filters match case-sensitively
])
def test_validated_filters_decide_immutability(mode: str, tag: str, immutable: bool) -> None:
    filters = validate_tag_mutability(mode, wildcard("dev-*", "latest")
                                      if mode in (IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION)
                                      else None)
    assert tag_is_immutable(mode, filters, tag) is immutable


def test_modes_are_ecrs() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("ecr")
    assert list(MODES) == model.shape_for("ImageTagMutability").enum
    pattern = model.shape_for("ImageTagMutabilityExclusionFilterValue").metadata["pattern"]
    assert pattern == "^[0-9a-zA-Z._*-]{1,128}$"
