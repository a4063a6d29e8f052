"""Lifecycle policies as a service: the ECR operations, previews, scheduled and on-demand runs.

A preview and a run call the same ``evaluate`` on the repository's images; a preview stores its
result, a run deletes it — each image in its own transaction that first re-checks the image is
still as evaluated (same tags, no index refers to it) and records the expiry (what, which rule,
when) in ``lifecycle_expiries``. Deleting only removes metadata; garbage collection reclaims the
blobs later.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dockyard.domain.events import ImageDeleted
from dockyard.domain.models import Principal, Repository
from dockyard.errors import (
    InvalidParameter,
    LifecyclePolicyNotFound,
    LifecyclePolicyPreviewInProgress,
    LifecyclePolicyPreviewNotFound,
)
from dockyard.lifecycle.evaluation import Expiry, evaluate
from dockyard.lifecycle.policy import check_text_length, parse_policy
from dockyard.metadata.lifecycle_store import (
    COMPLETE,
    FAILED,
    IN_PROGRESS,
    SqlLifecycleStore,
    StoredPolicy,
    StoredPreview,
)
from dockyard.ports import Clock, EventPublisher
from dockyard.registry.repositories import RepositoryService
from dockyard.workers.queue import JobQueue
from dockyard.workers.runner import Runner, Schedule

log = logging.getLogger("dockyard.lifecycle")
PREVIEW, RUN = "lifecycle.preview", "lifecycle.run"
# A preview still IN_PROGRESS after this long (its job was lost) no longer blocks a new one.
PREVIEW_STALE = timedelta(minutes=10)
TAGGED, UNTAGGED, ANY = "TAGGED", "UNTAGGED", "ANY"


@dataclass
class RunReport:
    run_id: str
    dry_run: bool
    started_at: datetime
    repositories: list[str] = field(default_factory=list)  # evaluated
    expired: list[tuple[str, Expiry]] = field(default_factory=list)  # (repository, image)
    skipped: list[tuple[str, Expiry]] = field(default_factory=list)  # changed since evaluation
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PreviewPage:
    preview: StoredPreview
    results: list[dict[str, Any]]
    next_token: str | None
    total: int


def preview_result(item: Expiry) -> dict[str, Any]:
    """How a preview stores one expiring image (the ECR edge shapes it)."""
    return {"imageDigest": item.digest, "imageTags": list(item.tags),
            "imagePushedAt": item.pushed_at.isoformat(), "appliedRulePriority": item.rule_priority,
            "reason": item.reason, "unit": item.unit}


class LifecycleService:
    def __init__(self, store: SqlLifecycleStore, repos: RepositoryService, jobs: JobQueue,
                 clock: Clock, events: EventPublisher) -> None:
        self.store = store
        self.repos = repos
        self.jobs = jobs
        self.clock = clock
        self.events = events

    def _missing_policy(self, name: str) -> LifecyclePolicyNotFound:
        return LifecyclePolicyNotFound(
            f"Lifecycle policy does not exist for the repository with name '{name}' in the "
            f"registry with id '{self.repos.address.registry_id}'", {"name": name})

    # --- ECR operations ---------------------------------------------------------------------------
    def put_policy(self, caller: Principal | None, name: str, text: str) -> Repository:
        repo = self.repos.find(caller, name, "ecr:PutLifecyclePolicy")
        check_text_length(text)
        parse_policy(text)
        self.store.put_policy(repo.id, text, self.clock.now())
        return repo

    def get_policy(self, caller: Principal | None, name: str) -> StoredPolicy:
        repo = self.repos.find(caller, name, "ecr:GetLifecyclePolicy")
        stored = self.store.policy(repo.id)
        if stored is None:
            raise self._missing_policy(name)
        return stored

    def delete_policy(self, caller: Principal | None, name: str) -> StoredPolicy:
        repo = self.repos.find(caller, name, "ecr:DeleteLifecyclePolicy")
        stored = self.store.delete_policy(repo.id)
        if stored is None:
            raise self._missing_policy(name)
        return stored

    def start_preview(self, caller: Principal | None, name: str,
                      text: str | None = None) -> StoredPreview:
        """Queue a preview of ``text`` (default: the repository's policy)."""
        repo = self.repos.find(caller, name, "ecr:StartLifecyclePolicyPreview")
        if text is None:
            stored = self.store.policy(repo.id)
            if stored is None:
                raise self._missing_policy(name)
            text = stored.text
        else:
            check_text_length(text)
        parse_policy(text)
        now = self.clock.now()
        if not self.store.start_preview(repo.id, text, now, now - PREVIEW_STALE):
            raise LifecyclePolicyPreviewInProgress(
                f"The previous lifecycle policy preview request for the repository with name "
                f"'{name}' in the registry with id '{self.repos.address.registry_id}' has not "
                f"completed; wait and try again", {"name": name})
        self.jobs.enqueue(PREVIEW, {"repository_id": repo.id, "started_at": now.isoformat()})
        preview = self.store.preview(repo.id)
        assert preview is not None
        return preview

    def get_preview(self, caller: Principal | None, name: str, *,
                    image_ids: Sequence[Any] | None = None, tag_status: str = ANY,
                    next_token: str | None = None, limit: int = 100) -> PreviewPage:
        repo = self.repos.find(caller, name, "ecr:GetLifecyclePolicyPreview")
        preview = self.store.preview(repo.id)
        if preview is None:
            raise LifecyclePolicyPreviewNotFound(
                f"There is no lifecycle policy preview for the repository with name '{name}' in "
                f"the registry with id '{self.repos.address.registry_id}'; start one with "
                f"StartLifecyclePolicyPreview", {"name": name})
        results = preview.results
        if tag_status != ANY:
            results = [r for r in results if bool(r["imageTags"]) == (tag_status == TAGGED)]
        if image_ids is not None:
            digests = {i.get("imageDigest") for i in image_ids if isinstance(i, dict)}
            wanted_tags = {i.get("imageTag") for i in image_ids if isinstance(i, dict)}
            results = [r for r in results if r["imageDigest"] in digests
                       or wanted_tags.intersection(r["imageTags"])]
            return PreviewPage(preview, results, None, len(preview.results))
        start = _offset(next_token)
        page = results[start:start + limit]
        token = _token(start + limit) if start + limit < len(results) else None
        return PreviewPage(preview, page, token, len(preview.results))

    # --- evaluation -------------------------------------------------------------------------------
    def plan(self, repository_id: int, text: str, now: datetime) -> list[Expiry]:
        """What the policy ``text`` expires in the repository now: the one evaluation that both
        previews and runs use."""
        return evaluate(parse_policy(text), self.store.image_facts(repository_id), now)

    def run_preview(self, payload: dict[str, Any]) -> None:
        """The ``lifecycle.preview`` job: evaluate and store the result."""
        repository_id = payload["repository_id"]
        preview = self.store.preview(repository_id)
        if preview is None or preview.status != IN_PROGRESS or \
                preview.started_at.isoformat() != payload["started_at"]:
            return  # superseded by a newer preview, or already done
        now = self.clock.now()
        try:
            results = [preview_result(e) for e in self.plan(repository_id, preview.text, now)]
        except Exception as exc:  # noqa: BLE001 - a preview that cannot be computed is FAILED
            log.exception("lifecycle preview failed for repository %s", repository_id)
            self.store.finish_preview(repository_id, preview.started_at, FAILED, None,
                                      f"{type(exc).__name__}: {exc}", self.clock.now())
            return
        self.store.finish_preview(repository_id, preview.started_at, COMPLETE, results, None,
                                  self.clock.now())

    def run(self, name: str | None = None, *, dry_run: bool = False) -> RunReport:
        """Apply the lifecycle policy of repository ``name`` (default: of every repository that
        has one). With ``dry_run``, report what would expire and change nothing."""
        now = self.clock.now()
        report = RunReport(str(uuid.uuid4()), dry_run, now)
        policies = self.store.policies(name)
        if name is not None and not policies:
            if self.repos.store.get_repository(name) is None:
                raise self.repos.not_found(name)
            raise self._missing_policy(name)
        for repo_name, stored in policies:
            report.repositories.append(repo_name)
            try:
                self._run_one(repo_name, stored, report)
            except Exception as exc:  # noqa: BLE001 - one repository's failure spares the others
                log.exception("lifecycle run failed for repository %s", repo_name)
                report.errors[repo_name] = f"{type(exc).__name__}: {exc}"
        if report.expired or report.errors:
            log.info("lifecycle run %s%s: %d images expired in %d repositories, %d errors",
                     report.run_id, " (dry run)" if dry_run else "", len(report.expired),
                     len(report.repositories), len(report.errors))
        return report

    def _run_one(self, repo_name: str, stored: StoredPolicy, report: RunReport) -> None:
        now = self.clock.now()
        plan = self.plan(stored.repository_id, stored.text, now)
        if report.dry_run:
            report.expired += [(repo_name, item) for item in plan]
            return
        for item in plan:
            if self.store.expire(stored.repository_id, repo_name, item, report.run_id, now):
                report.expired.append((repo_name, item))
                self.events.publish(ImageDeleted(repo_name, stored.repository_id, item.digest,
                                                 self.clock.now()))
            else:
                report.skipped.append((repo_name, item))
        self.store.mark_evaluated(stored.repository_id, now)

    def _run_job(self, payload: dict[str, Any]) -> None:
        report = self.run(payload.get("repository"))
        if report.errors:
            raise RuntimeError("lifecycle run failed for " + ", ".join(sorted(report.errors)))

    def register(self, runner: Runner, every: timedelta) -> None:
        runner.register(PREVIEW, self.run_preview)
        runner.register(RUN, self._run_job)
        runner.schedule(Schedule(RUN, every, {}))


def _token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"]
    except (ValueError, KeyError, TypeError):
        offset = None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidParameter("Invalid parameter at 'nextToken': the token is not valid")
    return offset
