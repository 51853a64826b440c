"""The small, fast version of ``make reliability``: a few fault seeds, crashes and concurrent applies
on a few manifests, through the real CLI against real sandbox servers. The guarantees are the same."""

from __future__ import annotations

from typing import Any

import pytest

from reliability import chaos, concurrency, crash, evals
from reliability.__main__ import verdicts

pytestmark = pytest.mark.e2e


def test_chaos_over_a_few_seeds_duplicates_and_loses_nothing() -> None:
    results = chaos.run(seeds=2, manifests=6)
    assert results["unsafe"] == 0 and results["duplicates_created"] == 0
    assert results["not_converged_once_faults_stop"] == 0
    assert results["duplicate_uploads_made"] == results["duplicate_uploads_left"] == 0
    assert verdicts({"chaos": results}) == []


def test_chaos_against_an_api_that_ignores_idempotency_keys_duplicates_nothing_either() -> None:
    results = chaos.run(seeds=1, manifests=6, keys=False)
    assert results["idempotency_keys"] is False and results["unsafe"] == 0
    assert results["duplicates_created"] == results["duplicate_uploads_made"] == 0
    assert verdicts({"chaos_without_keys": results}) == []


def test_chaos_with_a_job_list_lagging_behind_creates_and_no_keys_duplicates_nothing() -> None:
    results = chaos.run(seeds=2, manifests=6, keys=False, lag_s=2)
    assert results["list_lag_s"] == 2 and results["unsafe"] == results["duplicates_created"] == 0, results
    assert results["not_converged_once_faults_stop"] == 0
    assert verdicts({"chaos_lag_without_keys": results}) == []


def test_an_apply_killed_at_random_then_run_again_converges() -> None:
    results = crash.run(trials=2, manifests=6)
    assert results["trials"] == results["converged_after_rerun"] == 2 and results["duplicates_created"] == 0
    assert len(results["writes_before_kills"]) == 2 and min(results["writes_before_kills"]) >= 1
    assert verdicts({"crash": {**results, "writes_before_kills": [0, 3]}})  # a kill before any write is no proof


def test_an_evaluation_killed_under_faults_then_run_again_grades_every_item_once() -> None:
    results = evals.run(items=30, parallelism=4)
    assert results["killed"] and results["graded_exactly_once"] and results["last_run_requests"] == 0, results
    assert results["paid_again_beyond_lost"] <= 4 and results["held"]
    assert verdicts({"evals": results}) == [] and verdicts({"evals": {**results, "held": False}})


def test_concurrent_applies_agree_on_the_job_to_keep() -> None:
    case = concurrency.one_case(3, idempotency=False, manifests=6, latency_ms=20)
    assert case["duplicates_active_when_runs_ended"] == 0
    assert case["agreed"] and case["jobs_changed_by_one_more_apply"] == 0, case
    after = case["after_one_more_apply"]
    assert after["extra_active"] == after["missing"] == after["wrongly_cancelled"] == 0
    assert after["newer_uploads"] == after["jobs_missing_a_file"] == case["failed_runs"] == 0, case
    assert verdicts({"concurrency": {"cases": [case]}}) == []
    keyed = concurrency.one_case(3, idempotency=True, manifests=6, latency_ms=20)
    assert keyed["duplicates_created"] == keyed["after_one_more_apply"]["duplicate_uploads"] == 0
    assert keyed["when_runs_ended"]["duplicate_uploads_made"] == 0
    assert keyed["converged"] and keyed["agreed"]


