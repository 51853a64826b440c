"""End to end: the real ``ftctl`` CLI against ``ftctl sandbox serve`` on a loopback port."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from reliability.sandbox import SandboxProcess, clean_env
from tests.conftest import ROOT
from tests.workspace import SECRET, Workspace

pytestmark = pytest.mark.e2e

def _gets_only(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {route: n - before.get(route, 0) for route, n in after.items() if n != before.get(route, 0)}


def test_the_full_loop(tmp_path: Path, server: SandboxProcess) -> None:
    ws = Workspace.create(tmp_path, server)  # on a manual clock: each job's status is known at every step
    before = server.stats()
    first = ws.ftctl("plan", "--detailed-exitcode")
    assert first.returncode == 2, first.stderr
    assert "↑ upload   manifests/data/train.jsonl" in first.stdout
    assert "+ create   bot" in first.stdout
    assert "Plan: 1 to upload, 0 to cancel, 0 to replace, 1 to create, 0 to pause, 0 to resume." in first.stdout
    sent = _gets_only(before, server.stats())
    assert sent and all(route.startswith("GET ") for route in sent), sent  # plan changes nothing

    created = ws.ftctl("apply", "--auto-approve")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "Apply finished: 2 done, 0 already done, 0 deferred, 0 failed." in created.stdout
    (job,) = ws.jobs()
    assert job["metadata"] == {"team": "e2e", "ftctl-stack": "default", "ftctl-name": "bot",
                               "ftctl-spec": job["metadata"]["ftctl-spec"]}

    noop = ws.ftctl("plan", "--detailed-exitcode")
    assert noop.returncode == 0 and "No changes." in noop.stdout

    server.advance(12)  # the job runs now
    ws.write(epochs=4)
    changed = ws.ftctl("plan", "--detailed-exitcode")
    assert changed.returncode == 2
    assert f"-/+ replace  bot ({job['id']})" in changed.stdout
    assert "~ method.hyperparameters.n_epochs: 3 → 4" in changed.stdout
    replaced = ws.ftctl("apply", "--auto-approve")
    assert replaced.returncode == 0, replaced.stdout
    jobs = ws.jobs()
    assert [j["status"] for j in jobs] == ["validating_files", "cancelled"]
    new_id = jobs[0]["id"]

    server.advance(12)
    ws.write(epochs=4, state="paused")
    pause = ws.ftctl("plan")
    assert f"‖ pause    bot ({new_id}, running) — state: paused" in pause.stdout
    assert ws.ftctl("apply", "--auto-approve").returncode == 0
    assert ws.jobs()[0]["status"] == "paused"

    ws.write(epochs=4, state="active")
    assert f"» resume   bot ({new_id}, paused) — state: active" in ws.ftctl("plan").stdout
    assert ws.ftctl("apply", "--auto-approve").returncode == 0
    assert ws.jobs()[0]["status"] == "running"

    (ws.root / "manifests" / "bot.yaml").unlink()
    refused = ws.ftctl("plan", "--prune")  # no manifest at all: pruning would cancel the whole stack
    assert refused.returncode == 1 and "--prune with no manifest in the given paths" in refused.stderr
    (ws.root / "manifests" / "keep.yaml").write_text(
        "name: keep\nmodel: gpt-4o-mini\ntraining_file: data/train.jsonl\nstate: cancelled\n")
    orphan = ws.ftctl("plan", "--detailed-exitcode")
    assert orphan.returncode == 2  # a running job nobody declares: the live jobs do not match the manifests
    assert f"! bot ({new_id}, running): no manifest declares this name" in orphan.stdout
    prune = ws.ftctl("plan", "--prune")
    assert f"- cancel   bot ({new_id}, running) — orphan: no manifest declares it (--prune)" in prune.stdout
    assert ws.ftctl("apply", "--prune", "--auto-approve").returncode == 0
    assert ws.jobs()[0]["status"] == "cancelled"
    assert ws.ftctl("plan", "--detailed-exitcode").returncode == 0  # the orphan has ended: nothing differs

    status = ws.ftctl("status", "-o", "json")
    rows = json.loads(status.stdout)["jobs"]
    assert [(r["name"], r["status"]) for r in rows] == [("bot", "cancelled"), ("bot", "cancelled"),
                                                        ("keep", "not created")]
    assert SECRET not in "".join(ws.outputs)


def test_saved_plan_applies_exactly_and_refuses_when_stale(ws: Workspace, sandbox: SandboxProcess) -> None:
    assert ws.ftctl("apply", "--auto-approve").returncode == 0
    sandbox.advance(12)
    ws.write(epochs=5)
    saved = ws.ftctl("plan", "--out", "plan.json")
    assert saved.returncode == 0 and "Saved the plan to plan.json" in saved.stdout
    text = (ws.root / "plan.json").read_text()
    assert SECRET not in text
    data = json.loads(text)
    assert data["format_version"] == 4 and data["stack"] == "default"
    assert [a["action"] for a in data["actions"]] == ["replace"]
    assert data["summary"]["replace"] == 1 and data["fingerprint"].startswith("sha256:")

    (job,) = ws.jobs()  # someone else cancels the job after the plan was made
    httpx.post(f"{sandbox.url}/fine_tuning/jobs/{job['id']}/cancel", headers={"Authorization": "Bearer x"})
    stale = ws.ftctl("apply", "plan.json", "--auto-approve")
    assert stale.returncode == 1
    assert "stale plan" in stale.stderr
    assert len(ws.jobs()) == 1  # nothing was created

    fresh = ws.ftctl("plan", "--out", "plan2.json")
    assert fresh.returncode == 0
    applied = ws.ftctl("apply", "plan2.json", "--auto-approve")
    assert applied.returncode == 0, applied.stderr
    assert len(ws.jobs()) == 2
    assert ws.ftctl("plan", "--detailed-exitcode").returncode == 0


def test_apply_refuses_without_a_terminal(ws: Workspace) -> None:
    done = ws.ftctl("apply")
    assert done.returncode == 1
    assert done.stderr.strip() == ("Error: apply needs confirmation and there is no terminal to ask on: nothing was "
                                   "changed; review the plan and re-run with --auto-approve (or apply a saved plan: "
                                   "plan --out FILE)")  # not a usage error: the command line was right
    assert ws.jobs() == []


def test_apply_under_faults_never_duplicates(ws: Workspace, sandbox: SandboxProcess) -> None:
    sandbox.admin("PUT", "faults", {"rate": 0.5, "kinds": ["500", "drop_before", "drop_after", "429"],
                                    "seed": 3, "retry_after": 0})
    for _ in range(6):
        if ws.ftctl("apply", "--auto-approve").returncode == 0:
            break
    sandbox.admin("PUT", "faults", {"rate": 0})
    assert len(ws.jobs()) == 1
    assert len(sandbox.listing("files")) == 1
    assert ws.ftctl("plan", "--detailed-exitcode").returncode == 0


def test_a_remote_target_without_a_key_explains_the_sandbox(ws: Workspace) -> None:
    done = ws.ftctl("plan", key=None)
    assert done.returncode == 1
    assert "no API key" in done.stderr and "--sandbox" in done.stderr
    plain = ws.ftctl("plan", "--api-base", "http://example.com/v1")
    assert plain.returncode == 1 and "plain http is only allowed to loopback hosts" in plain.stderr


def test_embedded_sandbox_loop(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    shutil.copytree(ROOT / "manifests", tmp_path / "manifests")
    env = clean_env()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "reconciler", *args, "--sandbox"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    assert run("plan", "--detailed-exitcode").returncode == 2
    applied = run("apply", "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    waiting = run("plan", "--detailed-exitcode")  # the pipeline's second stage waits for the first
    assert waiting.returncode == 2 and "+ create   support-bot-dpo — waits for support-bot: its job" in waiting.stdout
    status = run("status")
    assert "support-bot" in status.stdout and "ticket-triage" in status.stdout
    assert (tmp_path / ".ftctl" / "sandbox.db").is_file()


def test_each_file_is_uploaded_once_from_any_machine(ws: Workspace, sandbox: SandboxProcess,
                                                     tmp_path_factory: pytest.TempPathFactory) -> None:
    assert ws.ftctl("apply", "--auto-approve").returncode == 0
    assert len(sandbox.listing("files")) == 1
    ws.write(epochs=7)  # a new job, same training file
    again = ws.ftctl("apply", "--auto-approve")
    assert again.returncode == 0 and "↑ upload" not in again.stdout
    assert len(sandbox.listing("files")) == 1

    other = Workspace.create(tmp_path_factory.mktemp("second-machine"), sandbox, epochs=7)  # a clone elsewhere
    planned = other.ftctl("plan", "--detailed-exitcode")
    assert planned.returncode == 0, planned.stdout  # nothing to upload, nothing to create
    assert len(sandbox.listing("files")) == 1


def test_bad_training_data_stops_plan_before_any_request(ws: Workspace, sandbox: SandboxProcess) -> None:
    (ws.root / "manifests" / "data" / "train.jsonl").write_text('{"messages": []}\n' * 12)
    before = sandbox.stats()
    done = ws.ftctl("plan")
    assert done.returncode == 1
    assert ("manifests/data/train.jsonl:1: lines 1, 2, 3 and 9 more: messages must be a non-empty list of messages"
            in done.stderr)
    assert "manifests/bot.yaml:3: training_file: manifests/data/train.jsonl does not fit the chat format" in done.stderr
    assert sandbox.stats() == before


def test_options_refused_for_these_manifests_send_nothing(ws: Workspace, sandbox: SandboxProcess) -> None:
    """The jobs are read on a thread once the input is checked: options are part of the input."""
    before = sandbox.stats()
    unknown = ws.ftctl("plan", "--replace", "nobody")
    assert unknown.returncode != 0 and "--replace nobody: no manifest declares that name" in unknown.stderr
    (ws.root / "manifests" / "bot.yaml").unlink()
    prune = ws.ftctl("apply", "--prune", "--auto-approve")
    assert prune.returncode == 1 and "--prune with no manifest in the given paths" in prune.stderr
    assert sandbox.stats() == before


def test_prune_with_paths_that_leave_out_a_manifest_is_refused(ws: Workspace, sandbox: SandboxProcess) -> None:
    """Its jobs would be orphans of a plan of the other paths: --prune is refused, nothing sent; a plain
    plan of those paths leaves them as they are and says so."""
    bot = ws.root / "manifests" / "bot.yaml"
    (ws.root / "manifests" / "other.yaml").write_text(bot.read_text().replace("name: bot", "name: other"))
    assert ws.ftctl("apply", "--auto-approve").returncode == 0
    before = sandbox.stats()
    prune = ws.ftctl("apply", "--prune", "--auto-approve", "manifests/other.yaml")
    assert prune.returncode == 1, prune.stdout + prune.stderr
    assert "--prune with paths that leave out manifests of the project (manifests/bot.yaml)" in prune.stderr
    assert sandbox.stats() == before
    plan = ws.ftctl("plan", "manifests/other.yaml")
    assert "note: the jobs of bot (manifests of the project not among the given paths) are left as they are" \
        in plan.stderr and "orphan" not in plan.stdout
    whole = ws.ftctl("apply", "--prune", "--auto-approve", "manifests")  # every manifest: nothing to prune
    assert whole.returncode == 0 and "cancel" not in whole.stdout, whole.stdout
    assert all(job["status"] != "cancelled" for job in ws.jobs())
    (ws.root / "manifests").rename(ws.root / "jobs")  # no manifests/, no paths: a folder given stands for them
    before = sandbox.stats()
    beside = ws.ftctl("apply", "--prune", "--auto-approve", "jobs/other.yaml")
    assert beside.returncode == 1 and "the manifests it leaves out cannot be known" in beside.stderr, beside.stderr
    assert sandbox.stats() == before
    folder = ws.ftctl("apply", "--prune", "--auto-approve", "jobs")
    assert folder.returncode == 0 and "cancel" not in folder.stdout, folder.stdout


def test_concurrent_applies_create_one_job(ws: Workspace) -> None:
    env = ws.env()
    runs = [subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "--auto-approve"], cwd=ws.root, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for run in runs:
        run.communicate(timeout=120)
    assert len(ws.jobs()) == 1
    assert len(ws.sandbox.listing("files")) == 1
    assert ws.ftctl("plan", "--detailed-exitcode").returncode == 0


def test_an_api_refusal_is_reported_once(ws: Workspace) -> None:
    manifest = ws.root / "manifests" / "bot.yaml"
    manifest.write_text(manifest.read_text().replace("gpt-4o-mini", "gpt-9-preview"))
    env = {**ws.env(), "FTCTL_EXTRA_MODELS": "gpt-9-preview"}
    del env["FTCTL_LOG"]  # the default level, as a user runs it
    done = subprocess.run([sys.executable, "-m", "reconciler", "apply", "--auto-approve"], cwd=ws.root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    refusal = "Model gpt-9-preview is not available for fine-tuning or does not exist."
    assert (done.stdout + done.stderr).count(refusal) == 1, done.stdout + done.stderr
    assert done.stderr == ""
