"""``ftctl eval`` on a project, and the evaluate step of ``apply``: which manifests are evaluated,
on which of their jobs, and what the exit code says. The CLI parses and prints; this decides.

A manifest is evaluated when it has ``eval:`` and its current job (the newest with its name, or the
job it adopts, as in ``plan``) succeeded; otherwise it is reported as not evaluated, with why. The
exit code is 1 when a gate failed or a gated manifest could not be evaluated (its gate did not
pass), else 0. ``--dry-run`` reads no job: the models come from the manifests, the items from the
eval files, the prices from the price table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.api.completions import Usage
from reconciler.api.models import LiveJob
from reconciler.api.ports import ApiReader
from reconciler.apply.applier import StepResult
from reconciler.datasets.pricing import load_prices
from reconciler.datasets.tokens import exact_counter
from reconciler.diagnostics import plural
from reconciler.manifests import LoadedManifest
from reconciler.plan.model import GATE_FAILED, EvalEstimate, EvaluateAction, Notice, Plan
from reconciler.plan.planner import managed_jobs
from reconciler.session.desired import check_data
from reconciler.session.eval_cache import Cache
from reconciler.session.eval_estimate import estimate, models_before_training
from reconciler.session.eval_report import EvalReport, number
from reconciler.session.eval_run import iter_items
from reconciler.session.evaluating import Evaluator, Skipped, Ticker, completions_for, usage_of
from reconciler.session.gates import Evaluated, stored_report
from reconciler.session.jobs import current_jobs, with_pins
from reconciler.session.settings import Settings, UsageProblem, manifest_paths
from reconciler.session.target import Connection

Outcome = EvalReport | Skipped


@dataclass(frozen=True)
class EvalRequest:
    names: tuple[str, ...] = ()
    limit: int | None = None
    parallelism: int = 4


def chosen(names: tuple[str, ...], settings: Settings, cwd: Path,
           paths: tuple[str, ...] = ()) -> tuple[list[LoadedManifest], list[Evaluated]]:
    """The manifests under ``paths`` (the project's by default), checked, and the evaluations of ``names``
    (every one when none is given)."""
    loaded, _ = check_data(manifest_paths(paths, settings, cwd), settings)
    by_name = {m.name: m for m in loaded}
    for name in names:
        if name not in by_name:
            raise UsageProblem(f"{name}: no manifest of the project declares that name")
        if by_name[name].manifest.eval is None:
            raise UsageProblem(f"{name}: its manifest has no eval: section ({by_name[name].where()[0]})")
    picked = [by_name[n] for n in dict.fromkeys(names)] if names else loaded
    return loaded, [e for e in map(Evaluated.of, picked) if e is not None]


def current_of(reader: ApiReader, settings: Settings, loaded: list[LoadedManifest]) -> dict[str, LiveJob]:
    pins = {m.name: m.manifest.job_id for m in loaded if m.manifest.job_id}
    jobs = with_pins(reader, managed_jobs(reader.stack_jobs(settings.stack), settings.stack), pins)
    return current_jobs(jobs)


def evaluator_for(settings: Settings, conn: Connection, evaluated: list[Evaluated], parallelism: int,
                  ticker: Ticker | None = None) -> Evaluator:
    target, endpoints = completions_for(conn.transport, evaluated)
    return Evaluator(Cache(settings.root), target, parallelism, ticker or (lambda name, total: lambda: None),
                     endpoints)


def run_evals(request: EvalRequest, settings: Settings, conn: Connection, cwd: Path,
              ticker: Ticker | None = None) -> tuple[list[Outcome], Usage]:
    """Each chosen evaluation run (or why not), and what the requests sent cost as their answers said."""
    loaded, evaluated = chosen(request.names, settings, cwd)
    current = current_of(conn.reader, settings, loaded)
    evaluator = evaluator_for(settings, conn, evaluated, request.parallelism, ticker)
    outcomes: list[Outcome] = []
    for e in evaluated:
        job = current.get(e.name)
        skipped = evaluator.skipped(e, job)
        if skipped is not None or job is None:
            outcomes.append(skipped or Skipped(e.name, "it has no job yet", e.evaluation.gate is not None))
            continue
        outcomes.append(evaluator.evaluate(e, job, request.limit))
    return outcomes, usage_of(evaluator.models, evaluator.endpoints)


def dry_run(request: EvalRequest, settings: Settings, cwd: Path) -> dict[str, EvalEstimate]:
    """Per evaluation, what it would send and cost; nothing is read from the target."""
    loaded, evaluated = chosen(request.names, settings, cwd)
    by_name = {m.name: m for m in loaded}
    prices = load_prices(settings.prices)
    count = exact_counter(settings.token_cache)
    found: dict[str, EvalEstimate] = {}
    for e in evaluated:
        trained, baseline = models_before_training(by_name[e.name])
        items = iter_items(e.file, settings.root, request.limit)
        found[e.name] = estimate(by_name[e.name], items, trained, baseline, prices, count)
    return found


def gate_failures(plan: Plan) -> list[Notice]:
    """The plan's stages whose gate failed on their current job (the stages built on them are blocked)."""
    return [n for n in plan.failed if n.status == GATE_FAILED]


def failed_reports(plan: Plan, settings: Settings, reader: ApiReader, run: ApplyEvaluator) -> list[EvalReport]:
    """The stored report of each gate the plan found failed (but those that failed in ``run``, shown
    already), to show why its stages wait."""
    failures = [n for n in gate_failures(plan) if n.name not in run.failed]
    if not failures:
        return []
    _, evaluated = chosen((), settings, run.cwd, run.paths)
    by_name = {e.name: e for e in evaluated}
    found = []
    for n in failures:
        report = stored_report(Cache(settings.root), by_name[n.name], reader.get_job(n.job_id or "")) \
            if n.name in by_name and n.job_id else None
        if report is not None:
            found.append(report)
    return found


def eval_exit_code(outcomes: list[Outcome]) -> int:
    """1 when a gate failed, or a gated manifest could not be evaluated; else 0."""
    failed = any(isinstance(o, EvalReport) and not o.passed for o in outcomes)
    return 1 if failed or any(isinstance(o, Skipped) and o.gated for o in outcomes) else 0


class ApplyEvaluator:
    """The applier's ``evaluator``: the evaluation of an evaluate step's stage, run as ``ftctl eval NAME``
    runs it; its report stored (``plan`` reads the verdict from it) and kept for the CLI to print. A
    failed gate is a failed step: apply exits 1, and the stages built on it stay blocked."""

    def __init__(self, settings: Settings, conn: Connection, cwd: Path, parallelism: int = 4,
                 paths: tuple[str, ...] = ()) -> None:
        self.settings, self.conn, self.cwd, self.parallelism, self.paths = settings, conn, cwd, parallelism, paths
        self.reports: list[EvalReport] = []
        """The reports of the evaluations run since the CLI last took them."""
        self.failed: set[str] = set()
        """The stages whose gate failed in this apply."""

    def __call__(self, action: EvaluateAction) -> StepResult:
        _, evaluated = chosen((action.name,), self.settings, self.cwd, self.paths)
        job = self.conn.step_reader.get_job(action.job_id)
        evaluator = evaluator_for(self.settings, self.conn, evaluated, self.parallelism)
        skipped = evaluator.skipped(evaluated[0], job)
        if skipped is not None:
            return StepResult(action.name, action.action, "failed", f"not evaluated: {skipped.reason}", job.id)
        report = evaluator.evaluate(evaluated[0], job)
        self.reports.append(report)
        if not report.passed:
            self.failed.add(report.name)
        if report.unanswered:
            return StepResult(action.name, action.action, "failed", f"{plural(report.unanswered, 'completion')} "
                              "failed: the gate is judged once every answer is had (apply again)", job.id)
        if report.gate is None:
            return StepResult(action.name, action.action, "done", f"score {number(report.score)}", job.id)
        if report.passed:
            return StepResult(action.name, action.action, "done", f"gate passed: {report.gate.reason}", job.id)
        return StepResult(action.name, action.action, "failed", f"gate failed: {report.gate.reason}", job.id)

