"""Pipelines end to end (SPEC §10): the real CLI against a sandbox on a manual clock.

A three-stage pipeline — supervised, then DPO on its model, then supervised again on the DPO job's
newest checkpoint — is carried through by ``apply --wait``; while the first stage runs, the plan shows
the second as blocked in text, markdown (with the mermaid graph) and JSON. The first stage's
hyperparameter is then changed and applied again: the later stages are replaced in order, none trains
on a stale base, and no stage ever has two jobs at once. Renames with and without ``previous_names``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from reliability.sandbox import SandboxProcess, clean_env
from tests.workspace import KEY, Project, run_ftctl, run_while_time_passes

pytestmark = pytest.mark.e2e
PREFS = Path(__file__).resolve().parent.parent / "manifests" / "data" / "ranking" / "prefs.jsonl"


def _write(p: Project, epochs: int = 3) -> None:
    (p.manifests / "data" / "prefs.jsonl").write_bytes(PREFS.read_bytes())
    (p.manifests / "sft.yaml").write_text(
        f"name: sft\nmodel: gpt-4.1-mini\ntraining_file: data/train.jsonl\nmethod:\n  type: supervised\n"
        f"  hyperparameters: {{n_epochs: {epochs}}}\nsuffix: sft\n")
    (p.manifests / "dpo.yaml").write_text(
        "name: dpo\nmodel: {from: sft}\ntraining_file: data/prefs.jsonl\nmethod: {type: dpo}\nsuffix: dpo\n")
    (p.manifests / "polish.yaml").write_text(
        "name: polish\nmodel: {from: dpo, checkpoint: last}\ntraining_file: data/train.jsonl\nsuffix: polish\n")


def _by_name(p: Project) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for job in sorted(p.jobs(), key=lambda j: j["created_at"]):
        out.setdefault(job["metadata"]["ftctl-name"], []).append(job)
    return out


def _apply_wait(p: Project, server: SandboxProcess) -> str:
    done = run_while_time_passes(server, ["apply", "m", "--auto-approve", "--wait", "--timeout", "30m",
                                          "--poll-interval", "0.1s", "--api-base", server.url], p.root, step=20)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return done.stdout


def _checkpoint_of(server: SandboxProcess, job_id: str) -> str:
    points = server.listing(f"fine_tuning/jobs/{job_id}/checkpoints")
    return str(max(points, key=lambda c: c["step_number"])["fine_tuned_model_checkpoint"])


def test_a_three_stage_pipeline_is_carried_through_and_retrained_in_order(tmp_path: Path,
                                                                          server: SandboxProcess) -> None:
    p = Project(tmp_path / "p", server)
    _write(p)
    assert p.ftctl("apply", "--auto-approve").returncode == 0  # the first stage starts; the others wait
    server.advance(10)
    assert [j["status"] for j in p.jobs()] == ["running"]
    text = p.ftctl("plan", "--detailed-exitcode")
    assert text.returncode == 2  # blocked creates are changes still to make
    assert "+ create   dpo — waits for sft: its job " in text.stdout and " is running" in text.stdout
    assert "+ create   polish — waits for dpo: it waits for sft" in text.stdout
    assert "blocked: not created by this plan; it waits for sft" in text.stdout
    assert "Pipeline:\n  sft: running\n    └─ dpo: blocked\n      └─ polish: blocked (last of dpo)" in text.stdout
    markdown = p.ftctl("plan", "-o", "markdown").stdout
    assert "```mermaid\nflowchart LR\n" in markdown and "s_sft --> s_dpo" in markdown
    assert "s_dpo -->|last| s_polish" in markdown and "<b>create</b> dpo — waits for sft: its job " in markdown
    actions = {a["name"]: a for a in json.loads(p.ftctl("plan", "-o", "json").stdout)["actions"]}
    assert actions["dpo"]["blocked_by"] == {"name": "sft", "reason": actions["dpo"]["reason"]}
    assert actions["dpo"]["reason"].startswith("waits for sft: its job ftjob-")

    out = _apply_wait(p, server)
    assert "The stages that waited are ready:" in out
    jobs = _by_name(p)
    assert [len(jobs[n]) for n in ("sft", "dpo", "polish")] == [1, 1, 1]
    assert all(j["status"] == "succeeded" for n in jobs for j in jobs[n])
    assert jobs["dpo"][0]["model"] == jobs["sft"][0]["fine_tuned_model"]
    assert jobs["polish"][0]["model"] == _checkpoint_of(server, jobs["dpo"][0]["id"])
    assert p.ftctl("plan", "--detailed-exitcode").returncode == 0
    # One stage alone, as a pull request's changed files: it links to the project's other manifests,
    # which are neither planned nor orphans.
    (p.root / "ftctl.yaml").write_text("paths: [m]\n")
    alone = run_ftctl(["validate", "m/polish.yaml"], p.root, clean_env())
    assert alone.returncode == 0, alone.stderr
    alone = p.ftctl("plan", "--detailed-exitcode", "m/polish.yaml", paths=False)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert "No changes. The live jobs match the manifests." in alone.stdout and "orphan" not in alone.stdout
    assert "note: the jobs of dpo, sft (manifests of the project not among the given paths) are left as they" \
        in alone.stderr

    _write(p, epochs=4)  # the first stage changes: the later ones follow, in order
    replanned = p.ftctl("plan").stdout
    assert "~ method.hyperparameters.n_epochs: 3 → 4" in replanned and "waits for sft: it is trained anew" in replanned
    out = _apply_wait(p, server)
    jobs = _by_name(p)
    assert [len(jobs[n]) for n in ("sft", "dpo", "polish")] == [2, 2, 2]  # one new job each, no duplicate
    assert jobs["dpo"][1]["model"] == jobs["sft"][1]["fine_tuned_model"] != jobs["sft"][0]["fine_tuned_model"]
    assert jobs["polish"][1]["model"] == _checkpoint_of(server, jobs["dpo"][1]["id"])
    for earlier, later in zip(("sft", "dpo"), ("dpo", "polish"), strict=True):
        # no stage was created before its upstream's new job had succeeded
        assert jobs[later][1]["created_at"] >= jobs[earlier][1]["finished_at"]
    assert "~ model: ft:gpt-4.1-mini-2025-04-14:sandbox:sft:" in out and "(sft was retrained)" in out
    assert p.ftctl("plan", "--detailed-exitcode").returncode == 0


def test_a_rename_keeps_its_job_with_previous_names_and_is_hinted_without(tmp_path: Path,
                                                                          server: SandboxProcess) -> None:
    p = Project(tmp_path / "p", server)
    p.write("bot")
    assert p.ftctl("apply", "--auto-approve").returncode == 0
    (p.manifests / "bot.yaml").rename(p.manifests / "assistant.yaml")
    text = (p.manifests / "assistant.yaml").read_text().replace("name: bot", "name: assistant")
    (p.manifests / "assistant.yaml").write_text(text)
    hinted = p.ftctl("plan")
    assert "+ create   assistant" in hinted.stdout
    assert "renamed from bot? its job ftjob-" in hinted.stdout and "add previous_names: [bot]" in hinted.stdout
    (p.manifests / "assistant.yaml").write_text(text + "previous_names: [bot]\n")
    kept = p.ftctl("plan", "--detailed-exitcode")
    assert kept.returncode == 0, kept.stdout  # no new paid job, no orphan
    assert "No changes. The live jobs match the manifests." in kept.stdout
    assert len(p.jobs()) == 1


def test_a_saved_plan_never_creates_a_stage_it_showed_blocked(tmp_path: Path, server: SandboxProcess) -> None:
    p = Project(tmp_path / "p", server)
    _write(p)
    assert p.ftctl("apply", "--auto-approve").returncode == 0
    server.advance(10)  # sft runs: dpo and polish wait
    assert p.ftctl("plan", "--out", "plan.json").returncode == 0
    applied = run_while_time_passes(server, ["apply", "plan.json", "--api-base", server.url], p.root, step=0)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "… create   dpo: not created yet (waits for sft: its job ftjob-" in applied.stdout
    assert sorted(_by_name(p)) == ["sft"]  # nothing made for the blocked stages
    server.advance(600)  # sft has succeeded since: the plan relied on it running
    stale = run_while_time_passes(server, ["apply", "plan.json", "--api-base", server.url], p.root, step=0)
    assert stale.returncode == 1 and "stale plan: job ftjob-" in stale.stderr
    assert "(sft) is now succeeded" in stale.stderr
    assert sorted(_by_name(p)) == ["sft"]


def test_ctrl_c_in_a_pipeline_run_names_the_stages_trained_running_and_waiting(tmp_path: Path,
                                                                              server: SandboxProcess) -> None:
    p = Project(tmp_path / "p", server)
    _write(p)
    run = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "m", "--auto-approve", "--wait", "--timeout",
                            "30m", "--poll-interval", "0.1s", "--api-base", server.url], cwd=p.root,
                           env=clean_env(OPENAI_API_KEY=KEY, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    assert run.stdout is not None
    moving = threading.Event()
    moving.set()

    def advance() -> None:  # time passes until the second round follows dpo, then stands still
        while run.poll() is None:
            if moving.is_set():
                server.advance(20)
            time.sleep(0.2)

    clock = threading.Thread(target=advance, daemon=True)
    clock.start()
    second = False
    for line in run.stdout:
        second = second or line.startswith("The stages that waited are ready:")
        if second and line.startswith("Waiting for"):  # the second round follows dpo
            moving.clear()
            break
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    clock.join(timeout=10)
    assert run.returncode == 130, err
    assert "✓ jobs created by this run: dpo, sft" in err and "… still running: dpo" in err, err
    assert "… polish waits: waits for dpo" in err and "keep running (and billing)" in err, err