def test_runs_that_disagree_or_leave_work_for_the_next_apply_are_broken() -> None:
    after = {"extra_active": 0, "missing": 0, "wrongly_cancelled": 0, "duplicate_uploads": 0,
             "duplicate_uploads_made": 0, "newer_uploads": 0, "jobs_missing_a_file": 0}
    case = {"runs": 2, "idempotency_keys": True, "duplicates_created": 0, "failed_runs": 0, "agreed": True,
            "jobs_changed_by_one_more_apply": 0, "duplicates_active_when_runs_ended": 0, "after_one_more_apply": after}
    assert verdicts({"concurrency": {"cases": [case]}}) == []
    assert verdicts({"concurrency": {"cases": [{**case, "agreed": False}]}})
    assert verdicts({"concurrency": {"cases": [{**case, "jobs_changed_by_one_more_apply": 1}]}})
    made = {**case, "after_one_more_apply": {**after, "duplicate_uploads_made": 1}}
    assert verdicts({"concurrency": {"cases": [made]}})  # made and deleted still counts where keys are honoured
    assert verdicts({"concurrency": {"cases": [{**made, "idempotency_keys": False}]}}) == []


def test_a_chaos_run_that_uploaded_a_file_twice_is_broken_even_if_the_copy_is_gone() -> None:
    chaos_result = {"unsafe": 0, "not_converged_once_faults_stop": 0, "duplicates_created": 0,
                    "duplicate_uploads_made": 0, "duplicate_uploads_left": 0}
    assert verdicts({"chaos": chaos_result}) == []
    assert verdicts({"chaos": {**chaos_result, "duplicate_uploads_made": 1}})


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

    # the alias bomb and the deep nesting are invalid cases already (tests/cases/invalid), in-process
    cases = hostile.run(["binary manifest", "invalid UTF-8 manifest", "binary data file", "invalid UTF-8 data file",
                         "symlink and .. leaving the project", "from: cycle of 1,000 manifests"])["cases"]
    assert len(cases) == 6 and all(c["unclear"] == [] == c["lost"] for c in cases), cases
    assert verdicts({"hostile": {"cases": cases}}) == []


def test_hostile_python_graders_are_contained_and_touch_nothing_outside() -> None:
    """A grader forking 200 sleepers (killed with its session, none left) and one writing into the
    project and beside it (each write refused, every file as it was), under ``ftctl grade``."""
    from reliability import hostile

    cases = hostile.run(["python grader forking 200 sleepers", "python grader writing outside its folder"])["cases"]
    assert [c["exits"] for c in cases] == [[0], [0]] and all(c["unclear"] == [] == c["lost"] for c in cases), cases
    assert verdicts({"hostile": {"cases": cases}}) == []
    assert verdicts({"hostile": {"cases": [{**cases[1], "lost": ["m.yaml changed"]}]}})
    assert verdicts({"hostile": {"cases": [{**cases[1], "exits": [1]}]}})


def test_a_refusal_without_its_file_line_or_reason_is_broken() -> None:
    case = {"case": "binary manifest", "exit": 1, "plan_exit": 1, "requests_sent": 0, "seconds": 0.3, "peak_mb": 45,
            "output_lines": 2, "unclear": []}
    assert verdicts({"hostile": {"cases": [case]}}) == []
    assert verdicts({"hostile": {"cases": [{**case, "unclear": ["plan: says 'internal error'"]}]}})


def test_a_canary_key_appears_nowhere_when_every_request_fails_or_an_answer_quotes_it() -> None:
    from reliability import secrets

    result = secrets.run([["plan", "--out", "plan.json"], ["apply", "--auto-approve"]], ("debug",))
    assert result["leaks"] == [] and result["not_reached"] == [], result
    # failing, quoting, masked, the grader, sandbox serve, working, quoting writes
    assert result["runs"] == 3 * 2 + 1 + 1 + 12 + 1
    reached = result["reached"]["debug"]
    assert reached["outputs showing the quoted key redacted"] >= 3  # 2 quoting + the writes'
    assert reached["outputs showing the masked key redacted"] >= 2 and reached["graders that looked and found no key"]
    assert verdicts({"secrets": result}) == []


def test_a_secrets_run_that_reached_nothing_is_no_proof() -> None:
    assert verdicts({"secrets": {"runs": 3, "leaks": [], "not_reached": ["answers quoting the key"]}})
    assert verdicts({"secrets": {"runs": 3, "leaks": ["ftctl plan at debug"], "not_reached": []}})


