"""Planning a project against live state, and the decisions around a plan: which paths, which
options are refused, what the exit code says; the rows of ``status``. ``plan_project`` gets only a
reader: planning cannot change anything remote. The CLI parses and prints; the policy is here.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from reconciler.api.errors import ApiError
from reconciler.api.models import LiveJob
from reconciler.api.ports import ApiReader
from reconciler.datasets.pricing import load_prices
from reconciler.datasets.tokens import exact_counter
from reconciler.identity import Desired
from reconciler.manifests import LoadedManifest
from reconciler.plan.facts import TargetInfo
from reconciler.plan.model import Action, CreateAction, Declared, EvaluateAction, Plan, PlanOptions
from reconciler.plan.planner import managed_jobs, plan
from reconciler.plan.stages import GatesLoader
from reconciler.project import relative
from reconciler.providers import Provider
from reconciler.providers.statuses import TERMINAL
from reconciler.session.dates import refuse_ended
from reconciler.session.desired import check_data, desired_of, elsewhere, left_out
from reconciler.session.eval_estimate import estimate
from reconciler.session.eval_run import iter_items
from reconciler.session.gates import Gates
from reconciler.session.settings import Settings, SetupError, UsageProblem, manifest_paths

T = TypeVar("T")
EXIT_CHANGES = 2
@dataclass(frozen=True)
class PlanRequest:
    """What a run of ``plan`` or ``apply`` asked for on its command line."""

    paths: tuple[str, ...] = ()
    prune: bool = False
    replace: tuple[str, ...] = ()
    resume: tuple[str, ...] = ()
    allow_over_budget: bool = False
    allow_unpriced: bool = False


def check_options(request: PlanRequest, names: set[str], stack: str, outside: list[Path] | None,
                  root: Path) -> None:
    """Refuse options that make no sense for these manifests, before anything is read. ``outside``:
    the project's manifest files the paths leave out (None: cannot be known)."""
    for flag, given in (("--replace", request.replace), ("--resume", request.resume)):
        unknown = [n for n in given if n not in names]
        if unknown:
            raise UsageProblem(f"{flag} {unknown[0]}: no manifest declares that name")
    if not request.prune:
        return
    if not names:
        raise UsageProblem(f"--prune with no manifest in the given paths would cancel every job of stack "
                           f"{stack!r}; refused (check the paths, or cancel jobs by declaring state: cancelled)")
    if outside is None:
        raise UsageProblem("--prune with a manifest file, in a project with no manifest paths of its own "
                           "(ftctl.yaml paths:, or manifests/): the manifests it leaves out cannot be known, "
                           "and the running jobs they declare would be cancelled as orphans; refused (give "
                           "the folder of the manifests, or set paths: in ftctl.yaml)")
    if outside:
        raise UsageProblem(f"--prune with paths that leave out manifests of the project ({shown_paths(outside, root)}"
                           "): the running jobs they declare would be cancelled as orphans; refused (run --prune "
                           "without paths, on the whole project)")


def shown_paths(paths: list[Path], root: Path) -> str:
    """The first three paths, relative to the project root, and how many more."""
    more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
    return ", ".join(relative(p, root) for p in paths[:3]) + more


def plan_project(request: PlanRequest, settings: Settings, reader: ApiReader, target: TargetInfo,
                 provider: Provider, cwd: Path, say: Callable[[str], None]) -> Plan:
    """Validate the manifests under the request's paths, check the options, read the stack's jobs (on a
    thread of its own while the manifests become requests) and plan; the budget assessed. Warnings and
    notes for the user go to ``say`` as they are found (before a refusal, too)."""
    paths = manifest_paths(request.paths, settings, cwd)
    outside = left_out(paths, manifest_paths((), settings, cwd)) if request.paths else []
    context = elsewhere(outside)
    loaded, analysis = check_data(paths, settings, context)
    for warning in analysis.warnings:
        say(str(warning))
    if not loaded:
        say(f"warning: no manifest found in {', '.join(map(str, paths))}")
    check_options(request, {m.name for m in loaded}, settings.stack, outside, settings.root)
    jobs = Soon(reader.stack_jobs, settings.stack)  # every input is checked: reading may start
    wanted = desired_of(loaded, analysis, settings)
    ours = {m.name for m in loaded}
    left = [Declared(name=m.name, previous_names=m.manifest.previous_names,
                     gated=m.manifest.eval is not None and m.manifest.eval.gate is not None)
            for m in context if m.name not in ours]
    options = PlanOptions(prune=request.prune, replace=sorted(request.replace), resume=sorted(request.resume),
                          partial=bool(outside), elsewhere=left)
    live = jobs.result()
    made = make_plan(reader, wanted, settings.stack, options, target, provider, live, Gates(settings.root,
                                                                                          loaded + context))
    made = with_eval_estimates(made, loaded + context, live, settings)
    made = made.with_budget(settings.max_cost_usd, request.allow_over_budget, request.allow_unpriced)
    dated = refuse_ended(made, settings, {d.name: d.model_source for d in wanted}) + resource_note(made, reader,
                                                                                                   provider)
    for line in dated:
        say(line)
    if outside and made.orphans and not left:
        say(f"note: manifests of the project not among the given paths ({shown_paths(outside, settings.root)}): "
            "the jobs they declare are listed as orphans")
    elif left and (kept := _live_of(left, jobs.result(), settings.stack)):
        say(f"note: the jobs of {', '.join(kept)} (manifests of the project not among the given paths) are left "
            "as they are: neither changed nor orphans")
    return made.model_copy(update={"warnings": [str(d) for d in analysis.warnings] + dated})


