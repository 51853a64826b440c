"""``grade``: a manifest's grader run locally on answers from a JSONL file, each score and the mean
printed (SPEC §11) — to try a grader before training with it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.common import log_option, paths_of, target_options, usage_errors

if TYPE_CHECKING:
    from reconciler.evals.model import Score
    from reconciler.session.grading import GradeReport
    from reconciler.session.settings import Settings


@click.command("grade")
@click.argument("name")
@click.argument("paths", nargs=-1)
@click.option("--samples", "samples", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSONL, one {"item": {...}, "output_text": "..."} per line: the data line and the answer graded.')
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@usage_errors
@target_options
@log_option
def grade_cmd(name: str, paths: tuple[str, ...], samples: Path, output: str, settings: Settings) -> None:
    """Run NAME's grader (its reinforcement grader, else its eval grader) locally on --samples: each
    answer's score, then the mean (an error counts as 0). Offline, but for a grader that needs a model
    (score_model, label_model, cosine): it asks the target's chat completions or embeddings."""
    from reconciler.session.grading import grade_on_target, load

    loaded = load(paths_of(paths, settings), settings, name)
    report = grade_on_target(loaded, samples, settings)
    click.echo(json.dumps(to_json(report), indent=2, ensure_ascii=False) if output == "json"
               else "\n".join(text(report, samples)))


def text(report: GradeReport, samples: Path) -> list[str]:
    from reconciler.diagnostics import display_path, dotted, plural

    grader = report.grader
    lines = [f"{report.name}: {dotted(report.grader_path)} ({grader.type} grader {grader.name!r}) on "
             f"{plural(len(report.samples), 'sample')} of {display_path(samples)}"]
    width = len(str(max(s.line for s in report.samples)))
    for sample in report.samples:
        lines.append(f"  line {sample.line:>{width}}  {sample.score.value:.4f}  {_short(sample.output_text)}"
                     f"{_detail(sample.score)}")
    errors = f"{plural(report.errors, 'error')} (counted as 0)" if report.errors else "no error"
    lines.append(f"Mean {report.mean:.4f} over {plural(len(report.samples), 'sample')}; {errors}.")
    return lines


def to_json(report: GradeReport) -> dict[str, Any]:
    from reconciler.diagnostics import dotted

    return {"name": report.name, "grader": dotted(report.grader_path), "type": report.grader.type,
            "samples": [{"line": s.line, **_score_json(s.score)} for s in report.samples],
            "mean": report.mean, "count": len(report.samples), "errors": report.errors}


def _score_json(score: Score) -> dict[str, Any]:
    out: dict[str, Any] = {"score": score.value, "error": score.error}
    if score.parts:
        out["parts"] = {name: _score_json(part) for name, part in score.parts.items()}
    return out


def _detail(score: Score) -> str:
    if score.error is not None:
        return f"  error: {score.error}"
    if score.parts:
        return "  (" + ", ".join(f"{name} {part.value:.4f}" for name, part in score.parts.items()) + ")"
    return ""


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return json.dumps(text if len(text) <= limit else text[: limit - 1] + "…", ensure_ascii=False)
