"""How followed jobs are shown: a live table on a terminal, one plain line per change elsewhere
(CI logs), then one line per job with its result. Used by ``wait`` and ``apply --wait``."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import age, span

if TYPE_CHECKING:
    from reconciler.api.ports import ApiReader
    from reconciler.clock import Clock
    from reconciler.providers import Provider
    from reconciler.session.follow import Outcome, Progress

COLUMNS = ("NAME", "JOB ID", "STATUS", "STEP", "TRAIN LOSS", "ETA")


def cells(p: Progress, now: float) -> tuple[str, ...]:
    step = f"{p.step:,}/{p.total_steps:,}" if p.step is not None and p.total_steps else "-"
    loss = f"{p.train_loss:.4f}" if p.train_loss is not None else "-"
    eta = age(max(0, int(p.estimated_finish - now))) if p.estimated_finish and not p.settled else "-"
    return p.name, p.job_id, p.status, step, loss, eta


def line(p: Progress, now: float) -> str:
    """``support-bot ftjob-1: running, step 40/120, train loss 0.8123, ETA 3m``."""
    name, job_id, status, step, loss, eta = cells(p, now)
    parts = [status]
    if step != "-":
        parts.append(f"step {step}")
    if loss != "-":
        parts.append(f"train loss {loss}")
    if eta != "-":
        parts.append(f"ETA {eta}")
    if p.fine_tuned_model:
        parts.append(f"model {p.fine_tuned_model}")
    text = f"{name} {job_id}: {', '.join(parts)}"
    return f"{text}: {p.error}" if p.error else text


@contextlib.contextmanager
def display() -> Iterator[Callable[[Progress], None]]:
    """A ``show`` callback: a live table on a terminal, else a line when status or step changes."""
    if not sys.stdout.isatty():
        seen: dict[str, tuple[object, ...]] = {}

        def plain(p: Progress) -> None:
            key = (p.status, p.step, p.error, p.fine_tuned_model)
            if seen.get(p.job_id) != key:
                seen[p.job_id] = key
                click.echo(line(p, time.time()))

        yield plain
        return
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    rows: dict[str, Progress] = {}

    def render() -> Table:
        table = Table(*COLUMNS, box=None, pad_edge=False)
        now = time.time()
        for p in rows.values():
            style = "red" if p.failed else "green" if p.status == "succeeded" else None
            table.add_row(*cells(p, now), style=style)
        return table

    console = Console(no_color="NO_COLOR" in os.environ)
    with Live(render(), console=console, refresh_per_second=2, transient=False) as live:
        def live_show(p: Progress) -> None:
            rows[p.job_id] = p
            live.update(render())

        yield live_show


def follow_jobs(reader: ApiReader, jobs: dict[str, str], timeout: float, interval: float, clock: Clock,
                provider: Provider) -> bool:
    """Follow ``jobs`` (job ID → name), then say how each ended; False when one failed or time ran out.
    Ctrl-C ends the run (exit 130) after saying where each job stands."""
    from reconciler.session.follow import follow

    click.echo(f"\nWaiting for {len(jobs)} job{'s' if len(jobs) != 1 else ''} (timeout {span(timeout)}):")
    with display() as show:
        outcome = follow(reader, jobs, show, timeout, interval, clock=clock, provider=provider)
    report(outcome, timeout)
    if outcome.interrupted:
        raise SystemExit(130)
    return outcome.ok


def report(outcome: Outcome, timeout: float) -> None:
    click.echo("")
    for p in outcome.jobs:
        if p.failed:
            click.echo(f"  ✗ {p.name} {p.job_id} failed: {p.error or 'no error given'}")
        elif p.status == "succeeded":
            click.echo(f"  ✓ {p.name} {p.job_id} succeeded: {p.fine_tuned_model or '(no model name given)'}")
        elif p.settled:
            click.echo(f"  · {p.name} {p.job_id} is {p.status}")
        else:
            click.echo(f"  … {p.name} {p.job_id} is still {p.status}")
    failed = sum(1 for p in outcome.jobs if p.unsuccessful)
    waiting = ", ".join(p.name for p in outcome.jobs if not p.settled)
    if outcome.interrupted:
        click.echo(f"\nInterrupted: stopped following {waiting or 'the jobs'}; they keep running on the service "
                   "(`ftctl wait` follows them again, `ftctl status` shows them).")
    elif outcome.timed_out:
        click.echo(f"\nTimed out after {span(timeout)}: {waiting} not finished"
                   f"{f'; {failed} failed' if failed else ''}.")
    elif failed:
        click.echo(f"\n{failed} of {len(outcome.jobs)} failed or cancelled.")
    else:
        click.echo("\nAll finished.")