@pytest.mark.parametrize("broken", ["newer_uploads", "jobs_missing_a_file"])
def test_a_newer_copy_left_or_a_job_without_its_file_is_broken_with_or_without_keys(broken: str) -> None:
    after = {"extra_active": 0, "missing": 0, "wrongly_cancelled": 0, "duplicate_uploads": 1,
             "newer_uploads": 0, "jobs_missing_a_file": 0, broken: 1}
    case = {"runs": 2, "idempotency_keys": False, "duplicates_created": 3, "failed_runs": 0,
            "jobs_missing_a_file_when_runs_ended": 0, "duplicates_active_when_runs_ended": 0,
            "after_one_more_apply": after}
    assert verdicts({"concurrency": {"cases": [case]}})


def test_pipelines_under_faults_built_then_retrained_never_train_a_stage_twice_or_on_a_stale_base() -> None:
    from reliability import pipelines

    results = pipelines.chaos(seeds=1, pipelines=1)
    assert results["unsafe"] == results["duplicates_created"] == results["stale_bases"] == 0, results
    assert results["wrongly_cancelled"] == results["not_converged_once_faults_stop"] == 0, results
    assert [p["phase"] for p in results["runs"][0]["phases"]] == ["build", "retrain"]
    crashed = pipelines.crash(trials=1, pipelines=1, window=(0.2, 1.0))  # killed within a second of a write
    assert crashed["killed_mid_apply"] == crashed["converged_after_rerun"] == 1, crashed
    assert crashed["stale_bases"] == crashed["duplicates_created"] == crashed["unsafe"] == 0, crashed
    assert verdicts({"pipelines": {"chaos": results, "crash": crashed}}) == []


def _job(n: int, name: str, spec: str, status: str = "succeeded", model: str = "gpt-4.1-mini",
         epochs: int = 2) -> dict[str, Any]:
    """Job ``n`` of a stage: its result is ``ft:n``."""
    return {"id": f"ftjob-{n}", "status": status, "model": model, "hyperparameters": {"n_epochs": epochs},
            "fine_tuned_model": f"ft:{n}" if status == "succeeded" else None,
            "metadata": {"ftctl-name": name, "ftctl-spec": spec}}


BUILT = [_job(1, "sft", "a"), _job(2, "dpo", "b", model="ft:1")]
"""A pipeline of two stages, built: dpo trained on sft's result."""
RETRAINED = [*BUILT, _job(3, "sft", "c", epochs=3), _job(4, "dpo", "d", model="ft:3")]


@pytest.mark.parametrize(("jobs", "epochs", "expected"), [
    (BUILT, 2, {"behind": 0}),
    (BUILT, 3, {"behind": 1}),  # sft's manifest changed: not yet retrained
    (RETRAINED, 3, {"behind": 0}),  # the old dpo job, made on the result current then, is no stale base
    (RETRAINED[:3], 3, {"behind": 1}),  # dpo waits for the new sft
    ([*RETRAINED[:3], _job(4, "dpo", "d", model="ft:1")], 3, {"stale_bases": 1, "behind": 1}),  # on ft:1 after 3
    ([*BUILT[:1], _job(5, "sft", "a", status="running"), BUILT[1]], 2,
     {"duplicates_created": 1, "stale_bases": 1, "behind": 2}),  # dpo made while a second sft ran
    ([*BUILT, _job(3, "dpo", "b", model="ft:1", status="running")], 2, {"duplicates_created": 1, "behind": 1}),
    ([*BUILT, _job(3, "dpo", "b", model="ft:1", status="cancelled")], 2, {"duplicates_created": 1}),
    ([BUILT[0], _job(2, "dpo", "b", model="ft:1", status="cancelled")], 2, {"wrongly_cancelled": 1, "behind": 1}),
    ([*RETRAINED[:2], _job(3, "sft", "c", epochs=3, status="cancelled")], 3, {"wrongly_cancelled": 1, "behind": 1}),
    ([BUILT[0], _job(2, "dpo", "b", model="ft:1", status="running"), _job(3, "dpo", "e", model="ft:1",
                                                                          status="queued")], 2,
     {"extra_active": 1, "behind": 1}),
], ids=["built", "upstream changed", "retrained", "waiting", "stale base", "second upstream running",
        "duplicate running", "duplicate cancelled", "only job cancelled", "replacement cancelled", "two active"])
