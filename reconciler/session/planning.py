"""Reading live state and planning against it; the rows of ``status``. ``make_plan`` gets only a
reader: planning cannot change anything remote."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable
from typing import Any, Generic, TypeVar, cast

from reconciler.api.errors import ApiError
from reconciler.api.models import LiveJob
from reconciler.api.ports import ApiReader
from reconciler.identity import Desired, FilesNotRead
from reconciler.plan.model import Plan, TargetInfo
from reconciler.plan.planner import Options, managed_jobs, plan
from reconciler.session.settings import SetupError, UsageProblem

T = TypeVar("T")


def check_options(options: Options, names: Collection[str], stack: str) -> None:
    """Refuse options that make no sense for these manifests, before anything is read."""
    if options.prune and not names:
        raise UsageProblem(f"--prune with no manifest in the given paths would cancel every job of stack "
                           f"{stack!r}; refused (check the paths, or cancel jobs by declaring state: cancelled)")


def make_plan(reader: ApiReader, wanted: list[Desired], stack: str, options: Options, target: TargetInfo,
              jobs: list[LiveJob] | None = None) -> Plan:
    """The plan for ``wanted`` against the stack's ``jobs`` (read here when not given)."""
    check_options(options, [d.name for d in wanted], stack)
    jobs = reader.stack_jobs(stack) if jobs is None else jobs
    pinned = jobs_by_id(reader, [d.job_id for d in wanted if d.job_id], jobs)
    for d in wanted:
        if d.job_id is not None and d.job_id not in pinned:
            raise SetupError(f"{d.job_id_source}: job_id: {d.job_id} was not found on {target.label} "
                             "(adopt a job of this target, or remove job_id to create a new one)")
    try:  # the file list only when the plan asks about a file: most plans never do
        made = plan(wanted, jobs, None, stack, options, pinned)
    except FilesNotRead:
        made = plan(wanted, jobs, reader.list_files(), stack, options, pinned)
    return made.model_copy(update={"target": target})


class Soon(Generic[T]):
    """``fn(*args)`` run on a thread of its own from now on, its value (or its error) given by
    ``result()``. The thread is a daemon: an interrupted run does not wait for it. ``plan`` reads
    the stack's jobs this way once its input is checked, while the manifests become requests."""

    def __init__(self, fn: Callable[..., T], *args: Any) -> None:
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), name="ftctl-read", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> None:
        try:
            self._value = fn(*args)
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc

    def result(self) -> T:
        while self._thread.is_alive():  # in steps: a Ctrl-C is seen at once everywhere (a bare join
            self._thread.join(0.1)      # cannot be interrupted on Windows)
        if self._error is not None:
            raise self._error
        return cast(T, self._value)


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
