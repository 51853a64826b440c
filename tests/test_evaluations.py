"""The session of ``ftctl eval`` and of apply's evaluate step, with fake models and a fake API: which
manifests are evaluated on which job, the exit code, the evaluate step's outcome and the dry run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.api.models import TAG_NAME, TAG_STACK
from reconciler.diagnostics import UsageProblem
from reconciler.plan.model import EvaluateAction, JobSummary
from reconciler.session import evaluations
from reconciler.session.eval_cache import Cache
from reconciler.session.eval_report import EvalReport
from reconciler.session.evaluating import Evaluator, Skipped
from reconciler.session.evaluations import ApplyEvaluator, EvalRequest, dry_run, eval_exit_code, run_evals
from reconciler.session.settings import Settings, build
from tests.fakes import FakeApi, FakeModels

TRAINED = "ft:gpt-4o-mini-2024-07-18:org:qa:abc"
ITEMS = [("Capital of France?", "Paris"), ("Capital of Italy?", "Rome")]


@pytest.fixture(autouse=True)
def _in_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # as ftctl runs: manifests/ is found from the project root


def _project(root: Path, gate: float = 0.5) -> Settings:
    (root / ".git").mkdir(parents=True)
    data = root / "manifests" / "data"
    data.mkdir(parents=True)
    lines = [{"messages": [{"role": "system", "content": "Answer with a city."}, {"role": "user", "content": q},
                           {"role": "assistant", "content": a}]} for q, a in ITEMS * 6]
    (data / "train.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (data / "eval.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines[:2]))
    grader = ('{type: string_check, name: exact, input: "{{sample.output_text}}", reference: "{{item.reference}}", '
              'operation: eq}')
    (root / "manifests" / "qa.yaml").write_text(
        "name: qa\nmodel: gpt-4o-mini\ntraining_file: data/train.jsonl\n"
        f"eval:\n  file: data/eval.jsonl\n  grader: {grader}\n  sampling: {{max_completion_tokens: 8}}\n"
        f"  gate: {{min_score: {gate}}}\n")
    (root / "manifests" / "plain.yaml").write_text("name: plain\nmodel: gpt-4o-mini\ntraining_file: data/train.jsonl\n")
    return build({"OPENAI_API_KEY": "sk-test"}, root)


class _Conn:
    """What the session uses of a connection: the readers (a fake API) and a transport (not used)."""

    def __init__(self, api: FakeApi) -> None:
        self.reader = self.step_reader = api
        self.transport: Any = None


def _fake(monkeypatch: pytest.MonkeyPatch, models: FakeModels) -> None:
    monkeypatch.setattr(evaluations, "evaluator_for", lambda settings, conn, evaluated, parallelism, ticker=None:
                        Evaluator(Cache(settings.root), models, parallelism))


def _job(api: FakeApi, status: str = "succeeded") -> str:
    return api.add_job(model="gpt-4o-mini-2024-07-18", fine_tuned_model=TRAINED if status == "succeeded" else None,
                       status=status, metadata={TAG_STACK: "default", TAG_NAME: "qa"})


def test_eval_runs_the_manifests_with_eval_on_their_current_job(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _project(tmp_path)
    api = FakeApi()
    _job(api)
    _fake(monkeypatch, FakeModels({TRAINED: dict(ITEMS)}))
    outcomes, _ = run_evals(EvalRequest(), settings, _Conn(api), tmp_path)  # type: ignore[arg-type]
    assert [(o.name, o.score, o.baseline_score) for o in outcomes if isinstance(o, EvalReport)] == [("qa", 1.0, 0.0)]
    assert eval_exit_code(outcomes) == 0


def test_a_gated_manifest_whose_job_has_not_succeeded_is_not_passed(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _project(tmp_path)
    api = FakeApi()
    job_id = _job(api, "running")
    _fake(monkeypatch, FakeModels())
    outcomes, _ = run_evals(EvalRequest(("qa",)), settings, _Conn(api), tmp_path)  # type: ignore[arg-type]
    assert outcomes == [Skipped("qa", f"its job {job_id} is running", gated=True)]
    assert eval_exit_code(outcomes) == 1


def test_names_are_checked(tmp_path: Path) -> None:
    settings = _project(tmp_path)
    with pytest.raises(UsageProblem, match="nope: no manifest of the project declares that name"):
        run_evals(EvalRequest(("nope",)), settings, _Conn(FakeApi()), tmp_path)  # type: ignore[arg-type]
    with pytest.raises(UsageProblem, match="plain: its manifest has no eval: section"):
        dry_run(EvalRequest(("plain",)), settings, tmp_path)


def test_the_dry_run_counts_items_requests_tokens_and_dollars(tmp_path: Path) -> None:
    estimate = dry_run(EvalRequest(), _project(tmp_path), tmp_path)["qa"]
    assert (estimate.items, estimate.models, estimate.requests, estimate.completion_tokens) == (2, 2, 4, 32)
    assert estimate.prompt_tokens > 0 and estimate.cost is not None and estimate.unpriced == []


def test_the_dry_run_counts_a_model_graders_tokens_and_price_too(tmp_path: Path) -> None:
    settings = _project(tmp_path)
    plain = dry_run(EvalRequest(), settings, tmp_path)["qa"]
    manifest = tmp_path / "manifests" / "qa.yaml"
    judge = ('{type: score_model, name: judge, model: gpt-4.1-2025-04-14, '
             'sampling_params: {max_completions_tokens: 16}, '
             'input: [{role: user, content: "Rate {{sample.output_text}} against {{item.reference}}"}]}')
    text = manifest.read_text()
    manifest.write_text(text.replace(text.split("grader: ", 1)[1].split("\n", 1)[0], judge))
    judged = dry_run(EvalRequest(), settings, tmp_path)["qa"]
    assert judged.requests == plain.requests * 2  # one judgement per answer
    assert judged.completion_tokens == plain.completion_tokens + 4 * 16  # 4 answers judged, ≤16 tokens each
    assert judged.prompt_tokens > plain.prompt_tokens + 4 * 8  # each judgement reads an answer (≤8) and its prompt
    assert judged.cost is not None and plain.cost is not None and judged.cost > plain.cost


@pytest.mark.parametrize(("answers", "outcome", "detail"), [
    (dict(ITEMS), "done", "gate passed: score 1.00 ≥ 0.50"),
    ({}, "failed", "gate failed: score 0.00 < 0.50"),
])
def test_the_evaluate_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answers: dict[str, str], outcome: str,
                           detail: str) -> None:
    settings = _project(tmp_path)
    api = FakeApi()
    job_id = _job(api)
    _fake(monkeypatch, FakeModels({TRAINED: answers}))
    run = ApplyEvaluator(settings, _Conn(api), tmp_path)  # type: ignore[arg-type]
    action = EvaluateAction(name="qa", job_id=job_id, model=TRAINED, reason="its gate decides",
                            before=JobSummary(job_id=job_id, status="succeeded"))
    result = run(action)
    assert (result.outcome, result.detail) == (outcome, detail)
    assert [r.name for r in run.reports] == ["qa"] and run.failed == ({"qa"} if outcome == "failed" else set())


def test_an_evaluate_step_with_failed_completions_is_not_a_verdict(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _project(tmp_path)
    api = FakeApi()
    job_id = _job(api)
    models = FakeModels({TRAINED: dict(ITEMS)})
    models.fail = 1
    _fake(monkeypatch, models)
    action = EvaluateAction(name="qa", job_id=job_id, model=TRAINED, reason="its gate decides",
                            before=JobSummary(job_id=job_id, status="succeeded"))
    result = ApplyEvaluator(settings, _Conn(api), tmp_path, parallelism=1)(action)  # type: ignore[arg-type]
    assert (result.outcome, result.detail) == ("failed", "1 completion failed: the gate is judged once every answer "
                                                         "is had (apply again)")
