"""Carrying out a plan, and the decisions around it: the applier set up for the target, which jobs
``--wait`` follows afterwards, what is left for a later apply, and the exit code. The CLI confirms,
prints and calls these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reconciler.api.ports import ApiReader
from reconciler.apply.applier import Applier, StepResult, UploadProgress
from reconciler.clock import Clock
from reconciler.plan.model import Action, EvaluateAction, Plan, UploadAction
from reconciler.plan.planner import managed_jobs
from reconciler.providers.statuses import SETTLED
from reconciler.session.jobs import current_jobs
from reconciler.session.settings import Settings
from reconciler.session.target import Connection

FOLLOWED = ("create", "replace", "resume", "pause")
"""Steps whose job --wait follows: the jobs an apply started or moved (cancelled ones are done)."""


@dataclass(frozen=True)
class ApplyRequest:
    """How ``apply`` was asked to carry out its plan."""

    parallelism: int = 4
    wait: bool = False
    timeout: float = 3600.0
    max_active_jobs: int | None = None
    """``--max-active-jobs``; else the settings' (environment, ftctl.yaml)."""


def applier_for(conn: Connection, settings: Settings, request: ApplyRequest, clock: Clock,
                progress: UploadProgress | None = None,
                evaluator: Callable[[EvaluateAction], StepResult] | None = None) -> Applier:
    """The applier of a plan on ``conn``; ``evaluator`` runs the plan's evaluate steps (``evaluations``)."""
    limit, limit_name = (request.max_active_jobs, "--max-active-jobs") if request.max_active_jobs else \
        (settings.max_active_jobs, settings.max_active_jobs_from)
    return Applier(conn.step_reader, conn.writer, settings.root, parallelism=request.parallelism,
                   wait=request.wait, wait_timeout=request.timeout, clock=clock, progress=progress,
                   provider=conn.provider, max_active=limit, max_active_name=limit_name, evaluator=evaluator)


def followed(results: list[StepResult]) -> dict[str, str]:
    """The jobs ``--wait`` follows once the steps are done: job ID → name."""
    return {r.job_id: r.name for r in results if r.job_id and r.action in FOLLOWED
            and r.outcome in ("done", "skipped")}


def deferred(results: list[StepResult]) -> list[str]:
    return [r.name for r in results if r.outcome == "deferred"]


def apply_exit_code(every: list[StepResult], last: list[StepResult], finished: bool, wait: bool,
                    gate_failed: bool = False) -> int:
    """1 when a step of any round failed, when ``--wait`` was promised and did not see everything through
    (a job still running, or a step of the last round deferred), when a followed job failed, or when a
    gate failed (the stages built on it are not trained); else 0."""
    failed = any(r.outcome == "failed" for r in every)
    return 1 if failed or gate_failed or not finished or (wait and deferred(last)) else 0


def another_round(plan: Plan, results: list[StepResult], finished: bool) -> bool:
    """Whether ``apply --wait`` plans again after a round: stages waited and everything followed finished,
    and no evaluation failed (its gate is not passed: planning again would only evaluate it again)."""
    evaluation_failed = any(r.action == "evaluate" and r.outcome == "failed" for r in results)
    return bool(plan.blocked) and finished and not evaluation_failed


def waiting_on(plan: Plan, reader: ApiReader) -> dict[str, str]:
    """The unfinished jobs the plan's blocked stages wait for (job ID → name), to follow before the next
    round of a pipeline."""
    names = {a.blocked_by.name for a in plan.blocked if a.blocked_by is not None}
    if not names:
        return {}
    current = current_jobs(managed_jobs(reader.stack_jobs(plan.stack), plan.stack))
    return {job.id: name for name, job in current.items() if name in names and job.status not in SETTLED}


def next_round(made: Plan, before: Plan) -> Plan:
    """The next round of a pipeline under ``apply --wait``: of the plan made now, only what concerns the
    stages that waited in the plan that was reviewed (their uploads, cancels and creates, and the
    evaluation of a gated stage they now wait for), nothing else."""
    names = {a.name for a in before.blocked}
    gates = {a.blocked_by.name for a in made.blocked if a.name in names and a.blocked_by is not None}

    def concerns(action: Action) -> set[str]:
        if isinstance(action, EvaluateAction):
            return names if action.name in gates else set()
        return set(action.used_by or [action.name]) if isinstance(action, UploadAction) else {action.name}

    return made.model_copy(update={"actions": [a for a in made.actions if concerns(a) & names]})

