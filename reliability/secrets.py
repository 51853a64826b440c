"""Secrets: a canary key must appear in no output, log line, plan file or exception text of any
command, at any log level.

Each log level gets a fresh sandbox and project, and four rounds:

- failing: every request fails, each in one of every way (a 500, a 429, the connection dropped
  before or after the write) — every command;
- quoting: every answer is a 401 that quotes the key whole — every command, and ``sandbox serve``;
- working: a fifth of the requests fail in the first round's ways while a scenario takes the key as
  far as it goes: a plan saved, then applied (uploads, creates), apply again, status, wait, logs,
  outputs, import of a live job, a changed manifest applied (its job replaced: a cancel) and one
  removed and pruned;
- quoting writes: every write is answered by the quoting 401 while one apply uploads a new file,
  creates a new job and cancels a pruned one, so that the quoted key reaches each error path;
- masked: every answer is OpenAI's own 401, which quotes the key masked, its first 12 characters
  shown (``PREFIX``) — every command: the prefix must not reach anything either;
- grader: a python grader (``ftctl grade``) looks for the key where a grader might — its
  environment, ``/proc/self/environ``, its parent's (ftctl's, which holds the key) — and echoes what
  it finds, masked as its first 12 characters; finding none, it echoes a support ticket of the eval
  data that quotes the masked key (planted in the samples, outside the project).

After each round every file under the level's folder (the project, ``$HOME``, the databases) is
searched for the key and for its prefix. What each level reached is counted — requests per route,
jobs created and cancelled, a plan file written, quoting answers to an upload, a create and a cancel,
the quoted key shown redacted, masked quotes and graders that looked — and must be non-zero at every
level: a level that stopped at its first request proves nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from reliability.harness import make_project
from reliability.sandbox import ALL_FAULTS, SandboxProcess

CANARY = "sk-canary-7Hq2Zx9Lw4Rt8Np1"
PREFIX = CANARY[:12]
"""What a masked quote of the key shows of it (``sk-canary-7H``)."""
HUNTER = f"""import os
def grade(sample, item):
    found = [name for name, value in os.environ.items() if "sk-" in value]
    for path in ("/proc/self/environ", f"/proc/{{os.getppid()}}/environ"):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        at = data.find(b"{CANARY[:3]}")
        if at >= 0:
            found.append(path + ": " + data[at:at + 12].decode() + "...")
    if found:
        raise ValueError("found the key: " + ", ".join(found))
    raise ValueError("found no key; the ticket quotes " + item["ticket"])