def _live_of(left: list[Declared], jobs: list[LiveJob], stack: str) -> list[str]:
    """The left-out manifests that have live jobs: only those make a plan of some paths worth a note."""
    live = {job.name for job in managed_jobs(jobs, stack)}
    return sorted(d.name for d in left if live & {d.name, *d.previous_names})


def resource_note(made: Plan, reader: ApiReader, provider: Provider) -> list[str]:
    """Where the provider limits active jobs per resource: a note when the plan's creates do not all fit
    now (apply makes those that fit and defers the rest; ``apply --wait`` makes them as slots free up)."""
    creates = sum(1 for a in made.actions if isinstance(a, CreateAction))
    if provider.active_limit is None or not creates:
        return []
    active = sum(1 for job in reader.list_jobs() if not job.terminal)
    free = max(0, provider.active_limit - active)
    if creates <= free:
        return []
    return [f"note: {active} jobs of the resource are active and {provider.active_limit_reason} allows "
            f"{provider.active_limit}: {creates - free} of the {creates} new jobs wait for a slot (apply defers them; "
            "apply --wait makes them as jobs finish)"]


def make_plan(reader: ApiReader, wanted: list[Desired], stack: str, options: PlanOptions, target: TargetInfo,
              provider: Provider, jobs: list[LiveJob] | None = None, gates: GatesLoader | None = None) -> Plan:
    """The plan for ``wanted`` against the stack's ``jobs`` (read here when not given); the file list is
    read only if the plan needs it; ``gates`` the verdicts of gated stages (SPEC §11), else none known."""
    jobs = reader.stack_jobs(stack) if jobs is None else jobs
    pinned = jobs_by_id(reader, [d.job_id for d in wanted if d.job_id], jobs)
    for d in wanted:
        if d.job_id is not None and d.job_id not in pinned:
            raise SetupError(f"{d.job_id_source}: job_id: {d.job_id} was not found on {target.label} "
                             "(adopt a job of this target, or remove job_id to create a new one)")
    made = plan(wanted, jobs, reader.list_files, stack, options, pinned, provider, reader.list_checkpoints,
                gates or (lambda name, job: None))
    return made.model_copy(update={"target": target})


def with_eval_estimates(made: Plan, manifests: list[LoadedManifest], jobs: list[LiveJob], settings: Settings) -> Plan:
    """The plan with what each of its evaluations sends and costs (worked out here, beside the pure
    planner, from the eval files and the price table)."""
    steps = [a for a in made.actions if isinstance(a, EvaluateAction)]
    if not steps:
        return made
    by_name = {m.name: m for m in manifests}
    prices, count = load_prices(settings.prices), exact_counter(settings.token_cache)
    actions: list[Action] = []
    for a in made.actions:
        m = by_name.get(a.name)
        path = m.local_files.get(("eval", "file")) if m is not None else None
        if isinstance(a, EvaluateAction) and m is not None and m.manifest.eval is not None and path is not None:
            choice = m.manifest.eval.baseline
            baseline = {"base": a.before.model or None, "none": None}.get(choice, choice)
            a = a.model_copy(update={"estimate": estimate(m, iter_items(path, settings.root), a.model, baseline,
                                                          prices, count)})
        actions.append(a)
    return made.model_copy(update={"actions": actions})


def plan_exit_code(made: Plan, detailed: bool) -> int:
    """0, or with ``--detailed-exitcode`` 2 when the live jobs do not match the manifests: changes to
    make, failed jobs, or an orphan still running (a paid job nobody declares)."""
    running_orphans = any(n.status not in TERMINAL for n in made.orphans)
    return EXIT_CHANGES if detailed and (made.has_changes or made.failed or running_orphans) else 0


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
        rows.append({"name": job.name, "job_id": job.id, "status": job.status, "base": job.model or None,
                     "fine_tuned_model": job.fine_tuned_model, "created_at": job.created_at,
                     "age_seconds": max(0, int(now - job.created_at)), "spec": job.spec,
                     "error": job.error.message if job.error else None,
                     "declared": job.name in declared if declared is not None else None})
    have = {job.name for job in jobs}
    for name in declared or []:
        if name not in have:
            rows.append({"name": name, "job_id": None, "status": "not created", "base": None, "fine_tuned_model": None,
                         "created_at": None, "age_seconds": None, "spec": None, "error": None, "declared": True})
    return sorted(rows, key=lambda r: (r["name"] or "", -(r["created_at"] or 0)))
