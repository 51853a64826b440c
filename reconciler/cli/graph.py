"""``graph``: the stages of the project's pipelines, what each builds on, and each one's status."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import log_option, target_options

if TYPE_CHECKING:
    from reconciler.session.settings import Settings


@click.command("graph")
@click.argument("paths", nargs=-1)
@click.option("-o", "--output", type=click.Choice(["text", "mermaid", "dot"]), default="text", show_default=True,
              help="mermaid: a flowchart GitHub renders; dot: for Graphviz.")
@target_options
@log_option
def graph_cmd(paths: tuple[str, ...], output: str, settings: Settings) -> None:
    """The stages of the pipelines (manifests that take their model from another), with their status.
    Sends GET requests only."""
    from reconciler.plan.render import graph
    from reconciler.session.jobs import stage_list
    from reconciler.session.target import connect

    with connect(settings) as conn:
        stages = stage_list(paths, settings, Path.cwd(), conn.reader.stack_jobs(settings.stack))
    draw = {"text": graph.text, "mermaid": graph.mermaid, "dot": graph.dot}[output]
    click.echo("\n".join(draw(stages)))
