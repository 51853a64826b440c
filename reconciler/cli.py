"""The ``ftctl`` command line. Commands parse options and delegate; no logic lives here."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler import __version__, logs
from reconciler.api.errors import ApiError
from reconciler.diagnostics import InputError

if TYPE_CHECKING:
    from reconciler.apply.applier import StepResult
    from reconciler.plan.model import Plan
    from reconciler.session.settings import Settings

DEFAULT_PATHS = ("manifests",)
EXIT_CHANGES = 2


def _paths(paths: tuple[str, ...], settings: Settings) -> list[Path]:
    """The paths given, else ftctl.yaml's ``paths``, else ``manifests``."""
    if paths:
        return [Path(p) for p in paths]
    return list(settings.paths) or [Path(p) for p in DEFAULT_PATHS]


def _color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def _settings(stack: str | None = None, sandbox: bool = False, api_base: str | None = None,
              prices: str | None = None, offline: bool = False, provider: str | None = None) -> Settings:
    """The one place that reads the environment: flags > environment > ftctl.yaml > defaults."""
    from reconciler.session.settings import build

    return build(os.environ, Path.cwd(), stack=stack, sandbox=sandbox, api_base=api_base, prices=prices,
                 offline=offline, provider=provider)


def usage_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Contradicting options found below the CLI are shown as usage errors, with the banner."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from reconciler.session.settings import UsageProblem

        try:
            return fn(*args, **kwargs)
        except UsageProblem as exc:
            raise click.UsageError(str(exc)) from None

    return wrapper


def target_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that talks to an API; the command receives ``settings``."""

    @click.option("--stack", metavar="NAME", help="Stack name (env FTCTL_STACK, ftctl.yaml; default 'default'): "
                  "ftctl only touches jobs tagged with it.")
    @click.option("--sandbox", is_flag=True, help="Use the embedded sandbox (state in .ftctl/sandbox.db at the "
                  "project root).")
    @click.option("--api-base", metavar="URL", help="API base URL (env OPENAI_BASE_URL, ftctl.yaml; default OpenAI).")
    @click.option("--provider", type=click.Choice(["openai", "azure", "compatible"]),
                  help="What the API base is (env FTCTL_PROVIDER, ftctl.yaml; default: from the URL).")
    @functools.wraps(fn)
    @usage_errors
    def wrapper(*args: Any, stack: str | None, sandbox: bool, api_base: str | None, provider: str | None,
                **kwargs: Any) -> Any:
        prices = kwargs.pop("prices", None)
        return fn(*args, settings=_settings(stack, sandbox, api_base, prices, provider=provider), **kwargs)

    return wrapper


LEVELS = click.Choice(["debug", "info", "warning", "error"])


def _log_level(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    """Configure logging as soon as ``--log-level`` is read, wherever it was given: the flag wins
    over ``FTCTL_LOG``, which is only read (and checked) when no flag is given at all."""
    from reconciler.session.settings import log_level

    if value is not None:
        logs.configure(value)
    elif ctx.parent is None and not any(a == "--log-level" or a.startswith("--log-level=") for a in sys.argv[1:]):
        logs.configure(log_level(None, os.environ))


def log_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--log-level``, accepted after the subcommand as well as before it."""
    return click.option("--log-level", type=LEVELS, expose_value=False, is_eager=True, callback=_log_level,
                        help="Log events to stderr: info shows each step, debug each HTTP request "
                             "(env FTCTL_LOG; default warning).")(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftctl")
@log_option
def cli() -> None:
    """Declarative plan/apply for fine-tuning jobs."""


def prices_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--prices", "prices", metavar="FILE",
                        help="Price table (JSON) instead of the built-in dated one (env FTCTL_PRICES).")(fn)


def _warn(analysis: Any) -> None:
    for diag in analysis.warnings:
        click.echo(str(diag), err=True)


@cli.command()
@click.argument("paths", nargs=-1)
@click.option("-o", "--output", type=click.Choice(["text", "json", "github"]), default="text", show_default=True,
              help="json: a list of problems; github: workflow annotations on the pull request's lines.")
