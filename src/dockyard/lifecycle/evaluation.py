"""The one evaluation of a lifecycle policy, pure: the preview shows it, a run executes it.

ECR's rules, as its documentation states them:
- all rules are evaluated against the same images; an image is expired by at most one rule;
- an image that meets the tagging requirements of a rule is never expired by a lower-priority rule
  (a rule still *counts* images a higher-priority rule selected or expired);
- ``imageCountMoreThan N``: the matching images, youngest push first, beyond the first N expire;
  ``sinceImagePushed N days``: matching images pushed more than N days ago expire;
  ``sinceImagePulled N days``: matching images not pulled for more than N days expire (an image
  never pulled counts from its push);
- expiry is ordered by push time, oldest first.

Beyond ECR, images are evaluated as units (aws/containers-roadmap#1466, #2613): a manifest that an
index in the repository refers to is not evaluated on its own — it stays while the index does —
and a manifest whose ``subject`` is in the repository (a signature, an SBOM, an attestation) is not
evaluated on its own either. When a unit expires, its referrers go with it (recursively), and so
do its untagged children that no surviving index still refers to. A unit's pull time is the latest
pull of its index or of any of its children.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dockyard.lifecycle.policy import (
    IMAGE_COUNT_MORE_THAN,
    SINCE_IMAGE_PULLED,
    SINCE_IMAGE_PUSHED,
    LifecyclePolicy,
)

RULE, CHILD, REFERRER = "rule", "child", "referrer"


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What the evaluation knows of one manifest in the repository."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    last_pulled_at: datetime | None = None
    media_type: str = ""
    image_size: int = 0
    subject: str | None = None
    children: tuple[str, ...] = ()  # manifests an index refers to


@dataclass(frozen=True, slots=True)
class Expiry:
    """One image a policy expires: by a rule (a unit's root) or along with a unit."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    rule_priority: int
    reason: str  # rule | child | referrer
    unit: str  # digest of the unit's root whose expiry takes this image
    subject: str | None = None
    media_type: str = ""
    image_size: int = 0


def evaluate(policy: LifecyclePolicy, images: Sequence[ImageFacts], now: datetime) -> list[Expiry]:
    """The images ``policy`` expires, in the order to delete them.

    Unit roots come first, oldest push first; then the images that go with them, each after every
    index (or subject) that held it. Deterministic for a given input.
    """
    by_digest = {i.digest: i for i in images}
    parents: dict[str, set[str]] = {}
    for image in images:
        for child in image.children:
            if child in by_digest and child != image.digest:
                parents.setdefault(child, set()).add(image.digest)
    referrers: dict[str, list[str]] = {}
    for image in images:
        if image.subject is not None and image.subject in by_digest:
            referrers.setdefault(image.subject, []).append(image.digest)

    roots = [i for i in images if i.digest not in parents
             and (i.subject is None or i.subject not in by_digest)]
    pulled = {r.digest: _latest_pull(r, by_digest) for r in roots}

    expired: dict[str, int] = {}  # root digest -> rule priority
    selected_before: set[str] = set()  # roots meeting the tagging of a higher-priority rule
    for rule in policy.rules:
        matching = [r for r in roots if rule.selects(r.tags)]
        if rule.count_type == IMAGE_COUNT_MORE_THAN:
            youngest_first = sorted(matching, key=lambda r: (r.pushed_at, r.digest), reverse=True)
            marked = youngest_first[rule.count_number:]
        else:
            limit = now - timedelta(days=rule.count_number)
            if rule.count_type == SINCE_IMAGE_PUSHED:
                marked = [r for r in matching if r.pushed_at < limit]
            else:
                assert rule.count_type == SINCE_IMAGE_PULLED
                marked = [r for r in matching if pulled[r.digest] < limit]
        for root in marked:
            if root.digest not in selected_before:
                expired[root.digest] = rule.priority
        selected_before.update(r.digest for r in matching)

    plan = [_expiry(by_digest[d], p, RULE, d) for d, p in expired.items()]
    plan.sort(key=lambda e: (e.pushed_at, e.digest))
    plan += _followers(images, expired, parents, referrers, by_digest)
    return plan


def _latest_pull(root: ImageFacts, by_digest: dict[str, ImageFacts]) -> datetime:
    latest = root.last_pulled_at or root.pushed_at
    stack, seen = list(root.children), {root.digest}
    while stack:
        digest = stack.pop()
        child = by_digest.get(digest)
        if child is None or digest in seen:
            continue
        seen.add(digest)
        if child.last_pulled_at is not None and child.last_pulled_at > latest:
            latest = child.last_pulled_at
        stack.extend(child.children)
    return latest


def _followers(images: Sequence[ImageFacts], expired: dict[str, int],
               parents: dict[str, set[str]], referrers: dict[str, list[str]],
               by_digest: dict[str, ImageFacts]) -> list[Expiry]:
    """Referrers of expired images, and their untagged children, that no surviving index refers
    to, in waves: everything in a wave has every index or subject holding it in an earlier wave."""
    gone: dict[str, tuple[int, str]] = {d: (p, d) for d, p in expired.items()}  # -> (rule, unit)
    followers: list[Expiry] = []
    wave = list(gone)
    while wave:
        candidates: set[str] = set()
        for digest in wave:
            candidates.update(referrers.get(digest, ()))
            candidates.update(by_digest[digest].children)
        added: list[Expiry] = []
        for digest in sorted(candidates):
            image = by_digest.get(digest)
            if image is None or digest in gone or not parents.get(digest, set()).issubset(gone):
                continue  # an index that stays still refers to it
            if image.subject is not None and image.subject in by_digest:
                if image.subject not in gone:
                    continue  # a referrer lives and dies with its subject
                reason, holders = REFERRER, [image.subject]
            elif digest in parents and not image.tags:
                reason, holders = CHILD, sorted(parents[digest])
            else:
                continue
            priority, unit = min(gone[h] for h in holders)
            added.append(_expiry(image, priority, reason, unit))
        added.sort(key=lambda e: (e.pushed_at, e.digest))
        for expiry in added:
            gone[expiry.digest] = (expiry.rule_priority, expiry.unit)
        followers += added
        wave = [e.digest for e in added]
    return followers


def _expiry(image: ImageFacts, priority: int, reason: str, unit: str) -> Expiry:
    return Expiry(image.digest, image.tags, image.pushed_at, priority, reason, unit, image.subject,
                  image.media_type, image.image_size)
