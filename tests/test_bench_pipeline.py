"""The pipeline benchmark counts the polls of ``apply --wait`` from the run's own debug log: what
it calls a poll must be one pass of the wait loop over the jobs it follows, and the requests of the
rounds around it (plans, creates, uploads) must not be counted as polling."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.pipeline import ftctl_run, polls_of
from reliability.sandbox import SandboxProcess


def _http(method: str, path: str, params: str = "None") -> str:
    return (f"2026-12-06T22:24:55.561201Z [debug    ] http                           method={method} ms=3 "
            f"params={params} path={path} status=200")


LOG = "\n".join([
    _http("GET", "fine_tuning/jobs", "{'limit': 100, 'metadata[ftctl-stack]': 'default'}"),
    _http("POST", "fine_tuning/jobs"),
    "Apply finished: 2 done, 0 already done, 0 deferred, 0 failed.",
    "",
    "Waiting for 2 jobs (timeout 2h):",
    _http("GET", "fine_tuning/jobs/ftjob-a"),
    "a ftjob-a: validating_files",
    _http("GET", "fine_tuning/jobs/ftjob-b"),
    _http("GET", "fine_tuning/jobs/ftjob-b/events", "{'limit': 20}"),
    "b ftjob-b: running, step 4/108, train loss 2.0848",
    _http("GET", "fine_tuning/jobs/ftjob-a"),
    _http("GET", "fine_tuning/jobs/ftjob-a/events", "{'limit': 20}"),
    _http("GET", "fine_tuning/jobs/ftjob-b"),
    _http("GET", "fine_tuning/jobs/ftjob-b/events", "{'limit': 20}"),
    "b ftjob-b: succeeded, step 108/108",
    _http("GET", "fine_tuning/jobs/ftjob-a"),
    _http("GET", "fine_tuning/jobs/ftjob-a/events", "{'limit': 20}"),
    "",
    "  ✓ a ftjob-a succeeded: ft:gpt-4.1-mini:sandbox:a",
    "  ✓ b ftjob-b succeeded: ft:gpt-4.1-mini:sandbox:b",
    _http("GET", "fine_tuning/jobs", "{'limit': 100, 'metadata[ftctl-stack]': 'default'}"),
    "Waiting for 1 job (timeout 1h59m):",
    _http("GET", "fine_tuning/jobs/ftjob-c"),
    _http("GET", "fine_tuning/jobs/ftjob-c"),
    _http("GET", "fine_tuning/jobs/ftjob-c/events", "{'limit': 20}"),
    "  ✗ c ftjob-c failed: no error given",
    _http("GET", "files", "{'purpose': 'fine-tune'}"),
])


def test_a_poll_is_one_pass_over_the_followed_jobs_and_the_rounds_are_not_polls() -> None:
    assert polls_of(LOG) == [
        ["GET fine_tuning/jobs/ftjob-a", "GET fine_tuning/jobs/ftjob-b", "GET fine_tuning/jobs/ftjob-b/events"],
        ["GET fine_tuning/jobs/ftjob-a", "GET fine_tuning/jobs/ftjob-a/events", "GET fine_tuning/jobs/ftjob-b",
         "GET fine_tuning/jobs/ftjob-b/events"],
        ["GET fine_tuning/jobs/ftjob-a", "GET fine_tuning/jobs/ftjob-a/events"],
        ["GET fine_tuning/jobs/ftjob-c"],
        ["GET fine_tuning/jobs/ftjob-c", "GET fine_tuning/jobs/ftjob-c/events"],
    ]


def test_a_run_that_never_waits_has_no_poll() -> None:
    assert polls_of("\n".join(LOG.splitlines()[:3])) == []


@pytest.mark.e2e
def test_a_quick_run_counts_every_read_of_a_job_as_a_poll_and_no_listing_in_them(tmp_path: Path) -> None:
    """The real CLI on a sandbox whose clock moves 100 s per poll (a stage in about three polls)."""
    with SandboxProcess(tmp_path / "sandbox.db", "--clock", "manual") as server:
        figures = ftctl_run(tmp_path / "project", server, step=100)
    routes = figures["by_route"]
    assert routes["POST /v1/fine_tuning/jobs"] == 3 and figures["polls"] >= 3  # one a stage at least
    # every read by ID is a poll's, one per poll: the rounds read none (their look-ups are listings)
    assert figures["polls"] == routes["GET /v1/fine_tuning/jobs/{job_id}"]
    assert figures["poll_requests"] == figures["polls"] + routes["GET /v1/fine_tuning/jobs/{job_id}/events"]
    assert figures["max_list_pages_per_poll"] == 1 and figures["max_job_reads_per_poll"] == 1