"""
"""A grader looking for the key in every place a grader could read it, and echoing it masked."""
TICKET = f"my key {PREFIX}... stopped working"
FAILING = [
    ["validate"], ["schema"], ["plan"], ["plan", "--out", "plan.json"], ["plan", "-o", "json"],
    ["plan", "-o", "markdown"], ["apply", "--auto-approve"], ["apply", "plan.json"], ["status"],
    ["status", "-o", "json"], ["wait", "--timeout", "3s", "--poll-interval", "1s"], ["logs", "job-00"],
    ["outputs", "-o", "json"], ["import", "ftjob-abc123"], ["plan", "--api-base", "http://127.0.0.1:9/v1"],
]
LEVELS = ("debug", "info", "warning", "error")
ROUTES = {"upload": "POST /v1/files", "create": "POST /v1/fine_tuning/jobs",
          "cancel": "POST /v1/fine_tuning/jobs/{job_id}/cancel"}
QUOTED = "Incorrect API key provided: [REDACTED]"
MUST_REACH = (*ROUTES.values(), "jobs created", "jobs cancelled", "plan files written",
              *(f"quoting answer to a {what}" for what in ROUTES), "outputs showing the quoted key redacted",
              "the refused writes' apply showing it redacted", "masked quoting answers",
              "outputs showing the masked key redacted", "graders that looked and found no key",
              "graders' echo of the masked key shown redacted")


class _Level:
    """ftctl run in a project with the canary key at one log level; every output kept."""

    def __init__(self, folder: Path, server: SandboxProcess, level: str) -> None:
        self.folder, self.root, self.server = folder, folder / "project", server
        (folder / "home").mkdir()
        self.env = server.env(CANARY, AZURE_OPENAI_API_KEY=CANARY, FTCTL_LOG=level, HOME=str(folder / "home"))
        self.outputs: list[tuple[str, str]] = []
        self.leaks: set[str] = set()
        self.reached: Counter[str] = Counter()

    def ftctl(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=self.root, env=self.env,
                              capture_output=True, text=True, timeout=300)
        self.outputs.append((f"ftctl {' '.join(args)} at {self.env['FTCTL_LOG']}", done.stdout + done.stderr))
        return done.stdout

    def serve(self) -> None:
        """``ftctl sandbox serve`` too: started, its first line read, stopped."""
        proc = subprocess.Popen([sys.executable, "-m", "reconciler", "sandbox", "serve", "--port", "0", "--db",
                                 str(self.folder / "served.db")], cwd=self.root, env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        first = proc.stdout.readline()
        proc.terminate()
        rest, _ = proc.communicate(timeout=30)
        self.outputs.append((f"ftctl sandbox serve at {self.env['FTCTL_LOG']}", first + rest))

    def search(self) -> None:
        """Every file written so far (but the samples the grader round plants the prefix in), before the
        next round may replace it."""
        self.leaks |= {f"file {p.relative_to(self.folder)}" for p in self.folder.rglob("*")
                       if p.is_file() and p.name != "samples.jsonl"
                       and _shows_key(p.read_bytes().decode(errors="replace"))}
        (self.root / "plan.json").unlink(missing_ok=True)


def _shows_key(text: str) -> bool:
    return CANARY in text or PREFIX in text


def _grader(run: _Level) -> None:
    """``ftctl grade`` of the hunting grader (offline) on one sample whose item quotes the masked key."""
    doc = yaml.safe_load((run.root / "manifests" / "job-00.yaml").read_text())
    grader = {"type": "python", "name": "hunter", "source": HUNTER}
    (run.root / "hunter.yaml").write_text(yaml.safe_dump({
        "name": "hunter", "model": "gpt-4o-mini", "training_file": f"manifests/{doc['training_file']}",
        "eval": {"file": f"manifests/{doc['training_file']}", "baseline": "none", "grader": grader}}, sort_keys=False))
    (run.folder / "samples.jsonl").write_text(json.dumps({"item": {"ticket": TICKET}, "output_text": "a"}) + "\n")
    out = run.ftctl("grade", "hunter", "hunter.yaml", "--samples", str(run.folder / "samples.jsonl"))
    run.reached["graders that looked and found no key"] += "found no key" in out
    run.reached["graders' echo of the masked key shown redacted"] += "the ticket quotes my key [REDACTED]..." in out
    (run.root / "hunter.yaml").unlink()


def _working(run: _Level) -> None:
    manifests = run.root / "manifests"
    run.ftctl("plan", "--out", "plan.json")
    run.ftctl("apply", "plan.json")
    for args in (["apply", "--auto-approve"], ["status"], ["status", "-o", "json"],
                 ["wait", "--timeout", "3s", "--poll-interval", "1s"], ["logs", "job-00"]):
        run.ftctl(*args)
    try:
        found = json.loads(run.ftctl("outputs", "-o", "json"))["outputs"]
        job = next(o["job_id"] for o in found.values() if o.get("job_id"))
    except (ValueError, StopIteration, TypeError, KeyError):  # the outputs failed under the faults
        job = "ftjob-abc123"
    run.ftctl("import", job)
    _edit(manifests / "job-01.yaml", seed=4242)
    run.ftctl("apply", "--auto-approve")
    (manifests / "job-02.yaml").unlink()
    run.ftctl("plan", "--prune", "-o", "markdown")
    run.ftctl("apply", "--auto-approve", "--prune")


def _quoting_writes(run: _Level) -> None:
    """One apply that uploads (new data), creates (a new manifest on data already uploaded) and cancels
    (a pruned job)."""
    manifests = run.root / "manifests"
    doc = yaml.safe_load((manifests / "job-00.yaml").read_text())
    new_data = manifests / "data" / "secrets-new.jsonl"
    shutil.copyfile(manifests / doc["training_file"], new_data)
    with new_data.open("a") as f:
        f.write((manifests / doc["training_file"]).read_text().splitlines()[0] + "\n")
    _edit(manifests / "job-00.yaml", training_file="data/secrets-new.jsonl")
    shutil.copyfile(manifests / "job-03.yaml", manifests / "job-09.yaml")  # its data is uploaded already
    _edit(manifests / "job-09.yaml", name="job-09", suffix="r09")
    (manifests / "job-04.yaml").unlink()
    run.ftctl("apply", "--auto-approve", "--prune")


def _edit(manifest: Path, **fields: Any) -> None:
    doc = yaml.safe_load(manifest.read_text())
    doc.update(fields)
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))


def one_level(level: str, folder: Path, commands: list[list[str]], seed: int) -> _Level:
    make_project(folder / "project", 6)
    with SandboxProcess(folder / "sandbox.db", "--speed", "0.01") as server:  # jobs stay cancellable throughout
        run = _Level(folder, server, level)
        for kinds in (ALL_FAULTS, ["echo_key"], ["echo_masked_key"]):
            server.faults(1.0, seed, 5, kinds)
            for args in commands:
                run.ftctl(*args)
            run.search()
        masked = server.admin("GET", "stats")["faults"]
        run.reached["masked quoting answers"] = sum(n for what, n in masked.items() if what.startswith("echo_masked"))
        run.reached["outputs showing the masked key redacted"] = sum(1 for _, out in run.outputs
                                                                     if f"{QUOTED}*" in out)
        _grader(run)
        run.search()
        run.serve()
        server.faults(0.2, seed, 5)
        _working(run)
        run.reached["plan files written"] = int((run.root / "plan.json").exists())
        run.search()
        stats = server.admin("GET", "stats")
        run.reached.update({route: n for route, n in stats["requests"].items() if route in ROUTES.values()})
        server.faults(0)
        jobs = server.listing("fine_tuning/jobs")
        run.reached.update({"jobs created": len(jobs),
                            "jobs cancelled": sum(1 for j in jobs if j["status"] == "cancelled")})
        server.faults(1.0, seed, 5, ["echo_key"], methods=["POST"])
        _quoting_writes(run)
        run.search()
        quoted = server.admin("GET", "stats")["faults"]
        run.reached.update({f"quoting answer to a {what}": quoted.get(f"echo_key {route}", 0)
                            for what, route in ROUTES.items()})
        run.reached["outputs showing the quoted key redacted"] = sum(1 for _, out in run.outputs if QUOTED in out)
        run.reached["the refused writes' apply showing it redacted"] = int(QUOTED in run.outputs[-1][1])
    return run


def run(commands: list[list[str]] | None = None, levels: tuple[str, ...] = LEVELS) -> dict[str, Any]:
    commands = commands or FAILING
    leaks: list[str] = []
    reached: dict[str, dict[str, int]] = {}
    runs = 0
    with tempfile.TemporaryDirectory(prefix="ftctl-secrets-") as tmp:
        for seed, level in enumerate(levels, start=1):
            done = one_level(level, Path(tmp) / level, commands, seed)
            runs += len(done.outputs)
            reached[level] = {what: done.reached[what] for what in MUST_REACH}
            leaks += [what for what, out in done.outputs if _shows_key(out)] + [f"{level}: {f}" for f in done.leaks]
    missed = [f"{level}: {what}" for level, got in reached.items() for what, n in got.items() if not n]
    least = {what: min(got[what] for got in reached.values()) for what in MUST_REACH}
    print(f"  {runs} runs at {len(levels)} log levels: {len(leaks)} leaks{': ' + ', '.join(leaks) if leaks else ''}; "
          f"reached at every level at least {least}{'; NOT reached: ' + ', '.join(missed) if missed else ''}",
          flush=True)
    return {"runs": runs, "levels": list(levels), "commands": [" ".join(c) for c in commands],
            "leaks": leaks, "reached": reached, "reached_at_least": least, "not_reached": missed}
