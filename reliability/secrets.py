"""Secrets: every command run with a canary key against an API that fails in every way (each request
a 500, a 429, a connection dropped before or after the write, with latency), at every log level.
The canary must appear in no output, no log line, no plan file and no exception text.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from reliability.harness import Server, make_project

CANARY = "sk-canary-7Hq2Zx9Lw4Rt8Np1"
COMMANDS = [
    ["validate"], ["plan"], ["plan", "--out", "plan.json"], ["plan", "-o", "json"], ["plan", "-o", "markdown"],
    ["apply", "--auto-approve"], ["apply", "plan.json"], ["status"], ["status", "-o", "json"],
    ["wait", "--timeout", "3s", "--poll-interval", "1s"], ["logs", "job-00"], ["outputs", "-o", "json"],
    ["import", "ftjob-abc123"], ["plan", "--api-base", "http://127.0.0.1:9/v1"],
]


def run(commands: list[list[str]] | None = None, levels: tuple[str, ...] = ("debug", "info", "warning"),
        ) -> dict[str, Any]:
    commands = commands or COMMANDS
    leaks: list[str] = []
    runs = 0
    with tempfile.TemporaryDirectory(prefix="ftctl-secrets-") as tmp:
        root = Path(tmp) / "project"
        make_project(root, 3)
        server = Server(Path(tmp) / "sandbox.db")
        try:
            server.faults(1.0, 7, 20)
            for level in levels:
                env = server.env(CANARY, AZURE_OPENAI_API_KEY=CANARY, FTCTL_LOG=level)
                for args in commands:
                    done = subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=root, env=env,
                                          capture_output=True, text=True, timeout=300)
                    runs += 1
                    if CANARY in done.stdout + done.stderr:
                        leaks.append(f"ftctl {' '.join(args)} at {level}")
            written = [p for p in root.rglob("*") if p.is_file() and CANARY.encode() in p.read_bytes()]
            leaks += [f"file {p.relative_to(root)}" for p in written]
        finally:
            server.stop()
    print(f"  {runs} runs of {len(commands)} commands at {len(levels)} log levels, every request failing: "
          f"{len(leaks)} leaks{': ' + ', '.join(leaks) if leaks else ''}", flush=True)
    return {"runs": runs, "commands": [" ".join(c) for c in commands], "leaks": leaks}
