"""Garbage collection, lifecycle runs and quotas on every metadata engine: the unit suites'
scenarios (tests/unit/gc, tests/unit/lifecycle) again on PostgreSQL, where the claim of a blob and
a manifest PUT are serialised by row and advisory locks instead of SQLite's single writer."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.unit.gc import test_collector as gc_tests
from tests.unit.gc import test_usage as usage_tests
from tests.unit.gc.registry import Registry
from tests.unit.lifecycle import test_lifecycle_runs as lifecycle_tests

from .engines import Postgres

SCENARIOS = [
    gc_tests.test_blobs_of_a_deleted_image_go_only_after_the_grace_period,
    gc_tests.test_referenced_blobs_stay_whatever_else_goes,
    gc_tests.test_a_blob_another_repository_references_stays,
    gc_tests.test_a_push_that_finds_a_blob_restarts_its_grace_period,
    gc_tests.test_the_claim_and_a_manifest_put_are_decided_one_after_the_other,
    gc_tests.test_a_reference_committed_first_wins_over_the_claim,
    gc_tests.test_an_upload_completing_during_a_claim_stores_its_own_bytes,
    gc_tests.test_a_crash_between_trash_and_commit_is_settled_by_the_next_run,
    gc_tests.test_abandoned_uploads_are_purged_after_the_upload_timeout,
    gc_tests.test_dry_run_reports_what_the_run_frees_and_changes_nothing,
    gc_tests.test_delete_repository_force_reclaims_its_exclusive_storage_at_once,
    usage_tests.test_shared_layers_count_once_for_the_registry,
    usage_tests.test_image_count_quota_refuses_the_next_new_image,
    usage_tests.test_byte_quota_counts_the_blobs_the_new_manifest_adds,
    lifecycle_tests.test_a_run_expires_what_the_preview_showed_and_records_it,
    lifecycle_tests.test_a_multi_arch_index_and_its_signature_expire_as_one_unit,
    lifecycle_tests.test_errors,
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda f: f.__name__.removeprefix("test_"))
def test_on_postgresql(scenario, postgres: Postgres, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "data", database_url=postgres.create_database(),
                        secret_key=Fernet.generate_key().decode())
    registry.create("team/app")
    scenario(registry)
