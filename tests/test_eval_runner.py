"""The evaluation runner with fake models: means (errors count 0), gain, the gate's verdict, the worst
items, and the cache (an unchanged rerun sends nothing; an interrupted run redoes nothing it finished)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.api.models import LiveJob
from reconciler.manifests.evaluation import Evaluation
from reconciler.session.eval_cache import Cache
from reconciler.session.eval_report import number
from reconciler.session.evaluating import Evaluator
from reconciler.session.gates import Evaluated, Gates
from tests.fakes import FakeModels

TRAINED, BASE = "ft:gpt-4o-mini-2024-07-18:org:support:abc", "gpt-4o-mini-2024-07-18"
CAPITALS = {"France": "Paris", "Italy": "Rome", "Spain": "Madrid", "Peru": "Lima"}


def _lines() -> list[dict[str, Any]]:
    return [{"messages": [{"role": "system", "content": "Answer with a city."},
                          {"role": "user", "content": f"Capital of {country}?"},
                          {"role": "assistant", "content": city}]} for country, city in CAPITALS.items()]


def _setup(tmp_path: Path, gate: dict[str, Any] | None = None, grader: dict[str, Any] | None = None,
           baseline: str = "base") -> tuple[Evaluated, LiveJob]:
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(line) + "\n" for line in _lines()))
    section = Evaluation.model_validate({
        "file": "eval.jsonl", "baseline": baseline, "sampling": {"temperature": 0},
        "grader": grader or {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
                             "reference": "{{item.reference}}", "operation": "eq"},
        **({"gate": gate} if gate else {})})
    job = LiveJob(id="ftjob-1", status="succeeded", model=BASE, fine_tuned_model=TRAINED)
    return Evaluated("support", section, tmp_path / "eval.jsonl", tmp_path), job


def _models() -> FakeModels:
    """The trained model knows three capitals of four; the base model one."""
    return FakeModels({TRAINED: {"Capital of France?": "Paris", "Capital of Italy?": "Rome",
                                 "Capital of Spain?": "Madrid", "Capital of Peru?": "Cusco"},
                       BASE: {"Capital of France?": "Paris"}})


def test_means_gain_and_a_passed_gate(tmp_path: Path) -> None:
    evaluated, job = _setup(tmp_path, {"min_score": 0.7, "min_gain": 0.25})
    report = Evaluator(Cache(tmp_path), _models(), parallelism=3).evaluate(evaluated, job)
    assert (report.model, report.baseline, report.items, report.errors) == (TRAINED, BASE, 4, 0)
    assert (report.score, report.baseline_score) == (0.75, 0.25)
    assert report.gate is not None and report.gate.passed
    assert report.gate.reason == "score 0.75 ≥ 0.70, gain 0.50 ≥ 0.25"
    assert [(w.line, w.prompt, w.answer, w.score) for w in report.worst[:2]] == [
        (4, "Capital of Peru?", "Cusco", 0.0), (1, "Capital of France?", "Paris", 1.0)]


def test_a_failed_gate_says_which_threshold_failed(tmp_path: Path) -> None:
    evaluated, job = _setup(tmp_path, {"min_score": 0.8, "min_gain": 0.5})
    report = Evaluator(Cache(tmp_path), _models()).evaluate(evaluated, job)
    assert report.gate is not None and not report.gate.passed
    assert report.gate.reason == "score 0.75 < 0.80, gain 0.50 ≥ 0.50"


def test_a_failed_completion_counts_0_and_is_an_error(tmp_path: Path) -> None:
    evaluated, job = _setup(tmp_path, baseline="none")
    models = _models()
    models.fail = 1  # the first request fails for good (after its retries)
    report = Evaluator(Cache(tmp_path), models, parallelism=1).evaluate(evaluated, job)
    assert (report.items, report.errors, report.score, report.baseline, report.baseline_score) == (4, 1, 0.5, None,
                                                                                                   None)
    assert report.worst[0].error == "completion failed: HTTP 500: server error"


def test_a_grader_that_cannot_score_counts_0(tmp_path: Path) -> None:
    grader = {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
              "reference": "{{item.no_such_field}}", "operation": "eq"}  # the template cannot be filled
    evaluated, job = _setup(tmp_path, grader=grader, baseline="none")
    report = Evaluator(Cache(tmp_path), _models()).evaluate(evaluated, job)
    assert (report.score, report.errors) == (0.0, 4)


def test_an_unchanged_rerun_sends_nothing(tmp_path: Path) -> None:
    evaluated, job = _setup(tmp_path, {"min_score": 0.7})
    first = _models()
    before = Evaluator(Cache(tmp_path), first).evaluate(evaluated, job)
    assert len(first.calls) == 8
    again = _models()
    after = Evaluator(Cache(tmp_path), again).evaluate(evaluated, job)
    assert again.calls == [] and after == before


def test_a_changed_sampling_asks_again(tmp_path: Path) -> None:
    evaluated, job = _setup(tmp_path)
    Evaluator(Cache(tmp_path), _models()).evaluate(evaluated, job)
    changed = Evaluated(evaluated.name, evaluated.evaluation.model_copy(update={
        "sampling": evaluated.evaluation.sampling.model_copy(update={"temperature": 1.0})}),
        evaluated.file, evaluated.manifest_dir)
    models = _models()
    Evaluator(Cache(tmp_path), models).evaluate(changed, job)
    assert len(models.calls) == 8


def _counting(real: Any, graded: list[str], stop_after: int | None = None) -> Any:
    def grade(grader: Any, item: dict[str, Any], sample: Any, models: Any, *, manifest_dir: Path) -> Any:
        if stop_after is not None and len(graded) >= stop_after:
            raise KeyboardInterrupt
        graded.append(item["reference"])
        return real(grader, item, sample, models, manifest_dir=manifest_dir)

    return grade


def test_an_interrupted_run_resumes_without_redoing_what_it_finished(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.evals import engine

    evaluated, job = _setup(tmp_path, baseline="none")
    graded: list[str] = []
    real = engine.grade

    monkeypatch.setattr(engine, "grade", _counting(real, graded, stop_after=2))  # Ctrl-C after two grades
    with pytest.raises(KeyboardInterrupt):
        Evaluator(Cache(tmp_path), _models(), parallelism=1).evaluate(evaluated, job)
    assert graded == ["Paris", "Rome"]
    models, again = _models(), list[str]()
    monkeypatch.setattr(engine, "grade", _counting(real, again))
    report = Evaluator(Cache(tmp_path), models, parallelism=1).evaluate(evaluated, job)
    assert again == ["Madrid", "Lima"]  # the first two were graded and kept
    # their answers too, and the third's (asked before its grade was interrupted); the fourth was
    # asked for or not, as the interruption found it
    assert models.calls in ([], [(TRAINED, "Capital of Peru?")])
    assert report.score == 0.75


def test_limit_takes_the_first_items_and_stores_no_report(tmp_path: Path) -> None:
    evaluated, job = _setup(tmp_path, {"min_score": 0.7})
    report = Evaluator(Cache(tmp_path), _models()).evaluate(evaluated, job, limit=2)
    assert report.items == 2 and report.score == 1.0 and report.limited
    from reconciler.session.eval_render import render_text
    assert "  gate      passed: score 1.00 ≥ 0.70 (on the first 2 items only: not kept for the gates)\n" in \
        render_text([report], "default")
    gates = Gates(tmp_path, [])
    gates.evaluated = {"support": evaluated}
    assert gates("support", job) is None
    Evaluator(Cache(tmp_path), _models()).evaluate(evaluated, job)
    verdict = gates("support", job)
    assert verdict is not None and verdict.passed and verdict.reason == "score 0.75 ≥ 0.70"


def test_an_edited_eval_file_has_no_verdict(tmp_path: Path) -> None:
    evaluated, job = _setup(tmp_path, {"min_score": 0.7})
    Evaluator(Cache(tmp_path), _models()).evaluate(evaluated, job)
    gates = Gates(tmp_path, [])
    gates.evaluated = {"support": evaluated}
    assert gates("support", job) is not None
    evaluated.file.write_text(evaluated.file.read_text() + json.dumps(_lines()[0]) + "\n")
    assert gates("support", job) is None


@pytest.mark.parametrize(("value", "against", "shown"), [
    (0.75, 0.75, "0.75"), (0.749, 0.75, "0.749"), (0.7501, 0.75, "0.7501"), (-0.001, None, "0.00"),
    (1 / 3, None, "0.33")])
def test_numbers_never_look_equal_to_a_threshold_they_are_not(value: float, against: float | None,
                                                               shown: str) -> None:
    assert number(value, against) == shown


def test_a_changed_python_grader_code_grades_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.evals import engine

    evaluated, job = _setup(tmp_path, baseline="none")
    Evaluator(Cache(tmp_path), _models()).evaluate(evaluated, job)
    graded: list[str] = []
    monkeypatch.setattr(engine, "grade", _counting(engine.grade, graded))
    Evaluator(Cache(tmp_path), _models()).evaluate(evaluated, job)
    assert graded == []
    edited = Evaluated(evaluated.name, evaluated.evaluation, evaluated.file, evaluated.manifest_dir,
                       (("eval.grader.graders.py", "def grade(sample, item):\n    return 1.0\n"),))
    models = _models()
    Evaluator(Cache(tmp_path), models).evaluate(edited, job)
    assert len(graded) == 4 and models.calls == []  # the answers are the same: only the grades are redone


@pytest.mark.parametrize(("operation", "answer", "score"), [
    ("eq", "Paris", 1.0), ("eq", "paris", 0.0), ("ne", "Rome", 1.0), ("ne", "Paris", 0.0),
    ("like", "It is Paris.", 1.0), ("like", "It is PARIS.", 0.0), ("ilike", "It is PARIS.", 1.0),
    ("ilike", "Lyon", 0.0)])
def test_string_check(operation: str, answer: str, score: float, tmp_path: Path) -> None:
    from reconciler.evals import engine
    from reconciler.evals.model import Sample
    from reconciler.manifests.graders import StringCheckGrader

    grader = StringCheckGrader(type="string_check", name="city", input="{{sample.output_text}}",
                               reference="{{item.answer.city}}", operation=operation)  # type: ignore[arg-type]
    item = {"answer": {"city": "Paris"}}
    assert engine.grade(grader, item, Sample.of(answer), FakeModels(), manifest_dir=tmp_path).value == score


def test_string_check_reads_the_answer_as_json(tmp_path: Path) -> None:
    from reconciler.evals import engine
    from reconciler.evals.model import Sample
    from reconciler.manifests.graders import StringCheckGrader

    grader = StringCheckGrader(type="string_check", name="label", input="{{sample.output_json.label}}",
                               reference="{{item.label}}", operation="eq")
    score = engine.grade(grader, {"label": "spam"}, Sample.of('{"label": "spam"}'), FakeModels(), manifest_dir=tmp_path)
    assert score.value == 1.0 and score.error is None