def test_the_pipeline_audit_counts_duplicates_stale_bases_and_wrong_cancels(
        jobs: list[dict[str, Any]], epochs: int, expected: dict[str, int]) -> None:
    from reliability.pipeline_harness import audit_jobs

    found = audit_jobs(jobs, {"sft": None, "dpo": "sft"}, epochs)
    zero = {"duplicates_created": 0, "stale_bases": 0, "wrongly_cancelled": 0, "extra_active": 0, "behind": 0}
    assert vars(found) == {**zero, **expected}
    assert found.safe is (set(expected) <= {"behind"}) and found.converged is (expected == {"behind": 0})


def test_a_pipeline_run_with_a_stale_base_or_an_unconverged_trial_is_broken() -> None:
    chaos_result = {"unsafe": 0, "duplicates_created": 0, "stale_bases": 0, "wrongly_cancelled": 0,
                    "not_converged_once_faults_stop": 0}
    crash_result = {**chaos_result, "trials": 2, "asked": 2, "converged_after_rerun": 2, "writes_before_kills": [1, 5]}
    assert verdicts({"pipelines": {"chaos": chaos_result, "crash": crash_result}}) == []
    assert verdicts({"pipelines": {"chaos": {**chaos_result, "stale_bases": 1}}})
    assert verdicts({"pipelines": {"crash": {**crash_result, "converged_after_rerun": 1}}})
    assert verdicts({"pipelines": {"crash": {**crash_result, "writes_before_kills": [0, 5]}}})


def test_the_pipeline_rows_of_the_reliability_page() -> None:
    from reliability.__main__ import pipeline_rows

    chaos_result = {"seeds": 10, "pipelines": 3, "fault_rate": 0.3, "converged_under_faults": 9, "applies": 41,
                    "not_converged_once_faults_stop": 0, "unsafe": 0, "duplicates_created": 0, "stale_bases": 0,
                    "wrongly_cancelled": 0}
    lagging = {**chaos_result, "seeds": 5, "idempotency_keys": False, "list_lag_s": 600}
    crash_result = {"trials": 10, "pipelines": 3, "killed_mid_apply": 10, "first_write_s": 1.5,
                    "undisturbed_apply_s": 9.2, "writes_before_kills": [2, 14], "converged_after_rerun": 10,
                    "duplicates_created": 0, "stale_bases": 0, "wrongly_cancelled": 0}
    assert pipeline_rows({"chaos": chaos_result, "chaos_lag_without_keys": lagging, "crash": crash_result}) == [
        "| pipelines under chaos (10 seeds × 3 pipelines of 3 stages, 30% faults, `apply --wait` built then "
        "retrained) | converged under faults: 9; once the faults stopped: 10 of 10; `apply --wait` runs: 41; unsafe "
        "seeds: 0; duplicate stage jobs: 0; stages made on a stale base: 0; jobs wrongly cancelled: 0 |",
        "| pipelines under chaos (5 seeds × 3 pipelines of 3 stages, 30% faults, job list 600 sandbox seconds behind "
        "creates, idempotency keys ignored, `apply --wait` built then retrained) | converged under faults: 9; once "
        "the faults stopped: 5 of 5; `apply --wait` runs: 41; unsafe seeds: 0; duplicate stage jobs: 0; stages made "
        "on a stale base: 0; jobs wrongly cancelled: 0 |",
        "| pipelines under crashes (10 trials × 3 pipelines of 3 stages, `apply --wait` killed while building or "
        "retraining) | killed mid-apply, after the first write: 10 (an `apply --wait` left alone: first write at 1.5 "
        "s, done at 9.2 s); writes before each kill: 2 to 14; converged after applying again: 10 of 10; duplicate "
        "stage jobs: 0; stages made on a stale base: 0; jobs wrongly cancelled: 0 |"]
