"""``plan`` and ``apply``: the plan made against the live jobs (or read from a saved plan), shown,
confirmed and carried out by the applier. The decisions (options refused, exit codes, what --wait
follows) are the session's; these commands parse, print and ask."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.common import (
    color,
    interval_option,
    log_option,
    prices_option,
    target_options,
    timeout_option,
)
from reconciler.diagnostics import SetupError

if TYPE_CHECKING:
    from reconciler.apply.applier import StepResult
    from reconciler.plan.model import Plan
    from reconciler.session.rounds import Interrupted
    from reconciler.session.settings import Settings


def plan_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """What plan and apply both take: --prune, --replace and the budget choices a plan records."""
    for option in reversed((
        click.option("--prune", is_flag=True, help="Cancel running jobs that no manifest of the project declares "
                     "(refused with paths that leave some out)."),
        click.option("--replace", "replace", multiple=True, metavar="NAME", help="Create a new job for NAME anyway."),
        click.option("--resume", "resume", multiple=True, metavar="NAME", help="Resume NAME's paused job where the "
                     "service pauses jobs at a cost ceiling (Azure OpenAI, reinforcement): it bills on unbounded."),
        click.option("--allow-over-budget", is_flag=True, help="Accept a plan whose new training is estimated to "
                     "cost more than limits.max_cost_usd (the plan says so)."),
        click.option("--allow-unpriced", is_flag=True, help="With limits.max_cost_usd: accept new jobs whose cost "
                     "cannot be estimated."),
        prices_option,
    )):
        fn = option(fn)
    return fn


def _planned(paths: tuple[str, ...], settings: Settings, conn: Any, prune: bool, replace: tuple[str, ...],
             resume: tuple[str, ...], allow_over_budget: bool, allow_unpriced: bool) -> Plan:
    from reconciler.session.planning import PlanRequest, plan_project

    request = PlanRequest(paths, prune, replace, resume, allow_over_budget, allow_unpriced)
    return plan_project(request, settings, conn.reader, conn.info, conn.provider, Path.cwd(),
                        lambda message: click.echo(message, err=True))


@click.command("plan")
@click.argument("paths", nargs=-1)
@click.option("-o", "--output", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Save the plan for `apply PLANFILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the live jobs do not match the manifests: "
              "changes to make, failed jobs, or orphans still running.")
@plan_options
@target_options
@log_option
def plan_cmd(paths: tuple[str, ...], output: str, out_file: str | None, detailed_exitcode: bool, prune: bool,
             replace: tuple[str, ...], resume: tuple[str, ...], allow_over_budget: bool, allow_unpriced: bool,
             settings: Settings) -> None:
    """Show what apply would change. Sends GET requests only."""
    from reconciler.plan.render import render_json, render_markdown, render_text
    from reconciler.session.planning import plan_exit_code
    from reconciler.session.saved import apply_hint, check_out_name, write_plan
    from reconciler.session.target import connect

    if out_file:
        check_out_name(Path(out_file))
    with connect(settings) as conn:
        plan = _planned(paths, settings, conn, prune, replace, resume, allow_over_budget, allow_unpriced)
    if out_file:
        write_plan(plan, Path(out_file))
    if output == "json":
        click.echo(render_json(plan), nl=False)
    elif output == "markdown":
        click.echo(render_markdown(plan), nl=False)
    else:
        click.echo(render_text(plan, color()), nl=False)
    if out_file:
        click.echo(f"Saved the plan to {out_file}; apply it with: {apply_hint(out_file, settings)}",
                   err=output != "text")
    sys.exit(plan_exit_code(plan, detailed_exitcode))


def _saved_plan(paths: tuple[str, ...]) -> Plan | None:
    from reconciler.session.saved import is_plan_file, read_plan

    plan_files = [p for p in paths if is_plan_file(Path(p))]
    if not plan_files:
        return None
    if len(paths) > 1:
        raise click.UsageError(f"{plan_files[0]} is a saved plan: apply it alone, without other paths")
    return read_plan(Path(plan_files[0]))


@click.command("apply")
@click.argument("paths", nargs=-1)
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--parallelism", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--wait", is_flag=True, help="Wait where a job must first run (to pause it) or a slot must free up "
              "(--max-active-jobs, a quota) instead of deferring to a later apply, then follow every job the "
              "apply touched until it finishes (exit 1 if one fails).")
@timeout_option("How long --wait waits in all (90s, 30m, 2h); exit 1 when jobs are still running then.")
@interval_option
@click.option("--max-active-jobs", type=click.IntRange(1), metavar="N",
              help="Keep at most N of the stack's jobs active; create the rest later "
              "(env FTCTL_MAX_ACTIVE_JOBS, ftctl.yaml).")
@plan_options
@target_options
@log_option
def apply_cmd(paths: tuple[str, ...], auto_approve: bool, prune: bool, replace: tuple[str, ...],
              resume: tuple[str, ...], parallelism: int, wait: bool, timeout: str | None, poll_interval: str,
              max_active_jobs: int | None, allow_over_budget: bool, allow_unpriced: bool, settings: Settings) -> None:
    """Make the live jobs match the manifests, or apply a saved plan (PLANFILE) exactly."""
    from reconciler.plan.render import render_text
    from reconciler.session import eval_render, evaluations
    from reconciler.session.applying import ApplyRequest, apply_exit_code, deferred
    from reconciler.session.dates import refuse_ended
    from reconciler.session.rounds import Interrupted, apply_rounds, refuse_flags_with_saved_plan
    from reconciler.session.saved import budget_refusal, check_fresh, check_target, project_of_plan, target_of
    from reconciler.session.settings import duration
    from reconciler.session.settings import poll_interval as poll_every
    from reconciler.session.target import connect

    if timeout is not None and not wait:
        click.echo("warning: --timeout has no effect without --wait", err=True)
    saved = _saved_plan(paths)
    if saved is not None:
        refuse_flags_with_saved_plan(prune=prune, replace=replace, resume=resume, allow_over_budget=allow_over_budget,
                                     allow_unpriced=allow_unpriced)
        settings = target_of(saved, project_of_plan(settings, Path(paths[0])))
    every = poll_every(poll_interval, settings)  # against the target now known
    with connect(settings) as conn:
        if saved is not None:
            check_target(saved, conn.info)
            check_fresh(saved, conn.reader, settings.root, conn.provider)
            for warning in refuse_ended(saved, settings):  # held to the day it is applied on
                click.echo(warning, err=True)
            plan = saved
        else:
            plan = _planned(paths, settings, conn, prune, replace, resume, allow_over_budget, allow_unpriced)
        click.echo(render_text(plan, color()), nl=False)
        if not plan.has_changes:
            return
        refused = budget_refusal(plan, settings.max_cost_usd, saved is not None)
        if refused:
            raise SetupError(refused)
        if saved is None:
            _confirm(auto_approve)  # a saved plan was reviewed already: it asks nothing
        request = ApplyRequest(parallelism, wait, duration(timeout or "1h"), max_active_jobs)
        replan = None if saved is not None else (
            lambda: _planned(paths, settings, conn, prune, replace, resume, allow_over_budget, allow_unpriced))
        evaluator = evaluations.ApplyEvaluator(settings, conn, Path.cwd(), parallelism, () if saved else paths)
        try:
            done = apply_rounds(conn, settings, request, plan, replan, _View(conn, every, settings, evaluator),
                                evaluator)
        except Interrupted as stop:
            _interrupted(stop)
            sys.exit(130)
        last = done.plan or plan
        stored = evaluations.failed_reports(last, settings, conn.reader, evaluator)
    if stored:  # gates that failed before this apply: why their stages wait
        click.echo("\n" + eval_render.render_text(stored, settings.stack), nl=False)
    gates_failed = bool(evaluator.failed or evaluations.gate_failures(last))
    if wait and deferred(done.last) and not gates_failed:  # --wait promised to see them through; gates say why
        click.echo(f"\nNot done within --timeout {timeout or '1h'}: {', '.join(deferred(done.last))}; apply again to "
                   "finish.")
    sys.exit(apply_exit_code(done.results, done.last, done.finished, wait, bool(evaluations.gate_failures(last))))


class _View:
    """What an apply shows, round by round (``session.rounds.RoundView``)."""

    def __init__(self, conn: Any, every: float, settings: Settings, evaluator: Any) -> None:
        self.reader, self.provider, self.every, self.settings, self.evaluator = conn.reader, conn.provider, every, \
            settings, evaluator

    def step(self, result: StepResult) -> None:
        _show_step(result)

    def uploads(self, plan: Plan) -> contextlib.AbstractContextManager[Callable[[str, int], None] | None]:
        click.echo("")
        return _upload_progress(plan)

    def summary(self, results: list[StepResult]) -> None:
        _failed_gates(self.evaluator, self.settings.stack)
        _summary(results)

    def ready(self, plan: Plan) -> None:
        from reconciler.plan.render import render_text

        click.echo("\nThe stages that waited are ready:\n")
        click.echo(render_text(plan, color()), nl=False)

    def follow(self, jobs: dict[str, str], left: float) -> bool:
        from reconciler.cli.watch import follow_jobs

        try:
            return follow_jobs(self.reader, jobs, left, self.every, self.settings.clock, self.provider)
        except SystemExit:  # follow_jobs said where each job stands; the run says the rest
            raise KeyboardInterrupt from None


def _failed_gates(evaluator: Any, stack: str) -> None:
    """The report of each evaluation of this round whose gate failed: why the stages built on it wait."""
    from reconciler.session.eval_render import render_text

    failed, evaluator.reports = [r for r in evaluator.reports if not r.passed], []
    if failed:
        click.echo("\n" + render_text(failed, stack), nl=False)


PROGRESS_MIN_BYTES = 4 * 1024 * 1024


@contextlib.contextmanager
def _upload_progress(plan: Plan) -> Iterator[Callable[[str, int], None] | None]:
    """A progress bar per upload of more than a few MB, on a terminal only."""
    from reconciler.plan.model import UploadAction

    big = [a.file for a in plan.actions if isinstance(a, UploadAction) and a.file.bytes >= PROGRESS_MIN_BYTES]
    if not big or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    console = Console(stderr=True, no_color="NO_COLOR" in os.environ)
    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=console) as bars:
        tasks = {f.path: bars.add_task(f"upload {f.path}", total=f.bytes) for f in big}

        def advance(path: str, n: int) -> None:
            if path in tasks:
                bars.advance(tasks[path], n)

        yield advance


def _confirm(auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise SetupError("apply needs confirmation and there is no terminal to ask on: nothing was changed; "
                         "review the plan and re-run with --auto-approve (or apply a saved plan: plan --out FILE)")
    answer = click.prompt("\nApply these changes? Only 'yes' is accepted", default="", show_default=False)
    if answer.strip() != "yes":
        raise click.ClickException("apply cancelled: nothing was changed")


MARKS = {"done": "✓", "skipped": "·", "deferred": "…", "failed": "✗"}


def _show_step(r: StepResult) -> None:
    click.echo(f"  {MARKS[r.outcome]} {r.action:<8} {r.name}: {r.detail}")


def _summary(results: list[StepResult]) -> None:
    from reconciler.apply.applier import outcomes

    counts = outcomes(results)
    click.echo(f"\nApply finished: {counts['done']} done, {counts['skipped']} already done, "
               f"{counts['deferred']} deferred, {counts['failed']} failed.")


def _interrupted(stop: Interrupted) -> None:
    """What an interrupted apply did — in this round and, for a pipeline, in earlier ones — and what
    that means."""
    if stop.stop is not None:
        for result in stop.stop.untold:
            _show_step(result)
        counts = ", ".join(f"{n} {word}" for n, word in ((len(stop.stop.done), "done"),
                                                          (len(stop.stop.in_flight), "in flight"),
                                                          (len(stop.stop.not_started), "not started")) if n)
        click.echo(f"\nInterrupted: {counts or 'nothing started'}.", err=True)
        for action in stop.stop.in_flight:
            click.echo(f"  ? {action.action:<8} {action.name}: in flight, it may or may not have happened", err=True)
        for action in stop.stop.not_started:
            click.echo(f"  - {action.action:<8} {action.name}: not started", err=True)
    if stop.created:
        click.echo(f"  ✓ jobs created by this run: {', '.join(stop.created)}", err=True)
    if stop.following:
        click.echo(f"  … still running: {', '.join(sorted(set(stop.following.values())))}", err=True)
    for name, reason in stop.waiting:
        click.echo(f"  … {name} waits: {reason}", err=True)
    click.echo("Jobs already created keep running (and billing) on the service. `ftctl plan` shows where things "
               "stand; `ftctl apply` again finishes the work without doubling any job.", err=True)
