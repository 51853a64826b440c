"""``plan`` and ``apply``: the plan made against the live jobs (or read from a saved plan), shown,
confirmed and carried out by the applier. Budget choices are recorded by the plan."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.common import (
    EXIT_CHANGES,
    color,
    interval_option,
    log_option,
    paths_of,
    prices_option,
    target_options,
    timeout_option,
    warn,
)
from reconciler.diagnostics import UsageProblem

if TYPE_CHECKING:
    from reconciler.apply.applier import StepResult
    from reconciler.plan.model import Plan
    from reconciler.session.settings import Settings


def budget_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--allow-over-budget and --allow-unpriced: choices a plan records (limits.max_cost_usd)."""
    fn = click.option("--allow-unpriced", is_flag=True, help="With limits.max_cost_usd: accept new jobs whose "
                      "cost cannot be estimated.")(fn)
    return click.option("--allow-over-budget", is_flag=True, help="Accept a plan whose new training is "
                        "estimated to cost more than limits.max_cost_usd (the plan says so).")(fn)


def _plan(paths: tuple[str, ...], settings: Settings, prune: bool, replace: tuple[str, ...], conn: Any,
          allow_over_budget: bool = False, allow_unpriced: bool = False) -> Plan:
    from reconciler.plan.planner import Options
    from reconciler.session.desired import check_data, desired_of, left_out
    from reconciler.session.planning import Soon, check_options, make_plan

    loaded, analysis = check_data(paths_of(paths, settings), settings)
    warn(analysis)
    if not loaded:
        click.echo(f"warning: no manifest found in {', '.join(map(str, paths_of(paths, settings)))}", err=True)
    known = {m.name for m in loaded}
    unknown = [n for n in replace if n not in known]
    if unknown:
        raise click.UsageError(f"--replace {unknown[0]}: no manifest declares that name")
    options = Options(prune=prune, replace=frozenset(replace))
    check_options(options, known, settings.stack)
    outside = left_out(paths_of(paths, settings), paths_of((), settings)) if paths else []
    if outside is None:
        if prune:
            raise UsageProblem("--prune with a manifest file, in a project with no manifest paths of its own "
                               "(ftctl.yaml paths:, or manifests/): the manifests it leaves out cannot be known, "
                               "and the running jobs they declare would be cancelled as orphans; refused (give "
                               "the folder of the manifests, or set paths: in ftctl.yaml)")
        outside = []
    if outside:
        shown = ", ".join(map(str, outside[:3])) + (f" and {len(outside) - 3} more" if len(outside) > 3 else "")
        if prune:
            raise UsageProblem(f"--prune with paths that leave out manifests of the project ({shown}): the "
                               "running jobs they declare would be cancelled as orphans; refused (run --prune "
                               "without paths, on the whole project)")
    jobs = Soon(conn.reader.stack_jobs, settings.stack)  # every input is checked: reading may start
    wanted = desired_of(loaded, analysis, settings)
    plan = make_plan(conn.reader, wanted, settings.stack, options, conn.info, jobs.result())
    plan = plan.with_budget(settings.max_cost_usd, allow_over_budget, allow_unpriced)
    if outside and plan.orphans:
        click.echo(f"note: manifests of the project not among the given paths ({shown}): the jobs they "
                   "declare are listed as orphans", err=True)
    return plan.model_copy(update={"warnings": [str(d) for d in analysis.warnings]})


