"""The ``ftctl`` command line. Commands parse options and delegate; no logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler import __version__
from reconciler.diagnostics import InputError
from reconciler.manifests import load_manifests

DEFAULT_PATHS = ("manifests",)


def _paths(paths: tuple[str, ...]) -> list[Path]:
    return [Path(p) for p in (paths or DEFAULT_PATHS)]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ftctl")
def cli() -> None:
    """Declarative plan/apply for fine-tuning jobs."""


@cli.command()
@click.argument("paths", nargs=-1)
def validate(paths: tuple[str, ...]) -> None:
    """Check manifests offline; exit 0 when valid, 1 when not."""
    loaded = load_manifests(_paths(paths))
    files = len({m.source for m in loaded})
    click.echo(f"{len(loaded)} manifest(s) in {files} file(s) valid.")


@cli.group()
def sandbox() -> None:
    """The embedded OpenAI-compatible sandbox."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, show_default=True, type=int)
@click.option("--db", default=".ftctl/sandbox.db", show_default=True, type=click.Path(dir_okay=False))
@click.option("--speed", default=1.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Divide every job phase's duration by this factor.")
def sandbox_serve(host: str, port: int, db: str, speed: float) -> None:
    """Serve the sandbox API over HTTP until interrupted."""
    from reconciler.sandbox.server import serve

    serve(host, port, Path(db), speed)


def main() -> None:
    """Entry point: every failure becomes a message and exit code, never a traceback."""
    try:
        cli.main(prog_name="ftctl", standalone_mode=False)
    except InputError as exc:
        for diag in exc.diagnostics:
            click.echo(str(diag), err=True)
        errors = sum(1 for d in exc.diagnostics if d.severity == "error")
        click.echo(f"{errors} error(s).", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1 if exc.exit_code == 2 else exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # the last line of defence: no traceback reaches the user
        click.echo(f"ftctl: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)
