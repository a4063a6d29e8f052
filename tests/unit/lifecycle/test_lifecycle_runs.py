"""Lifecycle previews and runs on a real registry: the preview is what the run does."""

from __future__ import annotations

import json
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.domain.events import ImageDeleted
from dockyard.errors import (
    LifecyclePolicyNotFound,
    LifecyclePolicyPreviewInProgress,
    RepositoryNotFound,
)
from dockyard.lifecycle.service import PREVIEW

from ..gc.registry import Registry, image, index
from .helpers import rule

REPO = "team/app"


def policy_text(*rules) -> str:
    return json.dumps({"rules": list(rules)})


@pytest.fixture
def registry(tmp_path) -> Registry:
    reg = Registry(tmp_path / "data")
    reg.create(REPO)
    return reg


def push_daily(registry: Registry, *items) -> None:
    """Push (image, tag) pairs one day apart, oldest first."""
    for img, tag in items:
        registry.push(REPO, img, tag)
        registry.clock.advance(days=1)


def preview(registry: Registry, text: str | None = None) -> list[dict]:
    lifecycle = registry.services.lifecycle
    started = lifecycle.start_preview(registry.admin, REPO, text)
    assert started.status == "IN_PROGRESS"
    job = registry.services.jobs.claim("test", [PREVIEW], timedelta(minutes=1))
    assert job is not None
    lifecycle.run_preview(job.payload)
    page = lifecycle.get_preview(registry.admin, REPO)
    assert page.preview.status == "COMPLETE"
    return page.results


def survivors(registry: Registry) -> set[str]:
    return {r.digest for r in registry.services.catalog.describe_images(registry.admin, REPO)[0]}


def test_a_run_expires_what_the_preview_showed_and_records_it(registry):
    imgs = [image(f"build{i}") for i in range(5)]
    push_daily(registry, *[(img, f"build-{i}") for i, img in enumerate(imgs)],
               (image("untagged-1"), None), (image("untagged-2"), None))
    text = policy_text(rule(1, "untagged", "imageCountMoreThan", 1),
                       rule(2, "tagged", "imageCountMoreThan", 2, prefixes=["build-"]))
    registry.services.lifecycle.put_policy(registry.admin, REPO, text)
    shown = preview(registry)
    assert [r["imageDigest"] for r in shown] == [imgs[0].digest, imgs[1].digest, imgs[2].digest,
                                                 image("untagged-1").digest]
    assert [r["appliedRulePriority"] for r in shown] == [2, 2, 2, 1]
    deleted: list[str] = []
    registry.services.events.subscribe(ImageDeleted, lambda e: deleted.append(e.digest))
    before = survivors(registry)
    report = registry.services.lifecycle.run(REPO)
    assert [e.digest for _, e in report.expired] == [r["imageDigest"] for r in shown]
    assert deleted == [r["imageDigest"] for r in shown]
    assert survivors(registry) == before - set(deleted)
    records = registry.services.lifecycle.store.expiries(REPO)
    assert {(r["image_digest"], r["rule_priority"], r["run_id"]) for r in records} == {
        (r["imageDigest"], r["appliedRulePriority"], report.run_id) for r in shown}
    assert {tuple(r["image_tags"]) for r in records if r["rule_priority"] == 2} == {
        ("build-0",), ("build-1",), ("build-2",)}
    assert all(r["expired_at"] == registry.clock.now() for r in records)
    stored = registry.services.lifecycle.get_policy(registry.admin, REPO)
    assert stored.last_evaluated_at == registry.clock.now()


def test_a_dry_run_changes_nothing(registry):
    push_daily(registry, (image("a"), None), (image("b"), None))
    registry.services.lifecycle.put_policy(registry.admin, REPO, policy_text(
        rule(1, "untagged", "imageCountMoreThan", 1)))
    before = survivors(registry)
    report = registry.services.lifecycle.run(REPO, dry_run=True)
    assert [e.digest for _, e in report.expired] == [image("a").digest]
    assert survivors(registry) == before
    assert registry.services.lifecycle.store.expiries(REPO) == []


def test_an_image_changed_since_the_evaluation_is_left_for_the_next_run(registry):
    old, new = image("old"), image("new")
    push_daily(registry, (old, None), (new, None))
    lifecycle = registry.services.lifecycle
    plan = lifecycle.plan(registry.services.repositories.store.get_repository(REPO).id,
                          policy_text(rule(1, "untagged", "imageCountMoreThan", 1)),
                          registry.clock.now())
    assert [e.digest for e in plan] == [old.digest]
    registry.put_manifest(REPO, old, "rescued")  # someone tags it meanwhile
    repo_id = registry.services.repositories.store.get_repository(REPO).id
    assert lifecycle.store.expire(repo_id, REPO, plan[0], "run", registry.clock.now()) is False
    assert old.digest in survivors(registry)


