"""Reading live state and planning against it; the rows of ``status``. ``make_plan`` gets only a
reader: planning cannot change anything remote."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reconciler.api.errors import ApiError
from reconciler.api.models import LiveFile, LiveJob
from reconciler.api.ports import ApiReader
from reconciler.identity import Desired
from reconciler.plan.model import Plan, TargetInfo
from reconciler.plan.planner import Options, managed_jobs, plan
from reconciler.session.settings import SetupError, UsageProblem


def make_plan(reader: ApiReader, wanted: list[Desired], stack: str, options: Options, target: TargetInfo) -> Plan:
    if options.prune and not wanted:
        raise UsageProblem(f"--prune with no manifest in the given paths would cancel every job of stack "
                           f"{stack!r}; refused (check the paths, or cancel jobs by declaring state: cancelled)")
    jobs, files = read_live(reader, stack)
    pinned = jobs_by_id(reader, [d.job_id for d in wanted if d.job_id], jobs)
    for d in wanted:
        if d.job_id is not None and d.job_id not in pinned:
            raise SetupError(f"{d.job_id_source}: job_id: {d.job_id} was not found on {target.label} "
                             "(adopt a job of this target, or remove job_id to create a new one)")
    return plan(wanted, jobs, files, stack, options, pinned).model_copy(update={"target": target})


def read_live(reader: ApiReader, stack: str) -> tuple[list[LiveJob], list[LiveFile]]:
    """The stack's jobs and the uploaded files, read side by side: each list is a chain of pages
    (a cursor names the next), so the two chains overlap rather than add up."""
    with ThreadPoolExecutor(1, thread_name_prefix="ftctl-files") as pool:
        files = pool.submit(reader.list_files)
        jobs = reader.stack_jobs(stack)
        return jobs, files.result()


def jobs_by_id(reader: ApiReader, job_ids: Iterable[str], listed: Iterable[LiveJob]) -> dict[str, LiveJob]:
    """The jobs of ``job_ids``: those among ``listed`` as they are, the others read one by one; a job
    the API does not know (404) is left out."""
    known = {job.id: job for job in listed}
    found: dict[str, LiveJob] = {}
    for job_id in dict.fromkeys(job_ids):
        if job_id in known:
            found[job_id] = known[job_id]
            continue
        try:
            found[job_id] = reader.get_job(job_id)
        except ApiError as exc:
            if exc.status != 404:
                raise
    return found


def relied_jobs(reader: ApiReader, stack: str, facts: list[str]) -> list[LiveJob]:
    """The stack's managed jobs now, and each other job a plan relied on (adopted ones), re-read by
    ID; a job that is gone is left out."""
    jobs = managed_jobs(reader.stack_jobs(stack), stack)
    listed = {job.id for job in jobs}
    return jobs + [job for job_id, job in jobs_by_id(reader, facts, jobs).items() if job_id not in listed]


def status_rows(jobs: list[LiveJob], now: float, declared: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per managed job, newest first per name; declared names without a job get a row too."""
    rows: list[dict[str, Any]] = []
    for job in jobs:
        rows.append({"name": job.name, "job_id": job.id, "status": job.status,
                     "fine_tuned_model": job.fine_tuned_model, "created_at": job.created_at,
                     "age_seconds": max(0, int(now - job.created_at)), "spec": job.spec,
                     "error": job.error.message if job.error else None,
                     "declared": job.name in declared if declared is not None else None})
    have = {job.name for job in jobs}
    for name in declared or []:
        if name not in have:
            rows.append({"name": name, "job_id": None, "status": "not created", "fine_tuned_model": None,
                         "created_at": None, "age_seconds": None, "spec": None, "error": None, "declared": True})
    return sorted(rows, key=lambda r: (r["name"] or "", -(r["created_at"] or 0)))
