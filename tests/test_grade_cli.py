"""``ftctl grade NAME --samples FILE`` (SPEC §11): a manifest's grader run locally on answers written
by hand — exact text and JSON of the report, the samples file's problems by file and line, which
grader is picked, model graders and the models factory; and the real CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli.grade import text, to_json
from reconciler.diagnostics import InputError, SetupError
from reconciler.evals.engine import PythonLimits
from reconciler.session.grading import grade_samples, read_samples
from reconciler.session.grading import load as load_manifest
from reconciler.session.settings import build
from reliability.sandbox import clean_env
from tests.test_graders_engine import FakeModels
from tests.workspace import run_ftctl

TRIAGE = """\
name: triage
model: o4-mini-2025-04-16
training_file: data/train.jsonl
method:
  type: reinforcement
  grader:
    type: multi
    name: triage-score
    calculate_output: "0.5 * exact + 0.5 * label_ok"
    graders:
      exact: {type: string_check, name: exact label, input: "{{sample.output_text}}", reference: "{{item.label}}",
              operation: ilike}
      label_ok: {type: python, name: label check, source_file: graders/label.py}
"""
LABEL = """\
def grade(sample, item):
    answer = sample["output_text"].strip().lower()
    return 1.0 if answer == item["label"] else 0.0
"""
SAMPLES = [
    {"item": {"label": "billing"}, "output_text": "billing"},
    {"item": {"label": "account"}, "output_text": "It is an Account problem"},
    {"item": {"label": "security"}, "output_text": "I think it is about billing, or maybe not at all"},
    {"item": {"tag": "security"}, "output_text": "security"},
]
LIMITS = PythonLimits(time=10.0, memory=512 * 1024**2)


def _project(root: Path, manifest: str = TRIAGE, samples: list[Any] | None = None) -> Path:
    (root / ".git").mkdir()
    (root / "manifests" / "data").mkdir(parents=True)
    (root / "manifests" / "graders").mkdir()
    (root / "manifests" / "data" / "train.jsonl").write_text("")
    (root / "manifests" / "data" / "eval.jsonl").write_text("")
    (root / "manifests" / "graders" / "label.py").write_text(LABEL)
    (root / "manifests" / "bot.yaml").write_text(manifest)
    lines = SAMPLES if samples is None else samples
    (root / "samples.jsonl").write_text("".join(json.dumps(s) + "\n" for s in lines))
    return root


def _load(root: Path, name: str = "triage") -> Any:
    settings = build(clean_env(), root, offline=True)
    return load_manifest([root / "manifests"], settings, name)


TEXT = """\
triage: method.grader (multi grader 'triage-score') on 4 samples of samples.jsonl
  line 1  1.0000  "billing"  (exact 1.0000, label_ok 1.0000)
  line 2  0.5000  "It is an Account problem"  (exact 1.0000, label_ok 0.0000)
  line 3  0.0000  "I think it is about billing, or maybe n…"  (exact 0.0000, label_ok 0.0000)
  line 4  0.0000  "security"  error: exact: {{item.label}}: item has no field 'label' (and 1 more grader(s) failed)