def test_a_multi_arch_index_and_its_signature_expire_as_one_unit(registry):
    amd, arm = image("amd"), image("arm")
    for img in (amd, arm):
        registry.push(REPO, img)
    v1 = index(amd, arm)
    registry.push(REPO, v1, "v1")
    signature = image("signature", subject=v1)
    registry.push(REPO, signature)
    sbom = image("sbom", subject=amd)
    registry.push(REPO, sbom)
    registry.clock.advance(days=10)
    v2_amd = image("v2-amd")
    registry.push(REPO, v2_amd)
    v2 = index(v2_amd, arm)  # shares the arm64 image with v1
    registry.push(REPO, v2, "v2")
    registry.services.lifecycle.put_policy(registry.admin, REPO, policy_text(
        rule(1, "untagged", "sinceImagePushed", 1), rule(2, "any", "imageCountMoreThan", 1)))
    shown = preview(registry)
    # the index first, then (in waves) what goes with it: not the arm64 image v2 still uses
    assert shown[0]["imageDigest"] == v1.digest
    assert {r["imageDigest"] for r in shown[1:3]} == {amd.digest, signature.digest}
    assert shown[3]["imageDigest"] == sbom.digest  # after its subject
    assert {r["appliedRulePriority"] for r in shown} == {2}
    registry.services.lifecycle.run(REPO)
    assert survivors(registry) == {arm.digest, v2.digest, v2_amd.digest}


def test_errors(registry):
    lifecycle = registry.services.lifecycle
    with pytest.raises(LifecyclePolicyNotFound):
        lifecycle.run(REPO)
    with pytest.raises(RepositoryNotFound):
        lifecycle.run("no/such")
    with pytest.raises(LifecyclePolicyNotFound):
        lifecycle.start_preview(registry.admin, REPO)
    text = policy_text(rule(1, "any", "imageCountMoreThan", 5))
    lifecycle.start_preview(registry.admin, REPO, text)
    with pytest.raises(LifecyclePolicyPreviewInProgress):
        lifecycle.start_preview(registry.admin, REPO, text)
    registry.clock.advance(minutes=11)  # its job was lost: a new preview may start
    assert lifecycle.start_preview(registry.admin, REPO, text).status == "IN_PROGRESS"


# --- preview equals the real run, on any state --------------------------------------------------
TAGS = ["prod-1", "prod-2", "beta-1", "v1", "v2", "latest"]


@st.composite
def repository_states(draw):  # type: ignore[no-untyped-def]
    steps = []
    for i in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["image", "image", "index", "referrer"])) if i else "image"
        tag = draw(st.one_of(st.none(), st.sampled_from(TAGS)))
        days = draw(st.integers(0, 20))
        pick = draw(st.integers(0, 100))
        steps.append((kind, tag, days, pick))
    rules = [rule(1, "untagged", draw(st.sampled_from(["imageCountMoreThan", "sinceImagePushed"])),
                  draw(st.integers(1, 3))),
             rule(2, "tagged", "imageCountMoreThan", draw(st.integers(1, 3)),
                  patterns=[draw(st.sampled_from(["prod*", "v*", "*-1"]))])]
    if draw(st.booleans()):
        rules.append(rule(3, "any", "sinceImagePulled", draw(st.integers(1, 15))))
    return steps, rules


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(repository_states())
def test_preview_equals_the_real_run(state):
    steps, rules = state
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry(Path(tmp) / "data")
        registry.create(REPO)
        pushed: list = []
        for n, (kind, tag, days, pick) in enumerate(steps):
            if kind == "index":
                chosen = {pushed[k % len(pushed)].digest: pushed[k % len(pushed)]
                          for k in (pick, pick // 7)}
                img = index(*chosen.values())
            elif kind == "referrer":
                img = image(f"ref{n}", subject=pushed[pick % len(pushed)])
            else:
                img = image(f"img{n}")
            registry.push(REPO, img, tag)
            pushed.append(img)
            registry.clock.advance(days=days)
        registry.services.lifecycle.put_policy(registry.admin, REPO, policy_text(*rules))
        shown = preview(registry)
        before = survivors(registry)
        report = registry.services.lifecycle.run(REPO)
        assert report.skipped == [] and report.errors == {}
        assert [e.digest for _, e in report.expired] == [r["imageDigest"] for r in shown]
        assert [e.rule_priority for _, e in report.expired] == [r["appliedRulePriority"]
                                                                 for r in shown]
        assert survivors(registry) == before - {r["imageDigest"] for r in shown}