@click.option("--provider", type=click.Choice(["openai", "azure", "compatible"]),
              help="Also check the limits of this provider (env FTCTL_PROVIDER), e.g. Azure's 40-character suffix.")
@prices_option
@usage_errors
@log_option
def validate(paths: tuple[str, ...], output: str, provider: str | None, prices: str | None) -> None:
    """Check manifests and their training data offline; exit 0 when valid, 1 when not."""
    from reconciler.diagnostics import plural, to_github, to_json
    from reconciler.session.desired import check_data

    settings = _settings(prices=prices, offline=True, provider=provider)
    try:
        loaded, analysis = check_data(_paths(paths, settings), settings)
    except InputError as exc:
        if output == "text":
            raise
        problems, summary, failed = exc.diagnostics, None, True
    else:
        problems, failed = analysis.warnings, False
        files = len({m.source for m in loaded})
        examples = sum(scan.report.examples for scan in analysis.scans.values())
        summary = (f"{plural(len(loaded), 'manifest')} in {plural(files, 'file')} valid; "
                   f"{plural(len(analysis.scans), 'data file')} with {plural(examples, 'example')} checked.")
    if output == "json":
        click.echo(json.dumps(to_json(problems), indent=2, ensure_ascii=False))
    elif output == "github":
        for diag in problems:
            click.echo(to_github(diag, settings.root))  # paths from the repository root, as GitHub wants
        errors = sum(1 for d in problems if d.severity == "error")
        click.echo(summary or f"{plural(errors, 'error')}.")
    else:
        for diag in problems:
            click.echo(str(diag), err=True)
        click.echo(summary)
    if failed:
        sys.exit(1)


