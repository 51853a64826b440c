"""``eval``: the trained models of the manifests with ``eval:`` sampled, graded and reported, their gates
judged (SPEC §11); ``--dry-run`` says what that would send and cost, and sends nothing. A progress bar
on stderr when it is a terminal. The decisions are the session's; this parses and prints."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import log_option, prices_option, target_options

if TYPE_CHECKING:
    from reconciler.plan.model import EvalEstimate
    from reconciler.session.settings import Settings


@click.command("eval")
@click.argument("names", nargs=-1)
@click.option("-o", "--output", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True,
              help="markdown: a table and a chart for a pull request.")
@click.option("--dry-run", is_flag=True, help="Say how many items, requests, tokens and dollars each evaluation "
              "takes; send nothing.")
@click.option("--limit", type=click.IntRange(1), metavar="N", help="Only the first N items of each eval file (the "
              "report is shown, not kept for the gates).")
@click.option("--parallelism", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Completions and grades at once.")
@prices_option
@target_options
@log_option
def eval_cmd(names: tuple[str, ...], output: str, dry_run: bool, limit: int | None, parallelism: int,
             settings: Settings) -> None:
    """Evaluate the trained models of NAMES (every manifest with eval: by default) against their baselines,
    and judge their gates. Exit 1 when a gate is not passed."""
    from reconciler.session.eval_render import render_json, render_markdown, render_text
    from reconciler.session.evaluations import EvalRequest, eval_exit_code, run_evals
    from reconciler.session.evaluations import dry_run as estimates
    from reconciler.session.target import connect

    request = EvalRequest(names, limit, parallelism)
    if dry_run:
        _show_estimates(estimates(request, settings, Path.cwd()), output)
        return
    with connect(settings) as conn, _progress() as ticker:
        outcomes, usage = run_evals(request, settings, conn, Path.cwd(), ticker)
    if not outcomes:
        click.echo("No manifest has an eval: section.", err=True)
    render = {"json": render_json, "markdown": render_markdown}.get(output, render_text)
    click.echo(render(outcomes, settings.stack, usage), nl=False)
    sys.exit(eval_exit_code(outcomes))


def _show_estimates(shown: Mapping[str, EvalEstimate], output: str) -> None:
    import json

    from reconciler.plan.render.values import eval_estimate_line

    if output == "json":
        click.echo(json.dumps({name: e.model_dump(mode="json") for name, e in shown.items()}, indent=2))
        return
    for name, e in shown.items():
        click.echo(f"{'- ' if output == 'markdown' else ''}{name}: {eval_estimate_line(e)}")
    click.echo("Nothing was sent (--dry-run).", err=True)


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str, int], Callable[[], None]] | None]:
    """A progress bar per evaluation on stderr, on a terminal only."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True, no_color="NO_COLOR" in os.environ)
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console) as bars:

        def ticker(name: str, total: int) -> Callable[[], None]:
            task = bars.add_task(f"eval {name}", total=total)
            return lambda: bars.advance(task)

        yield ticker
