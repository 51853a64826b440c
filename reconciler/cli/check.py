"""``validate``: the offline checks of manifests and their data, as text, JSON or GitHub annotations."""

from __future__ import annotations

import json
import sys

import click

from reconciler.cli.common import PROVIDERS, log_option, make_settings, paths_of, prices_option, usage_errors
from reconciler.diagnostics import InputError


@click.command()
@click.argument("paths", nargs=-1)
@click.option("-o", "--output", type=click.Choice(["text", "json", "github"]), default="text", show_default=True,
              help="json: a list of problems; github: workflow annotations on the pull request's lines.")
@click.option("--provider", type=PROVIDERS,
              help="Also check the limits of this provider (env FTCTL_PROVIDER), e.g. Azure's 40-character suffix.")
@prices_option
@usage_errors
@log_option
def validate(paths: tuple[str, ...], output: str, provider: str | None, prices: str | None) -> None:
    """Check manifests and their training data offline; exit 0 when valid, 1 when not."""
    from reconciler.diagnostics import plural, to_github, to_json
    from reconciler.session.desired import check_data, elsewhere, left_out

    settings = make_settings(prices=prices, offline=True, provider=provider)
    given = paths_of(paths, settings)
    context = elsewhere(left_out(given, paths_of((), settings))) if paths else []
    try:
        loaded, analysis = check_data(given, settings, context)
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


@click.command()
@click.option("--config", "of_config", is_flag=True, help="The schema of ftctl.yaml instead of a manifest's.")
def schema(of_config: bool) -> None:
    """Print the JSON Schema of the manifest format (or of ftctl.yaml), for editors and CI."""
    from reconciler.session.schemas import config_schema, manifest_schema

    click.echo(json.dumps(config_schema() if of_config else manifest_schema(), indent=2, ensure_ascii=False))
