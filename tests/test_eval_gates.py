"""Gates in the plan and in apply, without a server: the evaluate step with its estimate in text,
markdown and JSON; ``apply --wait``'s next round keeps the evaluation the waiting stage needs and stops
after a failed one; a failed gate makes apply exit 1."""

from __future__ import annotations

import json

from reconciler.apply.applier import StepResult
from reconciler.plan.model import EvalEstimate, EvaluateAction, GateVerdict, Plan
from reconciler.plan.planner import plan
from reconciler.plan.render import render_json, render_markdown, render_text
from reconciler.session.applying import another_round, apply_exit_code, next_round
from reconciler.session.evaluations import gate_failures
from tests.builders import desired_from_case, no_files
from tests.fakes import FakeApi
from tests.test_render import live

ESTIMATE = EvalEstimate(items=20, models=2, requests=40, prompt_tokens=1800, completion_tokens=5120, exact=False,
                        answer_tokens_assumed=None, cost=0.00342)


def _pipeline(verdict: GateVerdict | None) -> Plan:
    """``up`` (gated, its job succeeded) and ``down`` built on it, planned with ``verdict`` on up's job."""
    api = FakeApi()
    up, down = desired_from_case({"name": "up", "gate": True}), desired_from_case({"name": "down", "from": "up"})
    job = live(api, up, "succeeded")
    api.jobs[job.id]["fine_tuned_model"] = "ft:gpt-4o-mini-2024-07-18:org::up"
    return plan([up, down], [api.get_job(job.id)], no_files, "default", gates=lambda name, j: verdict)


def _with_estimate(made: Plan) -> Plan:
    return made.model_copy(update={"actions": [a.model_copy(update={"estimate": ESTIMATE})
                                               if isinstance(a, EvaluateAction) else a for a in made.actions]})


def test_the_evaluate_step_shows_its_estimate_in_every_format() -> None:
    made = _with_estimate(_pipeline(None))
    line = ("20 items × 2 models: 40 requests, ≈1,800 prompt tokens, ≤5,120 answer tokens, ≈$0.0034")
    text = render_text(made)
    assert ("    ? evaluate up (ftjob-1, succeeded) — its gate decides whether down is trained; samples 20 items from "
            f"ft:gpt-4o-mini-2024-07-18:org::up and its baseline; {line}\n") in text
    assert "Plan: 0 to upload, 0 to cancel, 0 to replace, 1 to create, 0 to pause, 0 to resume, 1 to evaluate." in text
    markdown = render_markdown(made)
    assert ("<p>🧪 <b>evaluate</b> up (ftjob-1, succeeded) — its gate decides whether down is trained; samples 20 "
            f"items from ft:gpt-4o-mini-2024-07-18:org::up and its baseline; {line}</p>") in markdown
    step = next(a for a in json.loads(render_json(made))["actions"] if a["action"] == "evaluate")
    assert step["estimate"] == ESTIMATE.model_dump(mode="json")
    assert Plan.from_json(json.loads(render_json(made))) == made


def test_an_assumed_answer_length_and_an_unknown_price_are_said() -> None:
    unpriced = ESTIMATE.model_copy(update={"completion_tokens": 10240, "answer_tokens_assumed": 256, "cost": None,
                                           "unpriced": ["my-model"]})
    made = _pipeline(None)
    made = made.model_copy(update={"actions": [a.model_copy(update={"estimate": unpriced})
                                               if isinstance(a, EvaluateAction) else a for a in made.actions]})
    assert ("; 20 items × 2 models: 40 requests, ≈1,800 prompt tokens, ≈10,240 answer tokens (assumed 256 "
            "per answer), no price known for my-model\n") in render_text(made)


def test_next_round_keeps_the_evaluation_the_waiting_stage_needs() -> None:
    reviewed = _pipeline(None)
    assert [a.action for a in reviewed.blocked] == ["create"]
    kept = next_round(reviewed, reviewed)
    assert sorted(a.action for a in kept.actions) == ["create", "evaluate"]
    done = [StepResult("up", "evaluate", "done", "gate passed: score 0.80 ≥ 0.50")]
    assert another_round(reviewed, done, finished=True)
    failed = [StepResult("up", "evaluate", "failed", "gate failed: score 0.20 < 0.50")]
    assert not another_round(reviewed, failed, finished=True)  # planning again would only evaluate it again


def test_a_failed_gate_blocks_the_stage_and_fails_apply() -> None:
    made = _pipeline(GateVerdict(passed=False, reason="score 0.20 < 0.50"))
    assert [a.action for a in made.actions] == ["create"]
    assert made.blocked[0].blocked_by is not None
    assert made.blocked[0].blocked_by.reason == "blocked by the gate of up: score 0.20 < 0.50"
    assert [n.name for n in gate_failures(made)] == ["up"]
    deferred = [StepResult("down", "create", "deferred", "blocked")]
    assert apply_exit_code(deferred, deferred, True, False, gate_failed=True) == 1
    assert apply_exit_code(deferred, deferred, True, False) == 0


def test_a_passed_gate_lets_the_stage_be_created() -> None:
    made = _pipeline(GateVerdict(passed=True, reason="score 0.80 ≥ 0.50"))
    assert [(a.action, a.name) for a in made.actions] == [("create", "down")] and not made.blocked
