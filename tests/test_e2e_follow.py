"""After a merge: following jobs as they train (``apply --wait``, ``wait``), their events (``logs``),
what they produced (``outputs``) and their errors (``status``), through the real CLI against a
sandbox on a manual clock. Time passes for the jobs only when the test advances it.

Job ``good`` trains on a local file; job ``bad`` names a file ID whose data the sandbox finds
invalid, so it fails after validation, as a real job would.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from reliability.sandbox import SandboxProcess
from tests.workspace import KEY, Project, run_while_time_passes

pytestmark = pytest.mark.e2e
BAD_LINE = b'{"messages": [{"role": "user", "content": "no answer"}]}\n'


def _project(tmp_path: Path, server: SandboxProcess) -> Project:
    p = Project(tmp_path / "p", server)
    p.write("good")
    bad = httpx.post(f"{server.url}/files", headers={"Authorization": f"Bearer {KEY}"},
                     data={"purpose": "fine-tune"}, files={"file": ("bad.jsonl", BAD_LINE * 12)}).json()
    p.write("bad")
    text = (p.root / "m" / "bad.yaml").read_text().replace("data/train.jsonl", bad["id"])
    (p.root / "m" / "bad.yaml").write_text(text)
    return p


def test_apply_wait_follows_each_job_to_its_end_and_fails_when_one_fails(tmp_path: Path,
                                                                        server: SandboxProcess) -> None:
    p = _project(tmp_path, server)
    done = run_while_time_passes(server, ["apply", "m", "--auto-approve", "--wait", "--poll-interval", "0.1s",
                                           "--api-base", server.url], p.root, step=20)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "Apply finished: 3 done, 0 already done, 0 deferred, 0 failed." in out
    # the time left of the 1h default once the apply is done: 1h, or a second or so less on a busy machine
    assert re.search(r"^Waiting for 2 jobs \(timeout (1h|59m\d+s)\):$", out, re.M), out
    # off a terminal: one plain line per change of status or step, with the step, loss and ETA
    assert re.search(r"^good ftjob-\w+: running, step \d+/36, train loss \d\.\d{4}, ETA \d+[smh]$", out, re.M), out
    lines = [line for line in out.splitlines() if line.startswith("good ftjob-")]
    assert len(lines) == len(set(lines)) >= 2  # one per change, never a repeat
    assert re.search(r"^  ✓ good ftjob-\w+ succeeded: ft:gpt-4\.1-mini-2025-04-14:sandbox:s-good:\w+$", out, re.M)
    assert re.search(r"^  ✗ bad ftjob-\w+ failed: The job failed due to an invalid training file\. .+", out, re.M)
    assert out.rstrip().endswith("1 of 2 failed or cancelled.")

    status = p.ftctl("status")
    assert re.search(r"^bad +ftjob-\w+ +failed +- +\d+[smhd] +The job failed due to an invalid training file",
                     status.stdout, re.M), status.stdout


def test_wait_times_out_and_names_what_did_not_finish(tmp_path: Path, server: SandboxProcess) -> None:
    p = Project(tmp_path / "p", server)
    p.write("good")
    assert p.ftctl("apply", "--auto-approve").returncode == 0
    late = p.ftctl("wait", "--timeout", "1s", "--poll-interval", "0.2s", paths=False)
    assert late.returncode == 1
    assert re.search(r"^  … good ftjob-\w+ is still validating_files$", late.stdout, re.M), late.stdout
    assert "Timed out after 1s: good not finished." in late.stdout
    unknown = p.ftctl("wait", "nope", paths=False)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "Error: no job named 'nope' in stack 'default' (`ftctl status` lists them)"

    server.advance(100_000)
    finished = p.ftctl("wait", paths=False)
    assert finished.returncode == 0
    assert finished.stdout.strip() == 'Nothing to wait for: no job of stack "default" is unfinished.'
    named = p.ftctl("wait", "good", paths=False)
    assert named.returncode == 0 and "All finished." in named.stdout


def test_logs_and_outputs_show_what_a_deploy_step_needs(tmp_path: Path, server: SandboxProcess) -> None:
    p = Project(tmp_path / "p", server)
    p.write("good", epochs=10)
    assert p.ftctl("apply", "--auto-approve").returncode == 0
    server.advance(100_000)

    def ftctl(*args: str) -> subprocess.CompletedProcess[str]:  # arguments that are names
        return p.ftctl(*args, paths=False)

    logs = ftctl("logs", "good")
    assert logs.returncode == 0
    lines = logs.stdout.splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  info   Created fine-tuning job: ftjob-\w+", lines[0])
    assert lines[-1].endswith("info   The job has successfully completed")
    steps = [int(m.group(1)) for m in (re.search(r"Step (\d+)/120: .*\[train_loss=\d\.\d{4} ", x) for x in lines)
             if m]
    assert steps == sorted(steps) and steps[-1] == 120  # oldest first, every metrics event with its numbers

    data = json.loads(ftctl("outputs", "-o", "json").stdout)
    good = data["outputs"]["good"]
    assert data["stack"] == "default" and good["status"] == "succeeded"
    assert good["fine_tuned_model"].startswith("ft:gpt-4.1-mini-2025-04-14:sandbox:s-good:")
    assert good["trained_tokens"] > 0 and good["error"] is None
    assert [c["step"] for c in good["checkpoints"]] == [96, 108, 120]
    assert good["checkpoints"][-1]["model"] == good["fine_tuned_model"] + ":ckpt-step-120"
    assert set(good["checkpoints"][0]["metrics"]) >= {"train_loss", "valid_loss"}

    table = ftctl("outputs").stdout
    assert re.search(rf"^good +{good['job_id']} +succeeded +gpt-4\.1-mini-2025-04-14 +"
                     rf"{re.escape(good['fine_tuned_model'])} +"
                     rf"{good['trained_tokens']:,}$", table, re.M), table
    assert re.search(r"^  120 +\S+:ckpt-step-120 +train_loss=\d\.\d{4} valid_loss=\d\.\d{4}", table, re.M), table

    followed = ftctl("logs", "good", "--follow")
    assert followed.returncode == 0 and followed.stdout == logs.stdout
    assert re.fullmatch(r"good: ftjob-\w+ ended succeeded\n", followed.stderr)
