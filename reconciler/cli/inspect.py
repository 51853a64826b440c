"""``status``, ``outputs``, ``logs`` and ``wait``: reading what the stack's jobs are doing. All of them
send GET requests only."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import age, interval_option, log_option, table, target_options, timeout_option

if TYPE_CHECKING:
    from reconciler.session.settings import Settings


def _adopted(settings: Settings, paths: tuple[str, ...] = ()) -> tuple[dict[str, str | None], dict[str, str]]:
    """The names the manifests declare (see ``session.jobs.declared``) and the jobs they adopt."""
    from reconciler.session.jobs import declared, pins

    found = declared(paths, settings, Path.cwd())
    return found, pins(found)


@click.command()
@click.argument("paths", nargs=-1)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@target_options
@log_option
def status(paths: tuple[str, ...], output: str, settings: Settings) -> None:
    """The stack's managed jobs, their status, fine-tuned model and error."""
    from reconciler.session.dates import serving_warnings
    from reconciler.session.jobs import with_pins
    from reconciler.session.planning import status_rows
    from reconciler.session.target import connect

    found, adopted = _adopted(settings, paths)
    with connect(settings) as conn:
        jobs = with_pins(conn.reader, conn.reader.stack_jobs(settings.stack), adopted)
    rows = status_rows(jobs, settings.clock.wall(), list(found))
    warnings = serving_warnings(jobs, settings)
    if output == "json":
        click.echo(json.dumps({"stack": settings.stack, "jobs": rows, "warnings": warnings}, indent=2))
        return
    for warning in warnings:
        click.echo(warning, err=True)
    if not rows:
        click.echo(f'No managed jobs in stack "{settings.stack}".')
        return
    from reconciler.catalog import is_fine_tuned

    staged = any(r["base"] and is_fine_tuned(r["base"]) for r in rows)  # a pipeline: show what each trained on
    table(("NAME", "JOB ID", "STATUS", *(("BASE",) if staged else ()), "FINE-TUNED MODEL", "AGE", "ERROR"),
          [(r["name"] or "", r["job_id"] or "-", r["status"], *((r["base"] or "-",) if staged else ()),
            r["fine_tuned_model"] or "-", age(r["age_seconds"]) if r["age_seconds"] is not None else "-",
            _short(r["error"])) for r in rows])


def _short(text: str | None, width: int = 60) -> str:
    if not text:
        return "-" if text is None else ""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


@click.command()
@click.argument("names", nargs=-1)
@timeout_option("How long to wait (90s, 30m, 2h); exit 1 when jobs are still running then.")
@interval_option
@target_options
@log_option
def wait(names: tuple[str, ...], timeout: str | None, poll_interval: str, settings: Settings) -> None:
    """Follow the stack's jobs (all unfinished ones, or NAMES) until they finish; exit 1 if one fails."""
    from reconciler.cli.watch import follow_jobs
    from reconciler.session.jobs import pick, unfinished
    from reconciler.session.settings import duration
    from reconciler.session.settings import poll_interval as poll_every
    from reconciler.session.target import connect

    limit, every = duration(timeout or "1h"), poll_every(poll_interval, settings)
    with connect(settings) as conn:
        current = pick(conn.reader, settings.stack, names, _adopted(settings)[1])
        chosen = unfinished(current, names)
        if not chosen:
            click.echo(f'Nothing to wait for: no job of stack "{settings.stack}" is unfinished.')
            return
        ok = follow_jobs(conn.reader, chosen, limit, every, settings.clock, conn.provider)
    if not ok:
        sys.exit(1)


@click.command()
@click.argument("name")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events until the job finishes "
              "(exit 1 if it fails).")
@interval_option
@target_options
@log_option
def logs(name: str, follow: bool, poll_interval: str, settings: Settings) -> None:
    """The events of NAME's current job (or of a job ID), oldest first."""
    from reconciler.session.jobs import event_line, follow_events, pick
    from reconciler.session.settings import poll_interval as poll_every
    from reconciler.session.target import connect

    every = poll_every(poll_interval, settings)
    with connect(settings) as conn:
        job = next(iter(pick(conn.reader, settings.stack, (name,), _adopted(settings)[1]).values()))
        try:
            job = follow_events(conn.reader, job, lambda e: click.echo(event_line(e)), follow, every,
                                settings.clock)
        except KeyboardInterrupt:
            click.echo(f"{name}: {job.id}: stopped following; the job keeps running on the service", err=True)
            sys.exit(130)
    if follow:
        click.echo(f"{name}: {job.id} ended {job.status}" if job.terminal else f"{name}: {job.id} is {job.status}",
                   err=True)
        if job.status == "failed":
            sys.exit(1)


@click.command()
@click.argument("names", nargs=-1)
@click.option("-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@target_options
@log_option
def outputs(names: tuple[str, ...], output: str, settings: Settings) -> None:
    """Per name: the current job, its status, fine-tuned model, trained tokens and checkpoints."""
    from reconciler.session.dates import serving_warnings
    from reconciler.session.jobs import CHECKPOINT_METRICS, metric_text, pick
    from reconciler.session.jobs import outputs as gather
    from reconciler.session.target import connect

    with connect(settings) as conn:
        chosen = pick(conn.reader, settings.stack, names, _adopted(settings)[1])
        found = gather(conn.reader, chosen, conn.provider)
    warnings = serving_warnings(chosen.values(), settings)
    if output == "json":
        click.echo(json.dumps({"stack": settings.stack, "outputs": found, "warnings": warnings}, indent=2))
        return
    for warning in warnings:
        click.echo(warning, err=True)
    if not found:
        click.echo(f'No managed jobs in stack "{settings.stack}".')
        return
    table(("NAME", "JOB ID", "STATUS", "BASE", "FINE-TUNED MODEL", "TRAINED TOKENS"),
          [(name, o["job_id"], o["status"], o["model"] or "-", o["fine_tuned_model"] or "-",
            f"{o['trained_tokens']:,}" if o["trained_tokens"] is not None else "-") for name, o in found.items()])
    for name, o in found.items():
        if o["error"]:
            click.echo(f"\n{name}: failed: {o['error']}")
        if o["checkpoints"]:
            click.echo(f"\n{name} checkpoints:")
            table(("  STEP", "MODEL", "METRICS"), [(f"  {c['step']:,}", c["model"],
                                                  metric_text(c["metrics"], CHECKPOINT_METRICS))
                                                 for c in o["checkpoints"]])
