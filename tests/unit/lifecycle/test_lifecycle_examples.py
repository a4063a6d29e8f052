"""The evaluator against the examples of ECR's lifecycle policy documentation, and Dockyard's units."""

from __future__ import annotations

import pytest

from dockyard.lifecycle.evaluation import CHILD, REFERRER, RULE, evaluate

from .helpers import NOW, digest, image, policy, rule


def expired(plan) -> dict[str, int]:
    return {e.digest: e.rule_priority for e in plan}


def names(plan, *candidates: str) -> list[str]:
    lookup = {digest(c): c for c in candidates}
    return [lookup[e.digest] for e in plan]


# --- "Filtering on image age" / "Filtering on image count" -----------------------------------------
def test_untagged_older_than_14_days_expire():
    p = policy(rule(1, "untagged", "sinceImagePushed", 14, description="Expire images older than 14 days"))
    images = [image("old", days_ago=20), image("young", days_ago=3), image("tagged-old", days_ago=30, tags=("v1",))]
    assert names(evaluate(p, images, NOW), "old", "young", "tagged-old") == ["old"]


def test_tagged_prod_pattern_older_than_14_days_expire():
    p = policy(rule(1, "tagged", "sinceImagePushed", 14, patterns=["prod*"]))
    images = [image("a", days_ago=15, tags=("prod",)), image("b", days_ago=15, tags=("prod2",)),
              image("c", days_ago=15, tags=("staging",)), image("d", days_ago=13, tags=("prod3",)),
              image("e", days_ago=40)]
    assert sorted(names(evaluate(p, images, NOW), "a", "b", "c", "d", "e")) == ["a", "b"]


def test_keep_only_one_untagged_image():
    p = policy(rule(1, "untagged", "imageCountMoreThan", 1))
    images = [image("u1", days_ago=5), image("u2", days_ago=4), image("u3", days_ago=3),
              image("t", days_ago=10, tags=("latest",))]
    plan = evaluate(p, images, NOW)
    assert names(plan, "u1", "u2", "u3", "t") == ["u1", "u2"]  # oldest first, the youngest kept
    assert all(e.reason == RULE and e.rule_priority == 1 for e in plan)


# --- "Filtering on multiple rules" ------------------------------------------------------------------
REPO_ABC = [image("A", days_ago=10, tags=("beta-1", "prod-1")),
            image("B", days_ago=9, tags=("beta-2", "prod-2")),
            image("C", days_ago=8, tags=("beta-3",))]


@pytest.mark.parametrize("kind", ["prefixes", "patterns"])
def test_multiple_rules_example_a(kind):
    prod = {kind: ["prod" if kind == "prefixes" else "prod*"]}
    beta = {kind: ["beta" if kind == "prefixes" else "beta*"]}
    p = policy(rule(1, "tagged", "imageCountMoreThan", 1, **prod),
               rule(2, "tagged", "imageCountMoreThan", 1, **beta))
    # Rule 1 expires A; rule 2 marks A and B, but B meets rule 1's tagging: only A expires.
    assert expired(evaluate(p, REPO_ABC, NOW)) == {digest("A"): 1}


@pytest.mark.parametrize("kind", ["prefixes", "patterns"])
def test_multiple_rules_example_b(kind):
    prod = {kind: ["prod" if kind == "prefixes" else "prod*"]}
    beta = {kind: ["beta" if kind == "prefixes" else "beta*"]}
    p = policy(rule(1, "tagged", "imageCountMoreThan", 1, **beta),
               rule(2, "tagged", "imageCountMoreThan", 1, **prod))
    assert expired(evaluate(p, REPO_ABC, NOW)) == {digest("A"): 1, digest("B"): 1}


# --- "Filtering on multiple tags in a single rule" --------------------------------------------------
def test_multiple_prefixes_must_all_match_example_a():
    images = [image("A", days_ago=12, tags=("alpha-1",)), image("B", days_ago=11, tags=("beta-1",)),
              image("C", days_ago=10, tags=("alpha-2", "beta-2")), image("D", days_ago=4, tags=("alpha-3",)),
              image("E", days_ago=3, tags=("beta-3",)), image("F", days_ago=2, tags=("alpha-4", "beta-4"))]
    for selection in ({"prefixes": ["alpha", "beta"]}, {"patterns": ["alpha*", "beta*"]}):
        p = policy(rule(1, "tagged", "sinceImagePushed", 5, **selection))
        assert expired(evaluate(p, images, NOW)) == {digest("C"): 1}


def test_tags_are_not_exclusive_example_b():
    images = [image("A", days_ago=10, tags=("alpha-1", "beta-1", "gamma-1")),
              image("B", days_ago=9, tags=("alpha-2", "beta-2")),
              image("C", days_ago=8, tags=("alpha-3", "beta-3", "gamma-2"))]
    p = policy(rule(1, "tagged", "imageCountMoreThan", 1, prefixes=["alpha", "beta"]))
    assert names(evaluate(p, images, NOW), "A", "B", "C") == ["A", "B"]


# --- "Filtering on all images" ----------------------------------------------------------------------
def test_any_rule_last_counts_every_image():
    images = [image("A", days_ago=4, tags=("alpha-1",)), image("B", days_ago=3),
              image("C", days_ago=2, tags=("alpha-2",)), image("D", days_ago=1, tags=("beta-1",))]
    p = policy(rule(1, "tagged", "imageCountMoreThan", 1, prefixes=["alpha"]),
               rule(2, "any", "imageCountMoreThan", 1))
    # Rule 1 expires A (keeps C). Rule 2 keeps the youngest image (D) and marks A, B, C: A and C
    # meet rule 1's tagging, so only B expires by rule 2.
    assert expired(evaluate(p, images, NOW)) == {digest("A"): 1, digest("B"): 2}


