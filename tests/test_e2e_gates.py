"""Gates in plan and apply end to end (SPEC §10, §11): the real CLI against a sandbox on a manual clock,
with the gated stage's report put in the project's cache by the evaluator itself (fake models), so that
nothing here needs the sandbox's chat completions. Without a report the plan evaluates the upstream
(with its estimate) and the downstream waits; with a failing one the downstream is blocked and apply
exits 1 with the report (and ``ftctl eval`` finds every answer in the cache: it sends nothing and exits
1); with a passing one apply trains the downstream.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.api.models import LiveJob
from reconciler.manifests.evaluation import Evaluation
from reconciler.session.eval_cache import Cache
from reconciler.session.evaluating import Evaluator
from reconciler.session.gates import Evaluated
from reliability.sandbox import SandboxProcess
from tests.fakes import FakeModels
from tests.workspace import Project

pytestmark = pytest.mark.e2e
EVAL = {"file": "data/eval.jsonl", "sampling": {"temperature": 0, "max_completion_tokens": 64},
        "gate": {"min_score": 0.5},
        "grader": {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
                   "reference": "{{item.reference}}", "operation": "eq"}}


def _write(p: Project) -> list[dict[str, str]]:
    (p.root / "ftctl.yaml").write_text("paths: [m]\n")  # eval takes names: the project says where manifests are
    lines = [json.loads(line) for line in (p.manifests / "data" / "train.jsonl").read_text().splitlines()[:4]]
    (p.manifests / "data" / "eval.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (p.manifests / "sft.yaml").write_text(
        "name: sft\nmodel: gpt-4o-mini\ntraining_file: data/train.jsonl\nsuffix: sft\n"
        f"eval: {json.dumps(EVAL)}\n")
    (p.manifests / "next.yaml").write_text(
        "name: next\nmodel: {from: sft}\ntraining_file: data/train.jsonl\nsuffix: next\n")
    return [{"prompt": line["messages"][-2]["content"], "answer": line["messages"][-1]["content"]} for line in lines]


def _store_report(p: Project, answers: dict[str, str]) -> None:
    """What ``ftctl eval sft`` leaves in the cache, the trained model answering from ``answers``."""
    job = LiveJob.model_validate(next(j for j in p.jobs() if j["metadata"]["ftctl-name"] == "sft"))
    assert job.fine_tuned_model
    evaluated = Evaluated("sft", Evaluation.model_validate(EVAL), p.manifests / "data" / "eval.jsonl", p.manifests)
    Evaluator(Cache(p.root), FakeModels({job.fine_tuned_model: answers})).evaluate(evaluated, job)


def _chats(stats: dict[str, int]) -> int:
    return sum(n for route, n in stats.items() if "chat/completions" in route)


def test_a_gate_blocks_the_next_stage_until_it_passes(tmp_path: Path, server: SandboxProcess) -> None:
    p = Project(tmp_path / "p", server)
    items = _write(p)
    assert p.ftctl("apply", "--auto-approve").returncode == 0
    for _ in range(30):  # the first stage trains
        server.advance(60)
        if p.statuses()["sft"] == ["succeeded"]:
            break
    assert p.statuses()["sft"] == ["succeeded"]

    plan = p.ftctl("plan")
    assert "? evaluate sft (ftjob-" in plan.stdout and "— its gate decides whether next is trained" in plan.stdout
    assert "; 4 items × 2 models: 8 requests, ≈" in plan.stdout and "≤512 answer tokens, ≈$0.0" in plan.stdout
    assert "+ create   next — waits for the gate of sft: its job ftjob-" in plan.stdout
    evaluate = next(a for a in json.loads(p.ftctl("plan", "-o", "json").stdout)["actions"]
                    if a["action"] == "evaluate")
    assert evaluate["estimate"]["requests"] == 8 and evaluate["estimate"]["completion_tokens"] == 512

    _store_report(p, {items[0]["prompt"]: items[0]["answer"]})  # one right answer of four
    blocked = p.ftctl("plan")
    assert "+ create   next — waits for sft (blocked by the gate of sft: score 0.25 < 0.50" in blocked.stdout
    assert "evaluate" not in blocked.stdout.split("Failed jobs")[0]
    before = p.server.stats()
    evaluated = p.ftctl("eval", "-o", "json", paths=False)  # every answer and grade is in the cache
    assert evaluated.returncode == 1, evaluated.stdout + evaluated.stderr
    report = json.loads(evaluated.stdout)["evaluations"]["sft"]
    assert (report["score"], report["baseline_score"], report["gate"]["passed"]) == (0.25, 0.0, False)
    assert json.loads(evaluated.stdout)["sent"]["requests"] == 0
    assert _chats(p.server.stats()) == _chats(before)
    applied = p.ftctl("apply", "--auto-approve")
    assert applied.returncode == 1, applied.stdout + applied.stderr
    assert "gate      FAILED: score 0.25 < 0.50" in applied.stdout
    assert sorted(p.statuses()) == ["sft"]  # nothing trained on a model that failed its gate

    shutil.rmtree(p.root / ".ftctl" / "cache")  # the cached answers were the other model's
    _store_report(p, {i["prompt"]: i["answer"] for i in items})  # all four right
    passed = p.ftctl("apply", "--auto-approve")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "+ create   next — no job exists yet" in passed.stdout
    assert sorted(p.statuses()) == ["next", "sft"]
