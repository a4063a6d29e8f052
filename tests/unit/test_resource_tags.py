"""Resource tags: AWS's key/value rules, the 50-tag limit, merge and removal."""

from __future__ import annotations

from typing import Any

import pytest

from dockyard.domain.resource_tags import merge, remove, validate_keys, validate_tags
from dockyard.errors import InvalidParameter, InvalidTagParameter, TooManyTags


def tag(key: str, value: str = "v") -> dict[str, str]:
    return {"Key": key, "Value": value}


def test_valid_tags_keep_order_and_last_value() -> None:
    given = [tag("b", "1"), tag("a", ""), tag("b", "2"), tag("Cost Center", "é ü"),
             tag("k.:/=+-@_", "v.:/=+-@_ ")]
    assert validate_tags(given) == (tag("b", "2"), tag("a", ""), tag("Cost Center", "é ü"),
                                    tag("k.:/=+-@_", "v.:/=+-@_ "))
    assert validate_tags([]) == ()
    assert validate_tags([tag("k" * 128, "v" * 256)]) == (tag("k" * 128, "v" * 256),)


@pytest.mark.parametrize("tags", [
    [tag("")], [tag("k" * 129)], [tag("k", "v" * 257)], [tag("aws:x")], [tag("Aws:x")],
    [tag("a#b")], [tag("k", "a|b")],
])
def test_tags_breaking_the_rules(tags: Any) -> None:
    with pytest.raises(InvalidTagParameter) as info:
        validate_tags(tags)
    assert info.value.aws_type == "InvalidTagParameterException"


@pytest.mark.parametrize("tags", [
    [{"Key": "k"}], [{"Value": "v"}], [{"Key": 1, "Value": "v"}], [{"Key": "k", "Value": None}],
    ["k=v"], "k=v", None,
])
def test_malformed_tags(tags: Any) -> None:
    with pytest.raises(InvalidParameter) as info:
        validate_tags(tags)
    assert info.value.aws_type == "InvalidParameterException"


def test_fifty_tags_at_most() -> None:
    fifty = [tag(f"k{i}") for i in range(50)]
    assert len(validate_tags(fifty)) == 50
    with pytest.raises(TooManyTags):
        validate_tags([*fifty, tag("one-more")])
    existing = validate_tags(fifty[:49])
    assert len(merge(existing, (tag("k0", "new"), tag("k49")))) == 50
    with pytest.raises(TooManyTags) as info:
        merge(existing, (tag("x"), tag("y")))
    assert info.value.aws_type == "TooManyTagsException"


def test_merge_and_remove() -> None:
    existing = (tag("a", "1"), tag("b", "2"))
    assert merge(existing, (tag("b", "3"), tag("c", "4"))) == (tag("a", "1"), tag("b", "3"),
                                                               tag("c", "4"))
    assert remove(existing, ["a", "missing"]) == (tag("b", "2"),)
    assert validate_keys(["a", "b"]) == ("a", "b")
    for bad in (["aws:x"], [""]):
        with pytest.raises(InvalidTagParameter):
            validate_keys(bad)
    for bad in ([3], "a"):
        with pytest.raises(InvalidParameter) as info:
            validate_keys(bad)
        assert info.value.aws_type == "InvalidParameterException"