def test_untagged_and_any_rules_together():
    images = [image("u-old", days_ago=30), image("u-new", days_ago=1),
              image("t-old", days_ago=60, tags=("v1",)), image("t-new", days_ago=2, tags=("v2",))]
    p = policy(rule(1, "untagged", "sinceImagePushed", 7), rule(2, "any", "sinceImagePushed", 45))
    assert expired(evaluate(p, images, NOW)) == {digest("u-old"): 1, digest("t-old"): 2}


# --- wildcards -------------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern, tag, matches", [
    ("prod*", "prod", True), ("prod*", "production-1", True), ("prod*", "preprod", False),
    ("*prod", "preprod", True), ("*-rc*", "1.2-rc3", True), ("*-rc*", "1.2", False),
    ("v*.*.*", "v1.22.3", True), ("v*.*.*", "v1.2", False), ("latest", "latest", True),
    ("latest", "latest2", False), ("*", "anything", True), ("a.b", "axb", False),
])
def test_tag_patterns(pattern, tag, matches):
    p = policy(rule(1, "tagged", "imageCountMoreThan", 1, patterns=[pattern]))
    assert p.rules[0].selects((tag,)) is matches


# --- counts and ages --------------------------------------------------------------------------------
def test_since_image_pulled_uses_the_last_pull_or_the_push():
    images = [image("pulled-recently", days_ago=100, pulled_days_ago=1),
              image("pulled-long-ago", days_ago=100, pulled_days_ago=40),
              image("never-pulled-old", days_ago=40), image("never-pulled-new", days_ago=5)]
    p = policy(rule(1, "any", "sinceImagePulled", 30))
    got = set(names(evaluate(p, images, NOW), "pulled-recently", "pulled-long-ago", "never-pulled-old",
                    "never-pulled-new"))
    assert got == {"pulled-long-ago", "never-pulled-old"}


def test_exactly_the_age_limit_is_not_older():
    p = policy(rule(1, "any", "sinceImagePushed", 14))
    assert evaluate(p, [image("edge", days_ago=14)], NOW) == []
    assert len(evaluate(p, [image("past", days_ago=14.001)], NOW)) == 1


def test_count_keeps_exactly_n_newest():
    p = policy(rule(1, "tagged", "imageCountMoreThan", 3, prefixes=["build-"]))
    images = [image(f"b{i}", days_ago=10 - i, tags=(f"build-{i}",)) for i in range(8)]
    plan = evaluate(p, images, NOW)
    assert names(plan, *[f"b{i}" for i in range(8)]) == ["b0", "b1", "b2", "b3", "b4"]


# --- Dockyard's units: multi-arch indexes and referrers ---------------------------------------------
def test_children_of_an_index_are_kept_while_the_index_stays():
    images = [image("amd64", days_ago=30), image("arm64", days_ago=30),
              image("index", days_ago=30, tags=("v1",), children=("amd64", "arm64"))]
    p = policy(rule(1, "untagged", "sinceImagePushed", 1))
    assert evaluate(p, images, NOW) == []  # the untagged children are not images of their own


def test_an_expiring_index_takes_its_children_and_referrers():
    images = [image("amd64", days_ago=30), image("arm64", days_ago=30),
              image("index", days_ago=30, tags=("v1",), children=("amd64", "arm64")),
              image("sig", days_ago=29, subject="index"), image("sbom", days_ago=29, subject="amd64"),
              image("sbom-sig", days_ago=28, subject="sbom"),
              image("new-index", days_ago=1, tags=("v2",), children=("arm64",))]
    p = policy(rule(1, "tagged", "imageCountMoreThan", 1, patterns=["v*"]))
    plan = evaluate(p, images, NOW)
    by_name = dict(zip(names(plan, "amd64", "arm64", "index", "sig", "sbom", "sbom-sig", "new-index"),
                       plan))
    # arm64 stays: the surviving index v2 still refers to it
    assert list(by_name) == ["index", "amd64", "sig", "sbom", "sbom-sig"]
    assert by_name["index"].reason == RULE
    assert by_name["amd64"].reason == CHILD and by_name["sig"].reason == REFERRER
    assert {e.unit for e in plan} == {digest("index")}
    assert {e.rule_priority for e in plan} == {1}


def test_tagged_children_survive_their_index():
    images = [image("amd64", days_ago=30, tags=("v1-amd64",)),
              image("index", days_ago=30, tags=("v1",), children=("amd64",))]
    p = policy(rule(1, "tagged", "sinceImagePushed", 7, prefixes=["v1"]))
    # the child has a tag of its own, so it is an image of its own once its index is gone
    assert names(evaluate(p, images, NOW), "index", "amd64") == ["index"]


def test_a_multi_arch_index_counts_as_one_image():
    images = [image(f"c{i}", days_ago=5) for i in range(6)]
    images += [image("i1", days_ago=5, tags=("r1",), children=("c0", "c1", "c2")),
               image("i2", days_ago=4, tags=("r2",), children=("c3", "c4", "c5"))]
    p = policy(rule(1, "any", "imageCountMoreThan", 2))
    assert evaluate(p, images, NOW) == []


def test_referrers_of_a_missing_subject_are_images_of_their_own():
    images = [image("orphan-sig", days_ago=20, subject="gone")]
    p = policy(rule(1, "untagged", "sinceImagePushed", 7))
    assert names(evaluate(p, images, NOW), "orphan-sig") == ["orphan-sig"]