Mean 0.3750 over 4 samples; 1 error (counted as 0)."""


def test_the_report_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _project(tmp_path)
    monkeypatch.chdir(root)
    report = grade_samples(_load(root), Path("samples.jsonl"), None, LIMITS)
    assert "\n".join(text(report, Path("samples.jsonl"))) == TEXT


def test_the_report_as_json(tmp_path: Path) -> None:
    root = _project(tmp_path, samples=SAMPLES[1:2])
    report = grade_samples(_load(root), root / "samples.jsonl", None, LIMITS)
    assert to_json(report) == {
        "name": "triage", "grader": "method.grader", "type": "multi", "mean": 0.5, "count": 1, "errors": 0,
        "samples": [{"line": 1, "score": 0.5, "error": None, "parts": {
            "exact": {"score": 1.0, "error": None}, "label_ok": {"score": 0.0, "error": None}}}]}


def test_bad_sample_lines_are_named_by_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s.jsonl").write_text('{"item": {}, "output_text": "ok"}\n'
                               "\n"
                               "{not json\n"
                               '["a list"]\n'
                               '{"item": "x", "output_text": 3, "answer": "y"}\n')
    with pytest.raises(InputError) as caught:
        read_samples(Path("s.jsonl"))
    assert [str(d) for d in caught.value.diagnostics] == [
        "s.jsonl:3: not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        's.jsonl:4: must be an object {"item": {...}, "output_text": "..."}',
        's.jsonl:5: answer: unknown field; a line has "item" and "output_text"',
        "s.jsonl:5: item: must be an object (the data line the grader reads)",
        "s.jsonl:5: output_text: must be a string (the answer graded)"]
    Path("empty.jsonl").write_text("\n")
    with pytest.raises(InputError, match="holds no sample"):
        read_samples(Path("empty.jsonl"))


EVAL_ONLY = """\
name: helper
model: gpt-4o-mini-2024-07-18
training_file: data/train.jsonl
eval:
  file: data/eval.jsonl
  grader: {type: string_check, name: has it, input: "{{sample.output_text}}", reference: "{{item.label}}",
           operation: like}
"""
PLAIN_GRADER = """\
  grader: {type: string_check, name: has it, input: "{{sample.output_text}}", reference: "{{item.label}}",
           operation: like}"""


def test_without_a_reinforcement_grader_the_eval_grader_is_used(tmp_path: Path) -> None:
    root = _project(tmp_path, EVAL_ONLY, SAMPLES[:2])
    report = grade_samples(_load(root, "helper"), root / "samples.jsonl", None)
    assert report.grader_path == ("eval", "grader")
    assert [s.score.value for s in report.samples] == [1.0, 0.0]


def test_a_manifest_without_a_grader_or_of_another_name(tmp_path: Path) -> None:
    root = _project(tmp_path, EVAL_ONLY.split("eval:")[0])
    with pytest.raises(SetupError, match=r"^helper has no grader: give it method.grader \(reinforcement\) or "):
        grade_samples(_load(root, "helper"), root / "samples.jsonl", None)
    with pytest.raises(SetupError, match=r"^no manifest is named 'bot' \(manifests: helper\)$"):
        _load(root, "bot")


JUDGED = EVAL_ONLY.replace(PLAIN_GRADER, """  grader:
    type: score_model
    name: judge
    model: gpt-4.1-mini-2025-04-14
    input: [{role: user, content: "Is {{sample.output_text}} the label {{item.label}}?"}]""")


def test_a_model_grader_needs_the_models_factory(tmp_path: Path) -> None:
    root = _project(tmp_path, JUDGED, SAMPLES[:2])
    with pytest.raises(SetupError, match=r"^helper: eval.grader: the score_model grader 'judge' needs the target's "
                                         "models, which ftctl grade cannot reach here"):
        grade_samples(_load(root, "helper"), root / "samples.jsonl", None)
    made: list[FakeModels] = []

    def factory() -> FakeModels:
        made.append(FakeModels('{"steps": [], "result": 0.75}'))
        return made[-1]

    report = grade_samples(_load(root, "helper"), root / "samples.jsonl", factory)
    assert [s.score.value for s in report.samples] == [0.75, 0.75]
    assert len(made) == 1 and [m[1][0]["content"] for m in made[0].chats] == [
        "Is billing the label billing?", "Is It is an Account problem the label account?"]


@pytest.mark.e2e
def test_ftctl_grade_end_to_end(tmp_path: Path) -> None:
    root = _project(tmp_path)
    env = clean_env(OPENAI_API_KEY="sk-never-seen-by-the-grader")
    done = run_ftctl(["grade", "triage", "--samples", "samples.jsonl"], root, env)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == TEXT + "\n"
    done = run_ftctl(["grade", "triage", "--samples", "samples.jsonl", "-o", "json"], root, env)
    assert json.loads(done.stdout)["mean"] == 0.375
    (root / "bad.jsonl").write_text('{"item": {}, "output_text": "x"}\n{"item": {}}\n')
    done = run_ftctl(["grade", "triage", "--samples", "bad.jsonl"], root, env)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "bad.jsonl:2: output_text: must be a string (the answer graded)\n1 error.\n"
