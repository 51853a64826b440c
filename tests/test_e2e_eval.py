"""``ftctl eval`` end to end over HTTP against the sandbox's chat completions (SPEC §11): the fine-tuned
model beats its base and passes its gate; a rerun sends no request; under 30% faults every item is
graded exactly once; ``-o markdown`` gives the table and the chart; ``--dry-run`` sends nothing.
``ftctl grade`` with a score_model grader asks the target's chat completions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reliability.sandbox import SandboxProcess
from tests.workspace import Project, run_while_time_passes

pytestmark = pytest.mark.e2e
EVAL = {"file": "data/eval.jsonl", "sampling": {"temperature": 0, "max_completion_tokens": 128},
        "gate": {"min_score": 0.5, "min_gain": 0.2},
        "grader": {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
                   "reference": "{{item.reference}}", "operation": "eq"}}


def _trained(tmp_path: Path, server: SandboxProcess) -> Project:
    """A project whose stage ``sft`` (with eval: on items of its own training data) has succeeded, and a
    stage ``next`` built on it."""
    p = Project(tmp_path / "p", server)
    (p.root / "ftctl.yaml").write_text("paths: [m]\n")  # eval takes names: the project says where manifests are
    lines = (p.manifests / "data" / "train.jsonl").read_text().splitlines()[:6]
    (p.manifests / "data" / "eval.jsonl").write_text("\n".join(lines) + "\n")
    (p.manifests / "sft.yaml").write_text("name: sft\nmodel: gpt-4o-mini\ntraining_file: data/train.jsonl\n"
                                          f"suffix: sft\neval: {json.dumps(EVAL)}\n")
    (p.manifests / "next.yaml").write_text("name: next\nmodel: {from: sft}\ntraining_file: data/train.jsonl\n")
    assert p.ftctl("apply", "--auto-approve").returncode == 0
    for _ in range(30):
        server.advance(60)
        if p.statuses()["sft"] == ["succeeded"]:
            break
    return p


def _chat_requests(server: SandboxProcess) -> int:
    return sum(n for route, n in server.stats().items() if "chat/completions" in route)


def test_the_fine_tune_beats_its_base_and_passes_its_gate(tmp_path: Path, server: SandboxProcess) -> None:
    p = _trained(tmp_path, server)
    done = p.ftctl("eval", "-o", "json", paths=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)["evaluations"]["sft"]
    assert report["items"] == 6 and report["errors"] == 0
    assert (report["score"], report["baseline_score"]) == (1.0, 0.0) and report["gate"]["passed"]  # its own answers
    assert report["baseline"] == "gpt-4o-mini-2024-07-18"


def test_a_rerun_sends_no_request(tmp_path: Path, server: SandboxProcess) -> None:
    p = _trained(tmp_path, server)
    first = p.ftctl("eval", paths=False)
    assert first.returncode == 0, first.stdout + first.stderr
    sent = _chat_requests(server)
    assert sent == 12  # six items, the trained model and its base
    again = p.ftctl("eval", paths=False)
    assert _chat_requests(server) == sent  # the same report, from the cache
    assert again.stdout.splitlines()[:-1] == first.stdout.splitlines()[:-1]
    assert again.stdout.splitlines()[-1] == "Sent no request: every answer was in the cache (.ftctl/cache)."


def test_under_faults_every_item_is_graded_exactly_once(tmp_path: Path, server: SandboxProcess) -> None:
    p = _trained(tmp_path, server)
    server.faults(0.3, seed=3, routes=["/v1/chat/completions"])
    for _ in range(5):  # what fails after its retries is asked for again by the next run, nothing else
        done = p.ftctl("eval", "-o", "json", paths=False)
        if done.returncode == 0:
            break
    report = json.loads(done.stdout)["evaluations"]["sft"]
    assert report["unanswered"] == 0 and report["items"] == 6
    grades = list((p.root / ".ftctl" / "cache" / "grades").rglob("*.json"))
    assert len(grades) == 12  # one per answer (trained and base), each graded once


def test_markdown_has_the_table_and_the_chart(tmp_path: Path, server: SandboxProcess) -> None:
    p = _trained(tmp_path, server)
    markdown = p.ftctl("eval", "-o", "markdown", paths=False).stdout
    assert "| name | model | baseline | score | Δ | gate |" in markdown
    assert "```mermaid\nxychart-beta\n" in markdown and '    x-axis ["sft"]' in markdown


def test_apply_wait_evaluates_the_gate_and_trains_the_next_stage(tmp_path: Path, server: SandboxProcess) -> None:
    p = _trained(tmp_path, server)
    done = run_while_time_passes(server, ["apply", "m", "--auto-approve", "--wait", "--timeout", "30m",
                                          "--poll-interval", "0.1s", "--api-base", server.url], p.root, step=20)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "✓ evaluate sft: gate passed: score " in done.stdout
    assert p.statuses()["next"] == ["succeeded"]


def test_dry_run_sends_nothing(tmp_path: Path, server: SandboxProcess) -> None:
    p = _trained(tmp_path, server)
    before = server.stats()
    done = p.ftctl("eval", "--dry-run", paths=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("sft: 6 items × 2 models: 12 requests, ≈")
    assert "≤1,536 answer tokens, ≈$0.0" in done.stdout and "Nothing was sent (--dry-run)." in done.stderr
    assert server.stats() == before


def test_usage_errors(tmp_path: Path, server: SandboxProcess) -> None:
    p = _trained(tmp_path, server)
    unknown = p.ftctl("eval", "nope", paths=False)
    assert unknown.returncode != 0 and "nope: no manifest of the project declares that name" in unknown.stderr
    without = p.ftctl("eval", "next", paths=False)
    assert without.returncode != 0 and "next: its manifest has no eval: section" in without.stderr


def test_grade_asks_the_targets_model_for_a_score_model_grader(tmp_path: Path, server: SandboxProcess) -> None:
    p = Project(tmp_path / "p", server)
    grader = {"type": "score_model", "name": "judge", "model": "gpt-4.1-2025-04-14", "range": [0, 10],
              "input": [{"role": "user", "content": "Rate {{sample.output_text}} against {{item.reference}}"}]}
    (p.manifests / "data" / "eval.jsonl").write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}], "reference": "hello"}) + "\n")
    (p.manifests / "bot.yaml").write_text("name: bot\nmodel: gpt-4o-mini\ntraining_file: data/train.jsonl\n"
                                          f"eval: {json.dumps({'file': 'data/eval.jsonl', 'grader': grader})}\n")
    (p.root / "answers.jsonl").write_text("\n".join(json.dumps({"item": {"reference": "hello"}, "output_text": t})
                                                     for t in ("hello", "goodbye")) + "\n")
    before = _chat_requests(server)
    done = p.ftctl("grade", "bot", "--samples", "answers.jsonl", "-o", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["errors"] == 0 and all(0 <= s["score"] <= 10 for s in report["samples"])
    assert _chat_requests(server) == before + 2  # one judgement per answer, by the grader's model on the target


def test_a_baseline_that_never_answers_gives_no_verdict(tmp_path: Path, server: SandboxProcess) -> None:
    p = _trained(tmp_path, server)
    manifest = p.manifests / "sft.yaml"
    manifest.write_text(manifest.read_text().replace('"gate":', '"baseline": "gpt-nonexistent-9", "gate":'))
    done = p.ftctl("eval", paths=False)
    assert done.returncode == 1, done.stdout + done.stderr  # its answers count 0: a gain over them proves nothing
    assert "gate      FAILED: no verdict: 6 completions failed (completion failed: HTTP 404: The model " \
           "`gpt-nonexistent-9` does not exist" in done.stdout, done.stdout
    assert "incomplete: 6 of 12 completions failed (completion failed: HTTP 404" in done.stdout
