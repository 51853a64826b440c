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
    from reconciler.apply.applier import ApplyInterrupted, StepResult
    from reconciler.plan.model import Plan
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
    from reconciler.apply.applier import ApplyInterrupted
    from reconciler.clock import SYSTEM
    from reconciler.plan.render import render_text
    from reconciler.session import eval_render, evaluations
    from reconciler.session.applying import (
        ApplyRequest,
        another_round,
        applier_for,
        apply_exit_code,
        deferred,
        followed,
        next_round,
        waiting_on,
    )
    from reconciler.session.dates import refuse_ended
    from reconciler.session.saved import budget_refusal, check_fresh, check_target, project_of_plan, target_of
    from reconciler.session.settings import duration
    from reconciler.session.settings import poll_interval as poll_every
    from reconciler.session.target import connect

    started, wait_for = SYSTEM.monotonic(), duration(timeout or "1h")
    if timeout is not None and not wait:
        click.echo("warning: --timeout has no effect without --wait", err=True)
    saved = _saved_plan(paths)
    if saved is not None:
        given = [flag for flag, on in (("--prune", prune), ("--replace", replace), ("--resume", resume),
                                       ("--allow-over-budget", allow_over_budget), ("--allow-unpriced", allow_unpriced))
                 if on]
        if given:
            raise click.UsageError(f"{' and '.join(given)} {'belongs' if len(given) == 1 else 'belong'} to plan "
                                   "(--out PLANFILE); a saved plan is applied as it was reviewed")
        settings = target_of(saved, project_of_plan(settings, Path(paths[0])))
    every = poll_every(poll_interval, settings)  # against the target now known
    with connect(settings) as conn:
        if saved is not None:
            check_target(saved, conn.info)
            check_fresh(saved, conn.reader, settings.root)
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
        request = ApplyRequest(parallelism, wait, wait_for, max_active_jobs)
        evaluator = evaluations.ApplyEvaluator(settings, conn, Path.cwd(), parallelism, () if saved else paths)
        every_result: list[StepResult] = []
        while True:  # one round, or with --wait one per stage of a pipeline that becomes ready
            click.echo("")
            with _upload_progress(plan) as progress:
                try:
                    results = applier_for(conn, settings, request, SYSTEM, progress, evaluator).apply(plan,
                                                                                                    _show_step)
                except ApplyInterrupted as stop:
                    _interrupted(stop, plan)
                    sys.exit(130)
            every_result += results
            _failed_gates(evaluator, settings.stack)
            _summary(results)
            finished = True
            jobs = {**followed(results), **waiting_on(plan, conn.reader)} if wait else {}
            if jobs:
                left = max(0.0, wait_for - (SYSTEM.monotonic() - started))
                finished = _follow(conn.reader, jobs, left, every, plan)
            if not (wait and saved is None and another_round(plan, results, finished)):
                break
            plan = next_round(_planned(paths, settings, conn, prune, replace, resume, allow_over_budget,
                                       allow_unpriced), plan)
            if not plan.has_changes or len(plan.blocked) == len(plan.actions):
                break  # nothing ready: the stages that still wait are in the report above
            click.echo("\nThe stages that waited are ready:\n")
            click.echo(render_text(plan, color()), nl=False)
        stored = evaluations.failed_reports(plan, settings, conn.reader, evaluator)
    if stored:  # gates that failed before this apply: why their stages wait
        click.echo("\n" + eval_render.render_text(stored, settings.stack), nl=False)
    if wait and deferred(results) and not (evaluator.failed or evaluations.gate_failures(plan)):  # gates say why
        click.echo(f"\nNot done within --timeout {timeout or '1h'}: {', '.join(deferred(results))}; apply again to "
                   "finish.")
    sys.exit(apply_exit_code(every_result, results, finished, wait, bool(evaluations.gate_failures(plan))))


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


def _follow(reader: Any, jobs: dict[str, str], left: float, every: float, plan: Plan) -> bool:
    """Follow ``jobs``; on Ctrl-C, also say which stages of a pipeline were still waiting."""
    from reconciler.cli.watch import follow_jobs

    try:
        return follow_jobs(reader, jobs, left, every)
    except SystemExit:
        for action in plan.blocked:
            click.echo(f"  … {action.name} waits: {action.blocked_by.reason if action.blocked_by else ''}")
        raise


def _interrupted(stop: ApplyInterrupted, plan: Plan) -> None:
    """What an interrupted apply did, and what that means."""
    for result in stop.untold:
        _show_step(result)
    counts = ", ".join(f"{n} {word}" for n, word in ((len(stop.done), "done"), (len(stop.in_flight), "in flight"),
                                                      (len(stop.not_started), "not started")) if n)
    click.echo(f"\nInterrupted: {counts or 'nothing started'}.", err=True)
    for action in stop.in_flight:
        click.echo(f"  ? {action.action:<8} {action.name}: in flight, it may or may not have happened", err=True)
    for action in stop.not_started:
        click.echo(f"  - {action.action:<8} {action.name}: not started", err=True)
    for action in plan.blocked:
        click.echo(f"  … {action.name} waits: {action.blocked_by.reason if action.blocked_by else ''}", err=True)
    click.echo("Jobs already created keep running (and billing) on the service. `ftctl plan` shows where things "
               "stand; `ftctl apply` again finishes the work without doubling any job.", err=True)
