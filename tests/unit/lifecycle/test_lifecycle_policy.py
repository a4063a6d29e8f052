"""Validation of lifecycle policy text: ECR's constraints, with messages that say what is wrong."""

from __future__ import annotations

import json

import pytest

from dockyard.errors import InvalidParameter, ValidationError
from dockyard.lifecycle.policy import check_text_length, parse_policy

from .helpers import rule

PREFIX = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: " \
         "'Lifecycle policy validation failure: "


def refused(doc) -> str:
    text = doc if isinstance(doc, str) else json.dumps(doc)
    with pytest.raises(InvalidParameter) as info:
        parse_policy(text)
    assert info.value.aws_type == "InvalidParameterException"
    assert info.value.message.startswith(PREFIX), info.value.message
    return info.value.message


def test_documented_examples_are_accepted_and_sorted_by_priority():
    policy = parse_policy(json.dumps({"rules": [
        rule(5, "any", "sinceImagePushed", 90),
        rule(1, "untagged", "imageCountMoreThan", 1, description="Keep only one untagged image"),
        rule(3, "tagged", "imageCountMoreThan", 10, patterns=["*test*1*2*3", "test*1*2*3*"]),
        rule(2, "tagged", "sinceImagePulled", 30, prefixes=["prod", "release"]),
    ]}))
    assert [r.priority for r in policy.rules] == [1, 2, 3, 5]
    assert policy.rules[1].tag_prefixes == ("prod", "release")
    assert policy.rules[0].description == "Keep only one untagged image"


@pytest.mark.parametrize("doc, fragment", [
    ("{not json", "not valid JSON"),
    ([], "#: expected type: JSONObject"),
    ({}, "required key [rules]"),
    ({"rules": []}, "#/rules: expected minimum item count: 1"),
    ({"rules": {}}, "#/rules: expected type: JSONArray"),
    ({"rules": [], "extra": 1}, "extraneous key [extra]"),
    ({"rules": [{"selection": {}, "action": {"type": "expire"}}]}, "#/rules/0: required key [rulePriority]"),
    ({"rules": [{**rule(1, "any", "imageCountMoreThan", 1), "rulePriority": "1"}]},
     "#/rules/0/rulePriority: expected type: Integer, found: String"),
    ({"rules": [{**rule(1, "any", "imageCountMoreThan", 1), "rulePriority": 0}]},
     "0 is not greater or equal to 1"),
    ({"rules": [rule(1, "any", "imageCountMoreThan", 0)]}, "countNumber: 0 is not greater or equal to 1"),
    ({"rules": [rule(1, "any", "imageCountMoreThan", 1.5)]}, "countNumber: expected type: Integer"),
    ({"rules": [rule(1, "everything", "imageCountMoreThan", 1)]}, '"everything" is not a valid enum value'),
    ({"rules": [rule(1, "any", "imageCountLessThan", 1)]}, '"imageCountLessThan" is not a valid enum value'),
    ({"rules": [rule(1, "any", "sinceImagePushed", 1, countUnit="hours")]}, '"hours" is not a valid enum'),
    ({"rules": [{**rule(1, "any", "imageCountMoreThan", 1), "action": {"type": "delete"}}]},
     '"delete" is not a valid enum value'),
    ({"rules": [{**rule(1, "any", "imageCountMoreThan", 1), "notes": "x"}]}, "extraneous key [notes]"),
    ({"rules": [rule(1, "any", "imageCountMoreThan", 1, tagStatusx=1)]}, "extraneous key [tagStatusx]"),
    ({"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                                                 "countNumber": 1}}]}, "required key [action]"),
])
def test_schema_errors_point_at_the_field(doc, fragment):
    assert fragment in refused(doc)


@pytest.mark.parametrize("rules, fragment", [
    ([rule(1, "tagged", "imageCountMoreThan", 1)], "tagStatus 'tagged' requires a tagPrefixList or a tagPatternList"),
    ([rule(1, "tagged", "imageCountMoreThan", 1, prefixes=["a"], patterns=["b*"])], "not both"),
    ([rule(1, "untagged", "imageCountMoreThan", 1, prefixes=["a"])],
     "tagPrefixList can only be used with tagStatus 'tagged', not 'untagged'"),
    ([rule(1, "any", "imageCountMoreThan", 1, patterns=["a*"])],
     "tagPatternList can only be used with tagStatus 'tagged', not 'any'"),
    ([rule(1, "tagged", "imageCountMoreThan", 1, patterns=["test*1*2*3*4*5*6"])],
     "tag pattern 'test*1*2*3*4*5*6' has 6 wildcards; at most 4 are allowed"),
    ([rule(1, "tagged", "imageCountMoreThan", 1, prefixes=[])], "tagPrefixList: expected minimum item count: 1"),
    ([rule(1, "tagged", "imageCountMoreThan", 1, prefixes=[""])], "tagPrefixList/0: expected minLength: 1"),
    ([rule(1, "tagged", "imageCountMoreThan", 1, prefixes=[3])], "tagPrefixList/0: expected type: String"),
    ([{**rule(1, "any", "sinceImagePushed", 1), "selection": {
        "tagStatus": "any", "countType": "sinceImagePushed", "countNumber": 1}}],
     "countUnit is required with countType 'sinceImagePushed'"),
    ([rule(1, "any", "imageCountMoreThan", 1, countUnit="days")],
     "countUnit can only be used with countType 'sinceImagePushed' or 'sinceImagePulled'"),
    ([rule(1, "any", "imageCountMoreThan", 1), rule(1, "untagged", "imageCountMoreThan", 2)],
     "rulePriority 1 is used by more than one rule"),
    ([rule(1, "any", "imageCountMoreThan", 1), rule(2, "untagged", "imageCountMoreThan", 2)],
     "the rule with tagStatus 'any' (rulePriority 1) must have the highest rulePriority"),
    ([rule(1, "untagged", "imageCountMoreThan", 1), rule(2, "untagged", "sinceImagePushed", 2)],
     "only one rule can select untagged images; rules 1 and 2"),
    ([rule(1, "tagged", "imageCountMoreThan", 1, prefixes=["a", "b"]),
      rule(2, "tagged", "sinceImagePushed", 3, prefixes=["b", "a"])],
     "rules 1 and 2 have the same tagPrefixList"),
    ([rule(1, "tagged", "imageCountMoreThan", 1, patterns=["a*"]),
      rule(2, "tagged", "sinceImagePushed", 3, patterns=["a*"])], "same tagPatternList"),
    ([rule(1, "any", "sinceImageTransitioned", 1)], "archive storage class"),
    ([rule(1, "any", "imageCountMoreThan", 1, storageClass="archive")], "only the 'standard' storage class"),
    ([{**rule(1, "any", "imageCountMoreThan", 1), "action": {"type": "transition",
                                                              "targetStorageClass": "archive"}}],
     "action 'transition'"),
])
def test_semantic_errors_say_which_rule(rules, fragment):
    assert fragment in refused({"rules": rules})


def test_standard_storage_class_is_accepted():
    policy = parse_policy(json.dumps({"rules": [rule(1, "any", "imageCountMoreThan", 1, storageClass="standard")]}))
    assert policy.rules[0].count_number == 1


def test_text_length_is_a_validation_exception():
    with pytest.raises(ValidationError) as info:
        check_text_length("{}")
    assert info.value.aws_type == "ValidationException"
    assert "greater than or equal to 100" in info.value.message
    check_text_length("x" * 100)
    with pytest.raises(ValidationError):
        check_text_length("x" * 30721)
