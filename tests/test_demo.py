"""``make demo`` (scripts/demo.sh) in a copy of the project: it runs in the project's own sandbox,
so that the user's next ``ftctl status --sandbox`` shows its jobs; it starts from an empty sandbox
every run, keeping what was there; it never pulls a sandbox from under a running ftctl; and it ends
with the next steps.

A copy, not this checkout: the demo empties ``.ftctl/sandbox.db``, which may be the developer's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reliability.sandbox import SandboxProcess
from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The project as a new user has it after ``make``'s install: scripts, manifests, a virtualenv."""
    for name in ("scripts", "manifests", "examples"):
        shutil.copytree(ROOT / name, tmp_path / name)
    (tmp_path / ".git").mkdir()
    (tmp_path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)  # the one running the tests
    return tmp_path


def run(project: Path, *command: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FTCTL_", "OPENAI_", "AZURE_"))}
    return subprocess.run(list(command), cwd=project, capture_output=True, text=True, timeout=300,
                          env={**env, "NO_COLOR": "1", "FTCTL_SANDBOX_SPEED": "16"})  # the demo's 4, faster


def test_the_demo_leaves_its_jobs_where_the_users_next_commands_look(project: Path) -> None:
    sandbox = project / ".ftctl" / "sandbox.db"
    sandbox.parent.mkdir()
    sandbox.write_bytes(b"the user's own sandbox")  # stands for a state of the user's
    (project / ".ftctl" / "demo-sandbox.db").write_bytes(b"left by an older demo")
    done = run(project, "bash", "scripts/demo.sh")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == ("The demo resets the sandbox state in .ftctl/sandbox.db; what was there is kept in "
                        ".ftctl/sandbox-before-demo/ (to get it back: mv .ftctl/sandbox-before-demo/* .ftctl/).")
    assert (project / ".ftctl" / "sandbox-before-demo" / "sandbox.db").read_bytes() == b"the user's own sandbox"
    assert not (project / ".ftctl" / "demo-sandbox.db").exists()
    assert "== ftctl validate manifests examples/manifests" in done.stdout
    assert 'ftctl plan for stack "default" on the embedded sandbox (.ftctl/sandbox.db)' in done.stdout
    assert lines[lines.index("== Next") + 5] == "  .venv/bin/ftctl wait --sandbox      # until every job has finished"
    assert "source .venv/bin/activate" in done.stdout
    created = sorted(line.split()[-1] for line in lines if "✓ create" in line)
    assert len(created) == 4  # three jobs, then the pipeline's second stage once its first one is done
    assert "  … create   support-bot-dpo: not created yet (waits for support-bot: it is trained anew in this plan); " \
           "a later apply creates it (apply --wait carries a pipeline through)" in lines
    # the first stage is evaluated against its base, passes its gate, and only then is the second trained
    evaluated = lines.index("  ✓ evaluate support-bot: gate passed: score 1.00 ≥ 0.60, gain 0.98 ≥ 0.20")
    assert evaluated < next(i for i, line in enumerate(lines) if line.startswith("  ✓ create   support-bot-dpo:"))
    assert "| name | model | baseline | score | Δ | gate |" in lines and "xychart-beta" in lines  # eval -o markdown
    graph = lines[lines.index("== ftctl graph --sandbox   # the pipeline's stages and their status") + 1:][:4]
    assert "support-bot: succeeded" in graph and "  └─ support-bot-dpo: succeeded" in graph
    status = run(project, ".venv/bin/ftctl", "status", "--sandbox", "-o", "json")
    assert status.returncode == 0, status.stderr
    assert sorted(job for job in created if job in status.stdout) == created  # the jobs the user sees next

    again = run(project, "bash", "scripts/demo.sh")  # from an empty sandbox again: the same plan
    assert again.returncode == 0, again.stderr
    assert "Plan: 4 to upload, 0 to cancel, 0 to replace, 4 to create" in again.stdout
    assert all(job not in again.stdout for job in created)


def test_the_demo_never_empties_a_sandbox_in_use(project: Path) -> None:
    db = project / ".ftctl" / "sandbox.db"
    server = SandboxProcess(db).start()  # a user's `ftctl sandbox serve` on the project's sandbox
    try:
        done = run(project, "bash", "scripts/demo.sh")
        assert done.returncode == 1
        assert done.stderr.strip() == ("make demo: .ftctl/sandbox.db is open in another ftctl process (a `ftctl "
                                       "sandbox serve`, a `wait`?); stop it, then run make demo again")
        assert done.stdout == "" and db.exists() and not (project / ".ftctl" / "sandbox-before-demo").exists()
        assert server.admin("GET", "info")["flavor"] == "openai"  # still serving
    finally:
        server.stop()
