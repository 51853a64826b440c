"""Saved plans are a contract (SPEC §6), end to end: the real CLI against real sandbox servers.

What was reviewed is what ``apply PLANFILE`` does, or it does nothing: it goes to the plan's own
target, refuses when a file or job it relied on changed, refuses a file that is not exactly what
``plan --out`` wrote, works from any directory of the project, and asks no question.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from reliability.sandbox import SandboxProcess
from tests.conftest import Serve
from tests.workspace import Workspace

pytestmark = pytest.mark.e2e


@pytest.fixture
def other(serve: Serve) -> SandboxProcess:
    """A second sandbox server: another target."""
    return serve()


def _saved(ws: Workspace, *args: str, out: str = "plan.json") -> subprocess.CompletedProcess[str]:
    done = ws.ftctl("plan", "--out", out, *args)
    assert done.returncode == 0, done.stderr
    return done


def _one_line_refusal(done: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def _run_hint(ws: Workspace, done: subprocess.CompletedProcess[str], env: dict[str, str]) -> str:
    """Run the command printed after ``plan --out`` exactly as printed: no terminal, nothing added."""
    hint = done.stdout.strip().splitlines()[-1]
    command = shlex.split(hint.split("apply it with: ")[1])
    assert command[:2] == ["ftctl", "apply"]
    applied = subprocess.run([sys.executable, "-m", "reconciler", *command[1:]], cwd=ws.root, env=env,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply finished: 2 done" in applied.stdout
    assert len(ws.jobs()) == 1
    return hint


def test_the_printed_hint_works_as_printed_and_asks_nothing(ws: Workspace) -> None:
    hint = _run_hint(ws, _saved(ws), ws.env())  # the base URL came from OPENAI_BASE_URL, as in CI
    assert hint == "Saved the plan to plan.json; apply it with: ftctl apply plan.json"


def test_the_hint_repeats_a_base_url_given_as_a_flag(ws: Workspace, sandbox: SandboxProcess) -> None:
    env = {k: v for k, v in ws.env().items() if k != "OPENAI_BASE_URL"}
    made = subprocess.run([sys.executable, "-m", "reconciler", "plan", "--out", "plan.json", "--api-base",
                           sandbox.url], cwd=ws.root, env=env, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    hint = _run_hint(ws, made, env)
    assert hint == f"Saved the plan to plan.json; apply it with: ftctl apply plan.json --api-base {sandbox.url}"


def test_a_plan_is_never_saved_under_a_manifest_name(ws: Workspace) -> None:
    refused = ws.ftctl("plan", "--out", "plan.yaml")
    _one_line_refusal(refused, "--out plan.yaml: a saved plan must not end in .yaml")
    assert not (ws.root / "plan.yaml").exists()


def test_a_plan_for_the_embedded_sandbox_is_applied_there(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "m.yaml").write_text("name: bot\nmodel: gpt-4o-mini\ntraining_file: file-x\nstate: cancelled\n")
    env = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(tmp_path)}

    def run(*args: str, cwd: Path = tmp_path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL)

    made = run("plan", "m.yaml", "--sandbox", "--out", "p.json")
    assert made.returncode == 0, made.stderr
    target = json.loads((tmp_path / "p.json").read_text())["target"]
    assert target["provider"] == "sandbox" and target["sandbox_db"] == ".ftctl/sandbox.db"
    assert target["sandbox_id"].startswith("sbx-")  # the database's own identity
    assert run("apply", "../p.json", cwd=tmp_path / "sub").returncode == 0  # no key needed, no --sandbox
    refused = run("apply", "p.json", "--api-base", "http://127.0.0.1:9/v1")
    _one_line_refusal(refused, "the plan was made for the embedded sandbox (.ftctl/sandbox.db), not "
                               "http://127.0.0.1:9/v1")
    other = tmp_path / "sub" / "other-project"  # another project, with no sandbox yet: none is made
    (other / ".git").mkdir(parents=True)
    missing = run("apply", "../../p.json", cwd=other)
    _one_line_refusal(missing, "the plan was made for the embedded sandbox of its project (.ftctl/sandbox.db under "
                               "the project's root), and the project here (the current directory) has none: apply "
                               "the plan from the project it was made in")
    assert str(tmp_path) not in missing.stderr  # no absolute path of another directory
    empty = run("plan", "--sandbox", cwd=other)  # no manifests/ folder: refused, and no sandbox left either
    assert empty.returncode == 1 and "manifests: no such file or directory" in empty.stderr
    assert not (other / ".ftctl").exists()
    assert run("plan", "../../m.yaml", "--sandbox", cwd=other).returncode == 0  # now it has one of its own
    elsewhere = run("apply", "../../p.json", cwd=other)
    _one_line_refusal(elsewhere, "the embedded sandbox (.ftctl/sandbox.db) is not the sandbox the plan was made "
                                 "for (it is another project's, or was reset since)")


def test_a_plan_is_refused_against_another_target(ws: Workspace, sandbox: SandboxProcess,
                                                  other: SandboxProcess) -> None:
    _saved(ws)
    refused = ws.ftctl("apply", "plan.json", "--api-base", other.url)
    _one_line_refusal(refused, f"the plan was made for {sandbox.url}, but this run targets {other.url} (--api-base)")
    # Nor does the environment move it: the key goes only where this run points, and that is elsewhere.
    env_elsewhere = subprocess.run([sys.executable, "-m", "reconciler", "apply", "plan.json"], cwd=ws.root,
                                   env={**ws.env(), "OPENAI_BASE_URL": other.url}, capture_output=True, text=True,
                                   timeout=120)
    _one_line_refusal(env_elsewhere, "ftctl sends your API key only to the target you choose: apply it with "
                                     f"--api-base {sandbox.url}")
    assert ws.jobs(other) == ws.jobs(sandbox) == other.listing("files") == sandbox.listing("files") == []


def test_a_plan_is_stale_when_an_uploaded_file_changed(ws: Workspace, sandbox: SandboxProcess) -> None:
    assert ws.ftctl("apply", "--auto-approve").returncode == 0
    sandbox.advance(12)
    ws.write(epochs=5)
    _saved(ws)  # a replace that reuses the uploaded file
    data = ws.root / "manifests" / "data" / "train.jsonl"
    data.write_bytes(data.read_bytes() + data.read_bytes().splitlines(keepends=True)[0])
    refused = ws.ftctl("apply", "plan.json")
    _one_line_refusal(refused, "stale plan: manifests/data/train.jsonl (used by bot) changed since the plan was made")
    assert len(ws.jobs()) == 1  # nothing was cancelled or created
    assert ws.jobs()[0]["status"] == "running"


def test_a_plan_is_stale_when_a_job_it_relied_on_changed(ws: Workspace, sandbox: SandboxProcess) -> None:
    assert ws.ftctl("apply", "--auto-approve").returncode == 0
    sandbox.advance(12)
    ws.write(epochs=5)
    _saved(ws)
    (job,) = ws.jobs()  # someone else cancels it after the plan was made
    httpx.post(f"{sandbox.url}/fine_tuning/jobs/{job['id']}/cancel", headers={"Authorization": "Bearer x"})
    refused = ws.ftctl("apply", "plan.json")
    _one_line_refusal(refused, f"stale plan: job {job['id']} (bot) is now cancelled (was in progress)")
    assert len(ws.jobs()) == 1


@pytest.mark.parametrize(("damage", "fragment"), [
    ("edit", "plan.json: refused: its checksum does not match its content (edited by hand, or damaged)"),
    ("truncate", "plan.json: not an ftctl plan file (not JSON: truncated, or another kind of file)"),
    ("foreign", "plan.json: not an ftctl plan file (no format_version)"),
    ("binary", "plan.json: not an ftctl plan file (not JSON: truncated, or another kind of file)"),
])
def test_an_edited_truncated_or_foreign_file_is_refused_in_one_line(ws: Workspace, damage: str,
                                                                     fragment: str) -> None:
    _saved(ws)
    path = ws.root / "plan.json"
    text = path.read_text()
    if damage == "edit":  # the reviewed plan said 3 epochs; someone makes it 50
        data = json.loads(text)
        create = next(a for a in data["actions"] if a["action"] == "create")
        create["after"]["method"]["hyperparameters"]["n_epochs"] = 50
        path.write_text(json.dumps(data, indent=2))
    elif damage == "truncate":
        path.write_text(text[: len(text) // 2])
    elif damage == "foreign":
        path.write_text(json.dumps({"name": "bot", "model": "gpt-4o-mini"}))
    else:
        path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    refused = ws.ftctl("apply", "plan.json")
    _one_line_refusal(refused, fragment)
    assert ws.jobs() == [] and ws.sandbox.listing("files") == []


def test_a_plan_applies_from_a_subdirectory(ws: Workspace) -> None:
    (ws.root / "manifests" / "deep" / "er").mkdir(parents=True)
    _saved(ws)
    applied = ws.ftctl("apply", "../../../plan.json", cwd=ws.root / "manifests" / "deep" / "er")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "↑ upload   manifests/data/train.jsonl" in applied.stdout  # paths relative to the project root
    assert len(ws.jobs()) == 1 and len(ws.sandbox.listing("files")) == 1


def test_a_saved_plan_is_applied_alone(ws: Workspace) -> None:
    _saved(ws)
    mixed = ws.ftctl("apply", "plan.json", "manifests")
    assert mixed.returncode == 1 and "plan.json is a saved plan: apply it alone" in mixed.stderr
    flags = ws.ftctl("apply", "plan.json", "--prune")
    assert flags.returncode == 1
    assert "--prune belongs to plan (--out PLANFILE); a saved plan is applied as it was reviewed" in flags.stderr
    stack = ws.ftctl("apply", "plan.json", "--stack", "other")
    assert stack.returncode == 1 and "the plan is for stack 'default', not 'other'" in stack.stderr
    assert ws.jobs() == []


def test_retargeting_a_symlinked_data_file_makes_a_plan_stale(ws: Workspace) -> None:
    data = ws.root / "manifests" / "data"
    (data / "alt.jsonl").write_bytes((data / "train.jsonl").read_bytes() * 2)
    (data / "link.jsonl").symlink_to("train.jsonl")
    manifest = ws.root / "manifests" / "bot.yaml"
    manifest.write_text(manifest.read_text().replace("data/train.jsonl", "data/link.jsonl"))
    _saved(ws)
    (data / "link.jsonl").unlink()
    (data / "link.jsonl").symlink_to("alt.jsonl")
    refused = ws.ftctl("apply", "plan.json")
    _one_line_refusal(refused, "stale plan: manifests/data/link.jsonl (used by bot) changed since the plan was made")
    assert ws.jobs() == []


def test_over_budget_apply_is_refused_before_any_write_unless_the_reviewed_plan_allows_it(
        ws: Workspace, sandbox: SandboxProcess) -> None:
    (ws.root / "ftctl.yaml").write_text("limits:\n  max_cost_usd: 0.0001\n")
    before = sandbox.stats()
    refused = ws.ftctl("apply", "--auto-approve")
    assert refused.returncode == 1
    assert "Budget $0.0001 (limits.max_cost_usd): over; apply refuses this plan without --allow-over-budget." \
           in refused.stdout
    assert refused.stderr.strip().splitlines()[-1].startswith(
        "Error: refused, nothing was changed: its new training (≈$")
    after = sandbox.stats()
    assert [r for r in after if r.startswith("POST") and after[r] != before.get(r, 0)] == []  # nothing sent
    saved = ws.ftctl("plan", "--out", "p.json", "--allow-over-budget")
    assert saved.returncode == 0 and "(limits.max_cost_usd): over; allowed by this run." in saved.stdout
    flagged = ws.ftctl("apply", "p.json", "--allow-over-budget")
    assert flagged.returncode == 1 and "a saved plan is applied as it was reviewed" in flagged.stderr
    applied = ws.ftctl("apply", "p.json")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert len(ws.jobs()) == 1


def test_a_plan_applies_from_outside_any_project_in_the_project_it_lies_in(ws: Workspace,
                                                                          tmp_path_factory: pytest.TempPathFactory,
                                                                          ) -> None:
    _saved(ws)
    outside = tmp_path_factory.mktemp("outside")  # no ftctl.yaml, no .git above it
    applied = ws.ftctl("apply", str(ws.root / "plan.json"), cwd=outside)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert len(ws.jobs()) == 1 and len(ws.sandbox.listing("files")) == 1