def budget_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--allow-over-budget and --allow-unpriced: choices a plan records (limits.max_cost_usd)."""
    fn = click.option("--allow-unpriced", is_flag=True, help="With limits.max_cost_usd: accept new jobs whose "
                      "cost cannot be estimated.")(fn)
    return click.option("--allow-over-budget", is_flag=True, help="Accept a plan whose new training is "
                        "estimated to cost more than limits.max_cost_usd (the plan says so).")(fn)


def _plan(paths: tuple[str, ...], settings: Settings, prune: bool, replace: tuple[str, ...], conn: Any,
          allow_over_budget: bool = False, allow_unpriced: bool = False) -> Plan:
    from reconciler.plan.planner import Options
    from reconciler.session.desired import load_desired
    from reconciler.session.planning import make_plan

    wanted, analysis = load_desired(_paths(paths, settings), settings)
    _warn(analysis)
    if not wanted:
        click.echo(f"warning: no manifest found in {', '.join(map(str, _paths(paths, settings)))}", err=True)
    known = {d.name for d in wanted}
    unknown = [n for n in replace if n not in known]
    if unknown:
        raise click.UsageError(f"--replace {unknown[0]}: no manifest declares that name")
    plan = make_plan(conn.reader, wanted, settings.stack, Options(prune=prune, replace=frozenset(replace)), conn.info)
    plan = plan.with_budget(settings.max_cost_usd, allow_over_budget, allow_unpriced)
    return plan.model_copy(update={"warnings": [str(d) for d in analysis.warnings]})


@cli.command("plan")
@click.argument("paths", nargs=-1)
@click.option("-o", "--output", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Save the plan for `apply PLANFILE`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes.")
@click.option("--prune", is_flag=True, help="Cancel running jobs whose manifest is gone.")
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
        click.echo(render_text(plan, _color()), nl=False)
    if out_file:
        click.echo(f"Saved the plan to {out_file}; apply it with: {apply_hint(out_file, settings)}",
                   err=output != "text")
    if detailed_exitcode and plan.has_changes:
        sys.exit(EXIT_CHANGES)


def _saved_plan(paths: tuple[str, ...]) -> Plan | None:
    from reconciler.session.saved import is_plan_file, read_plan

    plan_files = [p for p in paths if is_plan_file(Path(p))]
    if not plan_files:
        return None
    if len(paths) > 1:
        raise click.UsageError(f"{plan_files[0]} is a saved plan: apply it alone, without other paths")
    return read_plan(Path(plan_files[0]))


@cli.command("apply")
@click.argument("paths", nargs=-1)
@click.option("--auto-approve", is_flag=True, help="Apply without asking for confirmation.")
@click.option("--prune", is_flag=True, help="Cancel running jobs whose manifest is gone.")
@click.option("--replace", "replace", multiple=True, metavar="NAME", help="Create a new job for NAME anyway.")
@click.option("--parallelism", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--wait", is_flag=True, help="Wait where a job must first run (to pause it) or a slot must free up "
              "(--max-active-jobs, a quota), instead of deferring to a later apply.")
@click.option("--timeout", metavar="DURATION", default="1h", show_default=True,
              help="How long --wait waits (90s, 30m, 2h).")
@click.option("--max-active-jobs", type=click.IntRange(1), metavar="N",
              help="Keep at most N of the stack's jobs active; create the rest later "
              "(env FTCTL_MAX_ACTIVE_JOBS, ftctl.yaml).")
@budget_options
@prices_option
@target_options
@log_option
def apply_cmd(paths: tuple[str, ...], auto_approve: bool, prune: bool, replace: tuple[str, ...],
              parallelism: int, wait: bool, timeout: str, max_active_jobs: int | None, allow_over_budget: bool,
              allow_unpriced: bool, settings: Settings) -> None:
    """Make the live jobs match the manifests, or apply a saved plan (PLANFILE) exactly."""
    from reconciler.apply.applier import Applier
    from reconciler.plan.render import render_text
    from reconciler.providers import OPENAI
    from reconciler.session.saved import budget_refusal, check_fresh, check_target, target_of
    from reconciler.session.settings import SetupError, duration
    from reconciler.session.target import connect

    wait_for = duration(timeout)
    max_active = max_active_jobs or settings.max_active_jobs
    max_active_name = "--max-active-jobs" if max_active_jobs else settings.max_active_jobs_from
    saved = _saved_plan(paths)
    if saved is not None:
        given = [flag for flag, on in (("--prune", prune), ("--replace", replace), ("--allow-over-budget",
                 allow_over_budget), ("--allow-unpriced", allow_unpriced)) if on]
        if given:
            raise click.UsageError(f"{' and '.join(given)} {'belongs' if len(given) == 1 else 'belong'} to plan "
                                   "(--out PLANFILE); a saved plan is applied as it was reviewed")
        settings = target_of(saved, settings)
    with connect(settings) as conn:
        if saved is not None:
            check_target(saved, conn.info)
            check_fresh(saved, conn.reader, settings.root)
            plan = saved
        else:
            plan = _plan(paths, settings, prune, replace, conn, allow_over_budget, allow_unpriced)
        click.echo(render_text(plan, _color()), nl=False)
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


MARKS = {"done": "✓", "skipped": "·", "deferred": "…", "failed": "✗"}


def _report(results: list[StepResult]) -> None:
    click.echo("")
    for r in results:
        click.echo(f"  {MARKS[r.outcome]} {r.action:<8} {r.name}: {r.detail}")
    counts = {k: sum(1 for r in results if r.outcome == k) for k in MARKS}
    click.echo(f"\nApply finished: {counts['done']} done, {counts['skipped']} already done, "
               f"{counts['deferred']} deferred, {counts['failed']} failed.")
    if counts["failed"]:
        sys.exit(1)


@cli.command()
@click.argument("paths", nargs=-1)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@target_options
@log_option
def status(paths: tuple[str, ...], output: str, settings: Settings) -> None:
    """The stack's managed jobs, their status and fine-tuned model."""
    from reconciler.manifests import Known, load_manifests
    from reconciler.session.planning import status_rows
    from reconciler.session.target import connect

    declared: list[str] = []
    chosen = _paths(paths, settings)
    if paths or settings.paths or all(p.is_dir() for p in chosen):
        try:
            declared = [m.name for m in load_manifests(chosen, known=Known(settings.extra_models))]
        except InputError:
            if paths or settings.paths:
                raise  # named (here or in ftctl.yaml): their errors matter; the default folder is a hint
    with connect(settings) as conn:
        jobs = conn.reader.stack_jobs(settings.stack)
    rows = status_rows(jobs, time.time(), declared)
    if output == "json":
        click.echo(json.dumps({"stack": settings.stack, "jobs": rows}, indent=2))
        return
    if not rows:
        click.echo(f'No managed jobs in stack "{settings.stack}".')
        return
    header = ("NAME", "JOB ID", "STATUS", "FINE-TUNED MODEL", "AGE")
    table = [header] + [(r["name"] or "", r["job_id"] or "-", r["status"], r["fine_tuned_model"] or "-",
                         _age(r["age_seconds"]) if r["age_seconds"] is not None else "-") for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _age(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@cli.group()
def sandbox() -> None:
    """The embedded OpenAI-compatible sandbox."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, show_default=True, type=int)
@click.option("--db", default=".ftctl/sandbox.db", show_default=True, type=click.Path(dir_okay=False))
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Divide every job phase's duration by this factor.")
@click.option("--flavor", type=click.Choice(["openai", "azure"]), default="openai", show_default=True,
              help="The dialect: OpenAI's, or Azure OpenAI's v1 (paths under /openai/v1, pending, pausing…).")
@click.option("--max-active-jobs", type=click.IntRange(1), metavar="N", help="Refuse creates beyond N active jobs.")
@click.option("--daily-limit", type=click.IntRange(0), metavar="N", help="Refuse the create after N in a day.")
@click.option("--drop-fields", metavar="FIELDS", default="",
              help="Drop these fields of create requests (e.g. metadata,method), as a proxy might.")
@click.option("--clock", type=click.Choice(["real", "manual"]), default="real", show_default=True,
              help="manual: time moves only by POST /sandbox/clock/advance (for tests).")
@log_option
def sandbox_serve(host: str, port: int, db: str, speed: float, flavor: str, max_active_jobs: int | None,
                  daily_limit: int | None, drop_fields: str, clock: str) -> None:
    """Serve the sandbox API over HTTP until interrupted."""
    from reconciler.sandbox.flavor import FLAVORS, Options
    from reconciler.sandbox.server import serve

    dropped = frozenset(f.strip() for f in drop_fields.split(",") if f.strip())
    unknown = dropped - {"metadata", "method", "suffix", "seed", "integrations", "validation_file", "hyperparameters"}
    if unknown:
        raise click.UsageError(f"--drop-fields: {', '.join(sorted(unknown))} is not a field of a create request "
                               "that can be dropped")
    serve(host, port, Path(db), Options(flavor=FLAVORS[flavor], speed=speed, max_active_jobs=max_active_jobs,
                                        daily_limit=daily_limit, drop_fields=dropped), clock)


def main() -> None:
    """Entry point: every failure becomes a message and exit code, never a traceback."""
    from reconciler.session.settings import SetupError

    try:
        cli.main(prog_name="ftctl", standalone_mode=False)
    except InputError as exc:
        for diag in exc.diagnostics:
            click.echo(str(diag), err=True)
        from reconciler.diagnostics import plural

        errors = sum(1 for d in exc.diagnostics if d.severity == "error")
        click.echo(f"{plural(errors, 'error')}.", err=True)
        sys.exit(1)
    except SetupError as exc:
        click.echo(f"Error: {logs.redact_text(str(exc))}", err=True)
        sys.exit(1)
    except ApiError as exc:
        click.echo(f"Error: the API refused or did not answer: {logs.redact_text(str(exc))}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1 if exc.exit_code == 2 else exc.exit_code)
    except OSError as exc:  # a file that cannot be read or written, a port that cannot be bound
        click.echo(f"Error: {logs.redact_text(str(exc))}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: no traceback reaches the user (but --log-level debug)
        logs.get().debug("internal_error", exc_info=True)
        click.echo(f"ftctl: internal error: {type(exc).__name__}: {logs.redact_text(str(exc))}", err=True)
        sys.exit(1)

