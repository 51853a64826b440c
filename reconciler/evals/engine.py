"""The grader engine: any grader of a manifest, scored on answers to items, locally.

``grade`` scores one (item, answer) pair; ``grade_batch`` scores many with the same grader, which
is what an evaluation does, and lets each python grader of the tree (a multi grader's included) run
all the pairs in one child process. Each grader type is OpenAI's, as its graders guide defines it:

* string_check: ``eq`` (equal), ``ne`` (not equal), ``like`` (input contains reference), ``ilike``
  (contains it, ignoring case: both sides case-folded) → 1 or 0, templates rendered first.
* text_similarity: the metrics of ``similarity``; cosine embeds both texts through ``models``.
* python: ``python_grader`` (a separate, limited process).
* score_model, label_model: ``model_graders`` (a chat completion through ``models``).
* multi: each grader scored, then ``calculate_output`` (``formula``) over their scores; the scores
  are kept in ``Score.parts`` under their names. An inner grader's error is the multi grader's
  error, named: ``exact: {{item.answer}}: item has no field 'answer'`` (the guide does not say what a
  formula does with an invalid sub-grade; computing it with 0 would hide the error in a number).

Nothing raises to the caller for one bad answer: a template that finds nothing, a model call that
fails, an answer that does not parse, a python grader that raises — each is a Score of 0 with
``error``. Only a caller's own mistake (a model grader and no ``models``) raises ``NoModels``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.evals import model_graders, similarity
from reconciler.evals.formula import FormulaError, evaluate
from reconciler.evals.model import Models, Sample, Score
from reconciler.evals.python_grader import MEMORY_LIMIT, TIME_LIMIT, grade_python_batch
from reconciler.evals.templates import TemplateError, render
from reconciler.manifests.graders import (
    AnyGrader,
    LabelModelGrader,
    MultiGrader,
    PythonGrader,
    ScoreModelGrader,
    StringCheckGrader,
    TextSimilarityGrader,
    walk,
)

Pair = tuple[Mapping[str, Any], Sample]


@dataclass(frozen=True)
class PythonLimits:
    time: float = TIME_LIMIT
    """Seconds per answer."""
    memory: int = MEMORY_LIMIT
    """Bytes of address space of the grader's process."""


DEFAULT_LIMITS = PythonLimits()


class NoModels(Exception):
    """A grader needs the target's models (score_model, label_model, cosine) and none were given."""


def needs_models(grader: AnyGrader) -> str | None:
    """What in ``grader``'s tree needs the target's models (e.g. ``score_model grader 'style'``), or None."""
    for _, inner in walk(grader):
        if isinstance(inner, ScoreModelGrader | LabelModelGrader):
            return f"{inner.type} grader {inner.name!r}"
        if isinstance(inner, TextSimilarityGrader) and inner.evaluation_metric == "cosine":
            return f"text_similarity grader {inner.name!r} (cosine)"
    return None


def grade(grader: AnyGrader, item: Mapping[str, Any], sample: Sample, models: Models | None, *,
          manifest_dir: Path, python_limits: PythonLimits = PythonLimits()) -> Score:
    """The score of one answer to one item (``manifest_dir`` resolves a python grader's ``source_file``)."""
    return grade_batch(grader, [(item, sample)], models, manifest_dir=manifest_dir, python_limits=python_limits)[0]


def grade_batch(grader: AnyGrader, pairs: Sequence[Pair], models: Models | None, *,
                manifest_dir: Path, python_limits: PythonLimits = PythonLimits()) -> list[Score]:
    """The score of each (item, answer) pair, in order."""
    if not pairs:
        return []
    what = needs_models(grader)
    if what is not None and models is None:
        raise NoModels(f"the {what} needs the target's models, and none were given")
    if isinstance(grader, MultiGrader):
        inner = {name: grade_batch(g, pairs, models, manifest_dir=manifest_dir, python_limits=python_limits)
                 for name, g in grader.graders.items()}
        return [_combine(grader, {name: scores[i] for name, scores in inner.items()}) for i in range(len(pairs))]
    if isinstance(grader, PythonGrader):
        try:
            source = grader.source if grader.source is not None else \
                (manifest_dir / str(grader.source_file)).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            return [Score(0.0, f"cannot read {grader.source_file}: {exc}")] * len(pairs)
        return grade_python_batch(source, pairs, time_limit=python_limits.time, memory_limit=python_limits.memory)
    return [_one(grader, item, sample, models) for item, sample in pairs]


def _one(grader: AnyGrader, item: Mapping[str, Any], sample: Sample, models: Models | None) -> Score:
    try:
        if isinstance(grader, StringCheckGrader):
            return _string_check(grader, item, sample)
        if isinstance(grader, TextSimilarityGrader):
            return _text_similarity(grader, item, sample, models)
        assert models is not None  # needs_models was asked before
        if isinstance(grader, ScoreModelGrader):
            return model_graders.grade_score_model(grader, item, sample, models)
        if isinstance(grader, LabelModelGrader):
            return model_graders.grade_label_model(grader, item, sample, models)
    except (TemplateError, model_graders.GraderAnswerError) as exc:
        return Score(0.0, str(exc))
    except Exception as exc:  # a model call that failed: the port's exceptions are the client's own
        return Score(0.0, f"the call to the grader's model failed: {str(exc) or type(exc).__name__}")
    raise TypeError(f"not a grader the engine knows: {type(grader).__name__}")


def _string_check(grader: StringCheckGrader, item: Mapping[str, Any], sample: Sample) -> Score:
    text, reference = render(grader.input, item, sample), render(grader.reference, item, sample)
    if grader.operation == "eq":
        passed = text == reference
    elif grader.operation == "ne":
        passed = text != reference
    elif grader.operation == "like":
        passed = reference in text
    else:
        passed = reference.casefold() in text.casefold()
    return Score(1.0 if passed else 0.0)


def _text_similarity(grader: TextSimilarityGrader, item: Mapping[str, Any], sample: Sample,
                     models: Models | None) -> Score:
    text, reference = render(grader.input, item, sample), render(grader.reference, item, sample)
    if grader.evaluation_metric != "cosine":
        return Score(similarity.METRICS[grader.evaluation_metric](text, reference))
    assert models is not None
    vectors = models.embed(similarity.EMBEDDING_MODEL, [text, reference])
    try:
        return Score(similarity.cosine(vectors[0], vectors[1]))
    except (ValueError, IndexError) as exc:
        return Score(0.0, f"cannot compare the embeddings: {exc}")


def _combine(grader: MultiGrader, parts: dict[str, Score]) -> Score:
    failed = [(name, score.error) for name, score in parts.items() if score.error is not None]
    if failed:
        name, error = failed[0]
        more = f" (and {len(failed) - 1} more grader(s) failed)" if len(failed) > 1 else ""
        return Score(0.0, f"{name}: {error}{more}", parts)
    try:
        return Score(evaluate(grader.calculate_output, {n: s.value for n, s in parts.items()}), None, parts)
    except FormulaError as exc:
        return Score(0.0, f"calculate_output: {exc}", parts)
