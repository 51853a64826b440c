"""What every reliability run needs: a project of N manifests across the three methods, ftctl run as
a user runs it against a sandbox server in its own process (``reliability/sandbox.py``), and an
audit of what ended up live.

The audit reads the sandbox with its faults switched off and counts what must never happen:
a manifest without exactly one current (not cancelled) job, an active job beyond that one, a
duplicate job created at all (unsafe in every audit, cancelled since or not), a job cancelled that
was the only one of its name, and a file uploaded twice (left, or made at all: the sandbox counts
the files it made, deleted ones too).
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reliability.sandbox import SandboxProcess

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = ("support-bot.yaml", "ranking.yaml", "triage.yaml")  # supervised, dpo, reinforcement


def make_project(root: Path, n: int) -> list[str]:
    """``root`` with ``.git`` and ``manifests/`` holding ``n`` jobs (names ``job-00``…), the three
    methods in turn, each with its own suffix; their data and graders are the repository's."""
    (root / ".git").mkdir(parents=True)
    shutil.copytree(REPO / "manifests" / "data", root / "manifests" / "data")
    shutil.copytree(REPO / "manifests" / "graders", root / "manifests" / "graders")
    names = []
    for i in range(n):
        doc = yaml.safe_load((REPO / "manifests" / TEMPLATES[i % 3]).read_text())
        doc.update(name=f"job-{i:02d}", suffix=f"r{i:02d}")
        (root / "manifests" / f"job-{i:02d}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        names.append(doc["name"])
    return names


def machine() -> dict[str, Any]:
    """What a figure was measured on, stored beside it."""
    return {"python": platform.python_version(), "system": f"{platform.system()} {platform.machine()}",
            "cpus": os.cpu_count(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def write_between(page: Path, start: str, end: str, text: str) -> None:
    """Replace what lies between the markers ``start`` and ``end`` of ``page`` with ``text``."""
    head, found, rest = page.read_text().partition(start)
    _, ended, tail = rest.partition(end)
    if not (found and ended):
        raise ValueError(f"{page}: the markers {start} … {end} are missing")
    page.write_text(f"{head}{start}\n{text}\n{end}{tail}")


def ftctl(root: Path, server: SandboxProcess, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=root, env=server.env(),
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class Audit:
    missing: int  # manifests without exactly one current job
    extra_active: int
    duplicates_created: int
    wrongly_cancelled: int
    duplicate_uploads: int  # copies of a file beyond the first, left now
    duplicate_uploads_made: int  # copies beyond the first made at all (the sandbox counts deleted ones too)
    newer_uploads: int  # copies strictly newer than the oldest of their bytes: an apply deletes its own
    jobs_missing_a_file: int  # jobs whose training or validation file is gone
    keys_honoured: bool = True  # without Idempotency-Key, copies uploaded in the same second are kept

    @property
    def agreed(self) -> bool:
        """One current job per manifest, nothing extra running, lost or wrongly cancelled: the state
        concurrent applies must leave, which may hold the duplicates they made and cancelled."""
        return self.missing == self.extra_active == self.wrongly_cancelled == self.newer_uploads \
            == self.jobs_missing_a_file == 0 \
            and (self.duplicate_uploads == self.duplicate_uploads_made == 0 or not self.keys_honoured)

    @property
    def safe(self) -> bool:
        """Nothing duplicated or lost (what must hold after any single apply, converged or not): a
        duplicate job created at all, even one cancelled since, is unsafe (it may have been paid for)."""
        return self.extra_active == self.wrongly_cancelled == self.newer_uploads == self.jobs_missing_a_file \
            == self.duplicates_created == 0 \
            and (self.duplicate_uploads == self.duplicate_uploads_made == 0 or not self.keys_honoured)

    @property
    def converged(self) -> bool:
        return self.safe and self.missing == 0


def managed_jobs(server: SandboxProcess, names: list[str]) -> list[dict[str, Any]]:
    """The jobs of these manifest names, cancelled ones too (the server's faults must be off)."""
    return [j for j in server.listing("fine_tuning/jobs") if (j.get("metadata") or {}).get("ftctl-name") in names]


def audit(server: SandboxProcess, names: list[str], keys_honoured: bool = True) -> Audit:
    """What is live now (the server's faults must be off)."""
    jobs = managed_jobs(server, names)
    by_name: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for job in jobs:
        by_name[job["metadata"]["ftctl-name"]].append(job)
    live = {n: [j for j in js if j["status"] != "cancelled"] for n, js in by_name.items()}
    ended = ("succeeded", "failed", "cancelled")
    active = {n: [j for j in js if j["status"] not in ended] for n, js in by_name.items()}
    every_file = server.listing("files")
    files = [f for f in every_file if f["filename"].startswith("ftctl-")]
    uploads = Counter(f["filename"] for f in files)
    oldest = {name: min(f["created_at"] for f in files if f["filename"] == name) for name in uploads}
    ids = {f["id"] for f in every_file}
    refs = [j.get(k) for j in jobs for k in ("training_file", "validation_file") if j.get(k)]
    made = server.admin("GET", "stats")["files_made"]  # per filename, deleted ones too
    return Audit(missing=sum(1 for js in live.values() if len(js) != 1),
                 extra_active=sum(max(0, len(js) - 1) for js in active.values()),
                 duplicates_created=sum(max(0, len(js) - 1) for js in by_name.values()),
                 wrongly_cancelled=sum(1 for n, js in by_name.items() if js and not live[n]),
                 duplicate_uploads=sum(c - 1 for c in uploads.values() if c > 1),
                 duplicate_uploads_made=sum(n - 1 for name, n in made.items() if name.startswith("ftctl-") and n > 1),
                 newer_uploads=sum(1 for f in files if f["created_at"] > oldest[f["filename"]]),
                 jobs_missing_a_file=sum(1 for ref in refs if ref not in ids), keys_honoured=keys_honoured)


def kill_trials(trials: int, one_trial: Callable[[int], dict[str, Any]], outcome: Callable[[dict[str, Any]], str],
                phase: Callable[[dict[str, Any]], str] = lambda result: "") -> list[dict[str, Any]]:
    """Trials (``one_trial(n)``) until ``trials`` of them were killed mid-apply — at most twice as
    many: a kill before the run's first write, or after it ended, shows nothing and is not counted.
    Each is printed as it ends: its ``phase``, when its kill landed, then its ``outcome``."""
    results: list[dict[str, Any]] = []
    while sum(1 for r in results if r["killed"]) < trials and len(results) < 2 * trials:
        result = one_trial(len(results) + 1)
        results.append(result)
        when = "at" if result["killed"] else "before its first write (not counted), at" if result["alive"] else \
            "after it ended (not counted),"
        print(f"  trial {len(results):>2}{phase(result)}: killed {when} {result['killed_after_s']} s past its first "
              f"write, after {result['writes_before_kill']} writes, {outcome(result)}", flush=True)
    return results


def writes(server: SandboxProcess) -> int:
    """The writes (POST requests) the API has seen."""
    return sum(n for route, n in server.admin("GET", "stats")["requests"].items() if route.startswith("POST"))


def kill_after_first_write(run: subprocess.Popen[Any], server: SandboxProcess, delay: float) -> tuple[bool, int]:
    """SIGKILL ``run`` ``delay`` seconds after the first write it makes (start-up and the plan's reads
    before it have nothing to lose); whether it was still alive then, and the writes it had made."""
    earlier = writes(server)
    while run.poll() is None and writes(server) == earlier:
        time.sleep(0.01)
    time.sleep(delay)
    alive = run.poll() is None
    if alive:
        os.kill(run.pid, signal.SIGKILL)
    run.wait()
    return alive, writes(server) - earlier


def first_write_after(run: subprocess.Popen[Any], server: SandboxProcess, began: float) -> float | None:
    """Seconds from ``began`` to the first write ``run`` makes; None when it ends without one."""
    while run.poll() is None:
        if writes(server):
            return time.perf_counter() - began
        time.sleep(0.01)
    return time.perf_counter() - began if writes(server) else None
