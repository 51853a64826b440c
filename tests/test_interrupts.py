"""Ctrl-C in the middle of a long command: each step's result is shown as it happens, and an interrupt
says what was done, what was in flight and what never started — and that jobs keep running."""

from __future__ import annotations

import _thread
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.api.models import LiveJob
from reconciler.apply.applier import Applier, ApplyInterrupted, StepResult
from reconciler.clock import NO_WAIT, Clock
from reconciler.plan.planner import plan
from reconciler.session.follow import follow
from reliability.sandbox import SandboxProcess
from tests.builders import make_desired, no_files
from tests.fakes import FakeApi
from tests.workspace import SECRET, Workspace


class InterruptedAtB(FakeApi):
    """Ctrl-C arrives while b's create is in flight; b's request never returns until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob:
        if body["metadata"]["ftctl-name"] == "b":
            _thread.interrupt_main()
            self.release.wait(10)
        return super().create_job(body, idempotency_key)


def test_an_interrupted_apply_accounts_for_every_step() -> None:
    api = InterruptedAtB()
    told: list[StepResult] = []
    made = plan([make_desired(n) for n in "abc"], [], no_files, "default")
    try:
        with pytest.raises(ApplyInterrupted) as stop:
            Applier(api, api, Path("/nonexistent"), parallelism=1, clock=NO_WAIT).apply(made, told.append)
    finally:
        api.release.set()
    assert [(r.name, r.outcome) for r in stop.value.done] == [("a", "done")]
    assert [(a.name, a.action) for a in stop.value.in_flight] == [("b", "create")]
    assert [(a.name, a.action) for a in stop.value.not_started] == [("c", "create")]
    assert told == stop.value.done and stop.value.untold == []  # a was shown as soon as it ended


def test_results_are_told_in_plan_order_as_soon_as_the_steps_before_them_ended() -> None:
    api = FakeApi()
    told: list[str] = []
    made = plan([make_desired(n) for n in "abcd"], [], no_files, "default")
    results = Applier(api, api, Path("/nonexistent"), parallelism=4, clock=NO_WAIT).apply(
        made, lambda r: told.append(r.name))
    assert told == ["a", "b", "c", "d"] == [r.name for r in results]


def test_following_jobs_ends_on_ctrl_c_with_what_is_known() -> None:
    api = FakeApi()
    job = api.add_job(status="running")

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    outcome = follow(api, {job: "bot"}, lambda p: None, 60, clock=Clock(sleep=interrupted))
    assert outcome.interrupted and not outcome.ok
    assert [(p.name, p.status) for p in outcome.jobs] == [("bot", "running")]


@pytest.mark.e2e
def test_ctrl_c_during_apply_reports_and_a_later_apply_finishes(ws: Workspace, sandbox: SandboxProcess) -> None:
    for name in ("bot2", "bot3"):
        text = (ws.root / "manifests" / "bot.yaml").read_text().replace("name: bot", f"name: {name}")
        (ws.root / "manifests" / f"{name}.yaml").write_text(text)
    sandbox.admin("PUT", "faults", {"rate": 0, "kinds": ["500"], "latency_ms": 400})
    env = {**ws.env(), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "--auto-approve", "--parallelism", "1"],
                            cwd=ws.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:  # the upload's result is shown as soon as it is done, before the creates
        seen.append(line)
        if line.lstrip().startswith("✓ upload"):
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=60)
    sandbox.admin("PUT", "faults", {"rate": 0, "kinds": ["500"], "latency_ms": 0})
    assert proc.returncode == 130, err
    assert "Interrupted: 1 done" in err and "not started" in err
    assert "Jobs already created keep running (and billing) on the service." in err
    assert "Aborted." not in err and "Traceback" not in err and SECRET not in out + err
    again = ws.ftctl("apply", "--auto-approve")
    assert again.returncode == 0, again.stderr
    names = sorted(str(j["metadata"]["ftctl-name"]) for j in _jobs(sandbox))  # type: ignore[index]
    assert names == ["bot", "bot2", "bot3"]  # each once: nothing doubled by the interrupted run


def _jobs(sandbox: SandboxProcess) -> list[dict[str, object]]:
    import httpx

    return list(httpx.get(f"{sandbox.url}/fine_tuning/jobs", headers={"Authorization": "Bearer x"}).json()["data"])



@pytest.mark.e2e
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_read_only_command_interrupted_exits_130_and_says_so(ws: Workspace, sandbox: SandboxProcess,
                                                               stop: signal.Signals) -> None:
    sandbox.admin("PUT", "faults", {"rate": 0, "kinds": ["500"], "latency_ms": 5000})
    before = sandbox.admin("GET", "stats")["total"]
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "plan"], cwd=ws.root, env=ws.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while sandbox.admin("GET", "stats")["total"] == before:  # the plan's first read is in flight
            assert proc.poll() is None, proc.communicate()
        proc.send_signal(stop)  # a CI runner cancelling a job sends SIGINT, then SIGTERM
        _, err = proc.communicate(timeout=60)
    finally:
        sandbox.admin("PUT", "faults", {"rate": 0, "kinds": ["500"], "latency_ms": 0})
    assert proc.returncode == 130, err
    assert err.strip().endswith("Interrupted.") and "Aborted." not in err and "Traceback" not in err


@pytest.mark.e2e
def test_ctrl_c_during_wait_says_the_jobs_keep_running(ws: Workspace, sandbox: SandboxProcess) -> None:
    assert ws.ftctl("apply", "--auto-approve").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "wait", "--poll-interval", "0.2s"], cwd=ws.root,
                            env={**ws.env(), "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    waiting = False
    for line in proc.stdout:  # the first line of progress: the job is being followed
        if waiting and "bot" in line:
            break
        waiting = waiting or line.startswith("Waiting for 1 job")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Interrupted: stopped following bot; they keep running on the service" in out, (out, err)
    assert "Traceback" not in err and "Aborted." not in err
