"""The small, fast version of ``make reliability``: a few fault seeds, crashes and concurrent applies
on a few manifests, through the real CLI against real sandbox servers. The guarantees are the same."""

from __future__ import annotations

import pytest

from reliability import chaos, concurrency, crash
from reliability.__main__ import verdicts

pytestmark = pytest.mark.e2e


def test_chaos_over_a_few_seeds_duplicates_and_loses_nothing() -> None:
    results = chaos.run(seeds=2, manifests=6)
    assert results["unsafe"] == 0 and results["duplicates_created"] == 0
    assert results["not_converged_once_faults_stop"] == 0
    assert verdicts({"chaos": results}) == []


def test_an_apply_killed_at_random_then_run_again_converges() -> None:
    results = crash.run(trials=2, manifests=6)
    assert results["trials"] == results["converged_after_rerun"] == 2 and results["duplicates_created"] == 0


def test_concurrent_applies_agree_on_the_job_to_keep() -> None:
    case = concurrency.one_case(3, idempotency=False, manifests=6, latency_ms=20)
    assert case["duplicates_active_when_runs_ended"] == 0
    after = case["after_one_more_apply"]
    assert after["extra_active"] == after["missing"] == after["wrongly_cancelled"] == 0
    assert after["newer_uploads"] == after["jobs_missing_a_file"] == case["failed_runs"] == 0, case
    assert verdicts({"concurrency": {"cases": [case]}}) == []
    keyed = concurrency.one_case(3, idempotency=True, manifests=6, latency_ms=20)
    assert keyed["duplicates_created"] == keyed["after_one_more_apply"]["duplicate_uploads"] == 0
    assert keyed["converged"]


def test_a_broken_guarantee_is_reported() -> None:
    assert verdicts({"crash": {"trials": 2, "converged_after_rerun": 1, "duplicates_created": 0}})
    assert verdicts({"crash": {"trials": 19, "asked": 20, "converged_after_rerun": 19, "duplicates_created": 0}})


@pytest.mark.parametrize(("keys", "uploads", "broken"), [(True, 1, True), (False, 1, False), (False, 0, False)])
def test_spare_uploads_break_the_guarantee_only_where_keys_are_honoured(keys: bool, uploads: int,
                                                                         broken: bool) -> None:
    after = {"extra_active": 0, "missing": 0, "wrongly_cancelled": 0, "duplicate_uploads": uploads,
             "newer_uploads": 0, "jobs_missing_a_file": 0}
    case = {"runs": 2, "idempotency_keys": keys, "duplicates_created": 0 if keys else 3, "failed_runs": 0,
            "jobs_missing_a_file_when_runs_ended": 0, "duplicates_active_when_runs_ended": 0,
            "after_one_more_apply": after}
    assert bool(verdicts({"concurrency": {"cases": [case]}})) is broken


def test_hostile_manifests_are_refused_in_bounded_time_with_nothing_sent() -> None:
    from reliability import hostile

    cases = hostile.run(["YAML alias bomb", "nested 10,000 deep", "binary manifest", "invalid UTF-8 manifest",
                         "symlink and .. leaving the project"])["cases"]
    assert len(cases) == 5
    assert verdicts({"hostile": {"cases": cases}}) == []


def test_a_canary_key_appears_nowhere_when_every_request_fails() -> None:
    from reliability import secrets

    result = secrets.run([["plan", "--out", "plan.json"], ["apply", "--auto-approve"], ["status"]], ("debug",))
    assert result["runs"] == 3 and result["leaks"] == []


@pytest.mark.parametrize("broken", ["newer_uploads", "jobs_missing_a_file"])
def test_a_newer_copy_left_or_a_job_without_its_file_is_broken_with_or_without_keys(broken: str) -> None:
    after = {"extra_active": 0, "missing": 0, "wrongly_cancelled": 0, "duplicate_uploads": 1,
             "newer_uploads": 0, "jobs_missing_a_file": 0, broken: 1}
    case = {"runs": 2, "idempotency_keys": False, "duplicates_created": 3, "failed_runs": 0,
            "jobs_missing_a_file_when_runs_ended": 0, "duplicates_active_when_runs_ended": 0,
            "after_one_more_apply": after}
    assert verdicts({"concurrency": {"cases": [case]}})
