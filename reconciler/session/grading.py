"""``ftctl grade``: a manifest's grader tried on answers written by hand, locally — the offline
stand-in for the graders run endpoint, to see what a grader makes of answers before paying for
training with it (SPEC §11).

The grader is the manifest's reinforcement grader (``method.grader``), else its evaluation's
(``eval.grader``). The samples are JSONL, one ``{"item": {...}, "output_text": "..."}`` per line (blank
lines skipped); a line that is not that is an error naming the file and line, and none is graded
until every line reads. Every answer is graded with ``reconciler.evals.engine.grade_batch`` (one
process per python grader for the whole file). The mean counts an error as 0, as OpenAI's graders
do, and the report says how many errors there were.

score_model, label_model and the cosine metric need the target's models: the caller passes a factory
that makes them, called only when the grader needs them; without one such a grader is refused
before anything runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.diagnostics import Diagnostic, FieldPath, InputError, SetupError, display_path, dotted
from reconciler.evals.engine import DEFAULT_LIMITS, PythonLimits, grade_batch, needs_models
from reconciler.evals.model import Models, Sample, Score
from reconciler.manifests import Known, LoadedManifest, load_all
from reconciler.manifests.graders import AnyGrader
from reconciler.session.settings import Settings

ModelsFactory = Callable[[], Models]


@dataclass(frozen=True)
class GradedSample:
    line: int
    """Line of the samples file."""
    output_text: str
    score: Score


@dataclass(frozen=True)
class GradeReport:
    name: str
    """The manifest's name."""
    grader_path: FieldPath
    """Where its grader is: ``("method", "grader")`` or ``("eval", "grader")``."""
    grader: AnyGrader
    samples: list[GradedSample]

    @property
    def mean(self) -> float:
        return sum(s.score.value for s in self.samples) / len(self.samples) if self.samples else 0.0

    @property
    def errors(self) -> int:
        return sum(1 for s in self.samples if s.score.error is not None)


def load(paths: list[Path], settings: Settings, name: str) -> LoadedManifest:
    """The manifest ``name`` under ``paths``, loaded and checked (not its training data: grading reads
    none of it); raises ``InputError`` with the problems of the manifests."""
    known = Known(settings.extra_models, None, None, settings.lifecycle, settings.clock.today(),
                  settings.azure_training_type)
    loaded, problems = load_all(paths, known=known)
    if any(p.severity == "error" for p in problems):
        raise InputError(problems)
    return find(loaded, name)


def find(manifests: Sequence[LoadedManifest], name: str) -> LoadedManifest:
    for loaded in manifests:
        if loaded.name == name:
            return loaded
    names = ", ".join(sorted(m.name for m in manifests)) or "none"
    raise SetupError(f"no manifest is named {name!r} (manifests: {names})")


def grader_of(loaded: LoadedManifest) -> tuple[FieldPath, AnyGrader]:
    """The reinforcement grader, else the evaluation's; raises ``SetupError`` when there is neither."""
    trees = loaded.manifest.grader_trees()
    if not trees:
        raise SetupError(f"{loaded.name} has no grader: give it method.grader (reinforcement) or eval.grader")
    return trees[0]


def read_samples(path: Path) -> list[tuple[int, dict[str, Any], str]]:
    """(line, item, output_text) of each line; raises ``InputError`` naming every bad line."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError([Diagnostic(shown, 0, "", f"is not UTF-8 text ({exc.reason})")]) from None
    out: list[tuple[int, dict[str, Any], str]] = []
    problems: list[Diagnostic] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError as exc:
            problems.append(Diagnostic(shown, number, "", f"not valid JSON: {exc}"))
            continue
        if not isinstance(line, dict):
            problems.append(Diagnostic(shown, number, "", 'must be an object {"item": {...}, "output_text": "..."}'))
            continue
        unknown = sorted(set(line) - {"item", "output_text"})
        if unknown:
            problems.append(Diagnostic(shown, number, unknown[0], 'unknown field; a line has "item" and "output_text"'))
        if not isinstance(line.get("item"), dict):
            problems.append(Diagnostic(shown, number, "item", "must be an object (the data line the grader reads)"))
        if not isinstance(line.get("output_text"), str):
            problems.append(Diagnostic(shown, number, "output_text", "must be a string (the answer graded)"))
        if not problems or problems[-1].line != number:
            out.append((number, line["item"], line["output_text"]))
    if problems:
        raise InputError(problems)
    if not out:
        raise InputError([Diagnostic(shown, 0, "", 'holds no sample; one {"item": {...}, "output_text": "..."} '
                                                   "per line")])
    return out


def grade_samples(loaded: LoadedManifest, samples: Path, models: ModelsFactory | None,
                  python_limits: PythonLimits = DEFAULT_LIMITS) -> GradeReport:
    path, grader = grader_of(loaded)
    lines = read_samples(samples)
    needs = needs_models(grader)
    if needs is not None and models is None:
        raise SetupError(f"{loaded.name}: {dotted(path)}: the {needs} needs the target's models, which "
                         "ftctl grade cannot reach here; try it with the graders that run locally")
    ready = models() if needs is not None and models is not None else None
    pairs = [(item, Sample.of(text)) for _, item, text in lines]
    scores = grade_batch(grader, pairs, ready, manifest_dir=loaded.source.parent, python_limits=python_limits)
    graded = [GradedSample(number, text, score) for (number, _, text), score in zip(lines, scores, strict=True)]
    return GradeReport(loaded.name, path, grader, graded)


def grade_on_target(loaded: LoadedManifest, samples: Path, settings: Settings) -> GradeReport:
    """``grade_samples`` with the target's models where the grader needs them (score_model, label_model,
    cosine: chat completions and embeddings of the target); offline, sending nothing, where it does not."""
    from reconciler.api.completions import Completions
    from reconciler.session.target import connect

    _, grader = grader_of(loaded)
    if needs_models(grader) is None:
        return grade_samples(loaded, samples, models=None)
    with connect(settings) as conn:
        return grade_samples(loaded, samples, models=lambda: Completions(conn.transport))
