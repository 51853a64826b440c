"""Secrets: a canary key must appear in no output, log line, plan file or exception text of any
command, at any log level.

Each log level gets a fresh sandbox and project, and three rounds:

- failing: every request fails, each in one of every way (a 500, a 429, the connection dropped
  before or after the write) — every command;
- quoting: every answer is a 401 that quotes the key whole — every command;
- working: a fifth of the requests fail in all those ways while a scenario takes the key as far as it
  goes: a plan saved, then applied (uploads, creates), apply again, status, wait, logs, outputs,
  import of a live job, a changed manifest applied (its job replaced: a cancel) and one removed and
  pruned.

What the rounds reached is counted — requests per route, jobs created and cancelled, plan files
written, answers that quoted the key and ``[REDACTED]`` shown in its place — so that a run that never
got past its first request cannot pass for proof: each must be reached at least once.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from reliability.harness import ALL_FAULTS, Server, make_project

CANARY = "sk-canary-7Hq2Zx9Lw4Rt8Np1"
KINDS = [*ALL_FAULTS, "echo_key"]
FAILING = [
    ["validate"], ["schema"], ["plan"], ["plan", "--out", "plan.json"], ["plan", "-o", "json"],
    ["plan", "-o", "markdown"], ["apply", "--auto-approve"], ["apply", "plan.json"], ["status"],
    ["status", "-o", "json"], ["wait", "--timeout", "3s", "--poll-interval", "1s"], ["logs", "job-00"],
    ["outputs", "-o", "json"], ["import", "ftjob-abc123"], ["plan", "--api-base", "http://127.0.0.1:9/v1"],
]
LEVELS = ("debug", "info", "warning", "error")
MUST_REACH = ("POST /v1/files", "POST /v1/fine_tuning/jobs", "POST /v1/fine_tuning/jobs/{job_id}/cancel",
              "jobs created", "jobs cancelled", "plan files written", "answers quoting the key",
              "outputs showing [REDACTED]")


class _Round:
    """Runs ftctl in ``root`` with the canary key at one log level; keeps every output."""

    def __init__(self, root: Path, server: Server, level: str, home: Path) -> None:
        self.root, self.server = root, server
        self.env = server.env(CANARY, AZURE_OPENAI_API_KEY=CANARY, FTCTL_LOG=level, HOME=str(home))
        self.outputs: list[tuple[str, str]] = []

    def ftctl(self, *args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=self.root, env=self.env,
                              capture_output=True, text=True, timeout=300)
        self.outputs.append((f"ftctl {' '.join(args)} at {self.env['FTCTL_LOG']}", done.stdout + done.stderr))

    def serve(self, db: Path) -> None:
        """``ftctl sandbox serve`` too: started, its first line read, stopped."""
        proc = subprocess.Popen([sys.executable, "-m", "reconciler", "sandbox", "serve", "--port", "0", "--db",
                                 str(db)], cwd=self.root, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        first = proc.stdout.readline()
        proc.terminate()
        rest, _ = proc.communicate(timeout=30)
        self.outputs.append((f"ftctl sandbox serve at {self.env['FTCTL_LOG']}", first + rest))


def _working(run: _Round, server: Server) -> None:
    manifests = run.root / "manifests"
    run.ftctl("plan", "--out", "plan.json")
    run.ftctl("apply", "plan.json")
    for args in (["apply", "--auto-approve"], ["status"], ["status", "-o", "json"],
                 ["wait", "--timeout", "3s", "--poll-interval", "1s"], ["logs", "job-00"], ["outputs", "-o", "json"]):
        run.ftctl(*args)
    run.ftctl("import", *[j["id"] for j in _jobs(server)][:1] or ["ftjob-abc123"])
    changed = yaml.safe_load((manifests / "job-01.yaml").read_text())
    changed["seed"] = 4242
    (manifests / "job-01.yaml").write_text(yaml.safe_dump(changed, sort_keys=False))
    run.ftctl("apply", "--auto-approve")
    (manifests / "job-02.yaml").unlink()
    run.ftctl("plan", "--prune", "-o", "markdown")
    run.ftctl("apply", "--auto-approve", "--prune")


def _jobs(server: Server) -> list[dict[str, Any]]:
    """The sandbox's jobs, read with its faults off for the moment."""
    faults = server.admin("GET", "faults")
    server.admin("PUT", "faults", {"rate": 0})
    try:
        return server.listing("fine_tuning/jobs")
    finally:
        server.admin("PUT", "faults", faults)


def one_level(level: str, tmp: Path, commands: list[list[str]], seed: int) -> tuple[list[tuple[str, str]],
                                                                                      Counter[str], list[Path]]:
    """Both rounds at ``level``: every output, what was reached, and the folders whose files to search."""
    root, home = tmp / level / "project", tmp / level / "home"
    make_project(root, 3)
    home.mkdir()
    server = Server(tmp / level / "sandbox.db")
    reached: Counter[str] = Counter()
    try:
        run = _Round(root, server, level, home)
        for kinds in (ALL_FAULTS, ["echo_key"]):
            server.admin("PUT", "faults", {"rate": 1.0, "kinds": kinds, "seed": seed, "latency_ms": 5,
                                           "retry_after": 0.05})
            for args in commands:
                run.ftctl(*args)
        run.serve(tmp / level / "served.db")
        (root / "plan.json").unlink(missing_ok=True)
        server.admin("PUT", "faults", {"rate": 0.2, "kinds": KINDS, "seed": seed, "latency_ms": 5,
                                       "retry_after": 0.05})
        _working(run, server)
        reached["plan files written"] += (root / "plan.json").exists()
        stats = server.admin("GET", "stats")
        reached.update({route: n for route, n in stats["requests"].items() if route in MUST_REACH})
        reached["answers quoting the key"] += stats["faults"].get("echo_key", 0)
        jobs = _jobs(server)
        reached["jobs created"] += len(jobs)
        reached["jobs cancelled"] += sum(1 for j in jobs if j["status"] == "cancelled")
        reached["outputs showing [REDACTED]"] += sum(1 for _, out in run.outputs if "[REDACTED]" in out)
    finally:
        server.stop()
    return run.outputs, reached, [root, home]


def run(commands: list[list[str]] | None = None, levels: tuple[str, ...] = LEVELS) -> dict[str, Any]:
    commands = commands or FAILING
    leaks: list[str] = []
    reached: Counter[str] = Counter()
    runs = 0
    with tempfile.TemporaryDirectory(prefix="ftctl-secrets-") as tmp:
        for seed, level in enumerate(levels, start=1):
            outputs, got, folders = one_level(level, Path(tmp), commands, seed)
            runs += len(outputs)
            reached.update(got)
            leaks += [what for what, out in outputs if CANARY in out]
            leaks += [f"file {p}" for folder in folders for p in folder.rglob("*")
                      if p.is_file() and CANARY.encode() in p.read_bytes()]
    missed = [what for what in MUST_REACH if not reached[what]]
    print(f"  {runs} runs at {len(levels)} log levels ({len(commands) + 1} commands with every request failing, "
          f"then every answer quoting the key, then a scenario with a fifth failing): {len(leaks)} leaks"
          f"{': ' + ', '.join(leaks) if leaks else ''}; "
          f"reached {dict(reached)}{'; NOT reached: ' + ', '.join(missed) if missed else ''}", flush=True)
    return {"runs": runs, "levels": list(levels), "commands": [" ".join(c) for c in commands] + ["sandbox serve"],
            "leaks": leaks, "reached": dict(reached), "not_reached": missed}
