"""Property-based tests of the one evaluation: ECR's guarantees hold for any policy and images."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from dockyard.errors import InvalidParameter
from dockyard.lifecycle.evaluation import CHILD, REFERRER, RULE, ImageFacts, evaluate
from dockyard.lifecycle.policy import parse_policy

from .helpers import NOW, digest

TAGS = ["prod-1", "prod-2", "beta-1", "beta-2", "v1.0", "v2.0-rc1", "latest", "dev"]
PREFIXES = ["prod", "beta", "v", "v2", "la", "dev"]
PATTERNS = ["prod*", "*-1", "v*.*", "*rc*", "latest", "b*t*"]


@st.composite
def images(draw) -> list[ImageFacts]:
    count = draw(st.integers(0, 12))
    made: list[ImageFacts] = []
    for i in range(count):
        tags = tuple(sorted(draw(st.sets(st.sampled_from(TAGS), max_size=3))))
        pushed = NOW - timedelta(days=draw(st.floats(0, 60)))
        pulled = draw(st.one_of(st.none(), st.floats(0, 60)))
        earlier = [m.digest for m in made]
        kind = draw(st.sampled_from(["image", "image", "index", "referrer"])) if earlier else "image"
        children: tuple[str, ...] = ()
        subject = None
        if kind == "index":
            children = tuple(sorted(draw(st.sets(st.sampled_from(earlier), min_size=1, max_size=3))))
        elif kind == "referrer":
            subject = draw(st.sampled_from(earlier + [digest("missing")]))
        made.append(ImageFacts(digest(f"img{i}"), tags, pushed,
                               None if pulled is None else NOW - timedelta(days=pulled),
                               children=children, subject=subject))
    # every image's tag set is its own: a tag names one image
    seen: set[str] = set()
    unique = []
    for m in made:
        tags = tuple(t for t in m.tags if t not in seen)
        seen.update(tags)
        unique.append(ImageFacts(m.digest, tags, m.pushed_at, m.last_pulled_at,
                                 children=m.children, subject=m.subject))
    return unique


@st.composite
def policies(draw):  # type: ignore[no-untyped-def]
    rules = []
    count = draw(st.integers(1, 5))
    priorities = draw(st.lists(st.integers(1, 50), min_size=count, max_size=count, unique=True))
    for priority in priorities:
        status = draw(st.sampled_from(["tagged", "tagged", "untagged", "any"]))
        selection: dict = {"tagStatus": status}
        if status == "tagged":
            if draw(st.booleans()):
                selection["tagPrefixList"] = sorted(draw(st.sets(st.sampled_from(PREFIXES), min_size=1, max_size=2)))
            else:
                selection["tagPatternList"] = sorted(draw(st.sets(st.sampled_from(PATTERNS), min_size=1, max_size=2)))
        count_type = draw(st.sampled_from(["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled"]))
        selection["countType"] = count_type
        selection["countNumber"] = draw(st.integers(1, 6 if count_type == "imageCountMoreThan" else 40))
        if count_type != "imageCountMoreThan":
            selection["countUnit"] = "days"
        rules.append({"rulePriority": priority, "selection": selection, "action": {"type": "expire"}})
    try:
        return parse_policy(json.dumps({"rules": rules}))
    except InvalidParameter:
        assume(False)


def _checks(policy, imgs, plan) -> None:
    by_digest = {i.digest: i for i in imgs}
    # 1. an image is expired at most once (by at most one rule)
    assert len({e.digest for e in plan}) == len(plan)
    rules = {r.priority: r for r in policy.rules}
    for e in plan:
        if e.reason != RULE:
            continue
        root = by_digest[e.digest]
        rule = rules[e.rule_priority]
        # 2. the rule that expires an image selects it
        assert rule.selects(root.tags)
        # 3. no higher-priority rule selects it
        assert not any(r.selects(root.tags) for r in policy.rules if r.priority < rule.priority)
        # 4. the count criteria hold
        if rule.count_type == "sinceImagePushed":
            assert root.pushed_at < NOW - timedelta(days=rule.count_number)
        if rule.count_type == "imageCountMoreThan":
            younger = [i for i in imgs if rule.selects(i.tags) and (i.pushed_at, i.digest) > (root.pushed_at, root.digest)
                       and not any(i.digest in p.children for p in imgs)
                       and (i.subject is None or i.subject not in by_digest)]
            assert len(younger) >= rule.count_number
    gone = {e.digest for e in plan}
    for e in plan:
        image = by_digest[e.digest]
        # 5. nothing an index that stays refers to goes; no referrer goes without its subject
        assert not any(e.digest in p.children and p.digest not in gone for p in imgs)
        if image.subject in by_digest:  # a referrer lives and dies with its subject
            assert image.subject in gone and e.reason == REFERRER
        if e.reason == CHILD:
            assert not image.tags
    # 6. a referrer whose subject goes, goes too (unless an index that stays refers to it)
    for image in imgs:
        if image.subject in gone and not any(image.digest in p.children and p.digest not in gone
                                             for p in imgs):
            assert image.digest in gone
    # 7. deletion order: an image comes after every index and subject that held it
    position = {e.digest: n for n, e in enumerate(plan)}
    for e in plan:
        holders = [p.digest for p in imgs if e.digest in p.children]
        if by_digest[e.digest].subject in position:
            holders.append(by_digest[e.digest].subject)
        assert all(position[h] < position[e.digest] for h in holders if h in position)


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
          deadline=None)
@given(policies(), images(), st.randoms(use_true_random=False))
def test_ecr_guarantees_hold(policy, imgs, rng: random.Random):
    plan = evaluate(policy, imgs, NOW)
    note(f"plan: {[(e.digest[7:11], e.reason, e.unit[7:11]) for e in plan]}")
    note(f"images: {[(i.digest[7:11], i.tags, i.subject and i.subject[7:11], [c[7:11] for c in i.children]) for i in imgs]}")
    _checks(policy, imgs, plan)
    shuffled = list(imgs)
    rng.shuffle(shuffled)
    assert evaluate(policy, shuffled, NOW) == plan  # the input order does not matter


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(policies(), images())
def test_adding_a_lower_priority_rule_never_saves_an_image(policy, imgs):
    """Rules apply in priority order: a rule added after the others can only expire more."""
    before = {e.digest for e in evaluate(policy, imgs, NOW)}
    highest = max(r.priority for r in policy.rules)
    if any(r.tag_status == "any" for r in policy.rules):
        return
    extra = json.loads(policy.text)
    extra["rules"].append({"rulePriority": highest + 1, "selection": {
        "tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1},
        "action": {"type": "expire"}})
    try:
        bigger = parse_policy(json.dumps(extra))
    except InvalidParameter:
        return
    after = {e.digest for e in evaluate(bigger, imgs, NOW)}
    assert before <= after