@click.command("plan")
@click.argument("paths", nargs=-1)
@click.option("-o", "--output", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Save the plan for `apply PLANFILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes or failed jobs.")
@click.option("--prune", is_flag=True, help="Cancel running jobs that no manifest of the project declares "
              "(refused with paths that leave some out).")
@click.option("--replace", "replace", multiple=True, metavar="NAME", help="Create a new job for NAME anyway.")
@budget_options
@prices_option
@target_options
@log_option
def plan_cmd(paths: tuple[str, ...], output: str, out_file: str | None, detailed_exitcode: bool, prune: bool,
             replace: tuple[str, ...], allow_over_budget: bool, allow_unpriced: bool, settings: Settings) -> None:
    """Show what apply would change. Sends GET requests only."""
    from reconciler.plan.render import render_json, render_markdown, render_text
    from reconciler.session.saved import apply_hint, check_out_name, write_plan
    from reconciler.session.target import connect

    if out_file:
        check_out_name(Path(out_file))
    with connect(settings) as conn:
        plan = _plan(paths, settings, prune, replace, conn, allow_over_budget, allow_unpriced)
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
    if detailed_exitcode and (plan.has_changes or plan.failed):  # failed jobs: the live jobs do not match either
        sys.exit(EXIT_CHANGES)


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
@click.option("--prune", is_flag=True, help="Cancel running jobs that no manifest of the project declares "
              "(refused with paths that leave some out).")
@click.option("--replace", "replace", multiple=True, metavar="NAME", help="Create a new job for NAME anyway.")
@click.option("--parallelism", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--wait", is_flag=True, help="Wait where a job must first run (to pause it) or a slot must free up "
              "(--max-active-jobs, a quota) instead of deferring to a later apply, then follow every job the "
              "apply touched until it finishes (exit 1 if one fails).")
@timeout_option("How long --wait waits in all (90s, 30m, 2h); exit 1 when jobs are still running then.")
@interval_option
@click.option("--max-active-jobs", type=click.IntRange(1), metavar="N",
              help="Keep at most N of the stack's jobs active; create the rest later "
              "(env FTCTL_MAX_ACTIVE_JOBS, ftctl.yaml).")
@budget_options
@prices_option
@target_options
@log_option
def apply_cmd(paths: tuple[str, ...], auto_approve: bool, prune: bool, replace: tuple[str, ...],
              parallelism: int, wait: bool, timeout: str | None, poll_interval: str, max_active_jobs: int | None,
              allow_over_budget: bool, allow_unpriced: bool, settings: Settings) -> None:
    """Make the live jobs match the manifests, or apply a saved plan (PLANFILE) exactly."""
    from reconciler.apply.applier import Applier
    from reconciler.cli.watch import follow_jobs
    from reconciler.plan.render import render_text
    from reconciler.providers import OPENAI
    from reconciler.session.saved import budget_refusal, check_fresh, check_target, project_of_plan, target_of
    from reconciler.session.settings import SetupError, duration
    from reconciler.session.settings import poll_interval as poll_every
    from reconciler.session.target import connect

    started, wait_for = time.monotonic(), duration(timeout or "1h")
    if timeout is not None and not wait:
        click.echo("warning: --timeout has no effect without --wait", err=True)
    max_active = max_active_jobs or settings.max_active_jobs
    max_active_name = "--max-active-jobs" if max_active_jobs else settings.max_active_jobs_from
    saved = _saved_plan(paths)
    if saved is not None:
        given = [flag for flag, on in (("--prune", prune), ("--replace", replace), ("--allow-over-budget",
                 allow_over_budget), ("--allow-unpriced", allow_unpriced)) if on]
        if given:
            raise click.UsageError(f"{' and '.join(given)} {'belongs' if len(given) == 1 else 'belong'} to plan "
                                   "(--out PLANFILE); a saved plan is applied as it was reviewed")
        settings = target_of(saved, project_of_plan(settings, Path(paths[0])))
    every = poll_every(poll_interval, settings)  # against the target now known
    with connect(settings) as conn:
        if saved is not None:
            check_target(saved, conn.info)
            check_fresh(saved, conn.reader, settings.root)
            plan = saved
        else:
            plan = _plan(paths, settings, prune, replace, conn, allow_over_budget, allow_unpriced)
        click.echo(render_text(plan, color()), nl=False)
        if not plan.has_changes:
            return
        refused = budget_refusal(plan, settings.max_cost_usd, saved is not None)
        if refused:
            raise SetupError(refused)
        if saved is None:
            _confirm(auto_approve)  # a saved plan was reviewed already: it asks nothing
        with _upload_progress(plan) as progress:
            applier = Applier(conn.step_reader, conn.writer, settings.root, parallelism=parallelism, wait=wait,
                              wait_timeout=wait_for, progress=progress, max_active=max_active,
                              max_active_name=max_active_name,
                              provider=OPENAI if settings.sandbox else settings.profile)
            results = applier.apply(plan)
        _report(results)
        followed = {r.job_id: r.name for r in results if r.job_id and r.action in FOLLOWED
                    and r.outcome in ("done", "skipped")}
        finished = True
        if wait and followed:
            left = max(0.0, wait_for - (time.monotonic() - started))
            finished = follow_jobs(conn.reader, followed, left, every)
    deferred = [r.name for r in results if r.outcome == "deferred"]
    if wait and deferred:  # --wait promised to see them through
        click.echo(f"\nNot done within --timeout {timeout or '1h'}: {', '.join(deferred)}; apply again to finish.")
    if not finished or (wait and deferred) or any(r.outcome == "failed" for r in results):
        sys.exit(1)


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
        raise click.UsageError("apply needs confirmation and there is no terminal to ask on; "
                               "review the plan and re-run with --auto-approve")
    answer = click.prompt("\nApply these changes? Only 'yes' is accepted", default="", show_default=False)
    if answer.strip() != "yes":
        raise click.ClickException("apply cancelled: nothing was changed")


FOLLOWED = ("create", "replace", "resume", "pause")
"""Steps whose job --wait follows: the jobs an apply started or moved (cancelled ones are done)."""
MARKS = {"done": "✓", "skipped": "·", "deferred": "…", "failed": "✗"}


def _report(results: list[StepResult]) -> None:
    click.echo("")
    for r in results:
        click.echo(f"  {MARKS[r.outcome]} {r.action:<8} {r.name}: {r.detail}")
    counts = {k: sum(1 for r in results if r.outcome == k) for k in MARKS}
    click.echo(f"\nApply finished: {counts['done']} done, {counts['skipped']} already done, "
               f"{counts['deferred']} deferred, {counts['failed']} failed.")
