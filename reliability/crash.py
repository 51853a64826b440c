"""Crashes: ``apply`` killed with SIGKILL at a random moment, then applied again.

Per trial: a fresh server and project; ``apply`` started with latency on every request (so that a
kill lands between the steps of a write); once its first write (a POST: an upload, a create) has
reached the API, SIGKILL after a random delay up to what the rest of a whole apply takes (measured
first, on this machine, by one apply left alone: start-up and the reads before the first write are
left out of the delay, since a kill there has nothing to lose); then ``apply`` again. After it: one
current job per manifest, nothing duplicated, nothing wrongly cancelled, no file uploaded twice.
The writes the API saw before each kill are counted. Trials go on until the asked number were killed
mid-apply — alive, and after its first write (a kill before it, or after the apply ended, shows
nothing and is not counted) — at most twice as many.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from reliability.harness import audit, ftctl, make_project
from reliability.sandbox import SandboxProcess


def _writes(server: SandboxProcess) -> int:
    """The writes (POST requests) the API has seen."""
    return sum(n for route, n in server.admin("GET", "stats")["requests"].items() if route.startswith("POST"))


def undisturbed(manifests: int, latency_ms: int) -> tuple[float, float]:
    """Seconds of a whole apply of the project, from the process's start to its exit, and from its
    start to its first write (start-up: imports, reading and checking the manifests; then the plan's
    reads)."""
    with tempfile.TemporaryDirectory(prefix="ftctl-crash-") as tmp:
        root = Path(tmp) / "project"
        make_project(root, manifests)
        with SandboxProcess(Path(tmp) / "sandbox.db") as server:
            server.admin("PUT", "faults", {"rate": 0, "latency_ms": latency_ms})
            began = time.perf_counter()
            run = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "--auto-approve"], cwd=root,
                                   env=server.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            first = None
            while first is None and run.poll() is None:
                if _writes(server):
                    first = time.perf_counter() - began
                else:
                    time.sleep(0.01)
            out, _ = run.communicate(timeout=600)
            if run.returncode != 0 or first is None:
                raise RuntimeError(f"the undisturbed apply failed: {out[-800:]}")
            return time.perf_counter() - began, first


def one_trial(trial: int, manifests: int, latency_ms: int, window: tuple[float, float]) -> dict[str, Any]:
    rng = random.Random(trial)
    with tempfile.TemporaryDirectory(prefix="ftctl-crash-") as tmp:
        root = Path(tmp) / "project"
        names = make_project(root, manifests)
        with SandboxProcess(Path(tmp) / "sandbox.db") as server:
            server.admin("PUT", "faults", {"rate": 0, "latency_ms": latency_ms})
            env = server.env()
            run = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "--auto-approve"], cwd=root,
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while run.poll() is None and not _writes(server):
                time.sleep(0.01)  # start-up, then the plan's reads: nothing to lose yet
            delay = rng.uniform(*window)
            time.sleep(delay)
            alive = run.poll() is None
            if alive:
                os.kill(run.pid, signal.SIGKILL)
            run.wait()
            seen = server.admin("GET", "stats")["requests"]  # the API's requests, not the admin's
            writes = sum(n for route, n in seen.items() if route.startswith("POST"))
            killed = alive and writes > 0  # before any write: nothing to lose, not a kill mid-apply
            before = audit(server, names)
            server.admin("PUT", "faults", {"rate": 0})
            again = ftctl(root, server, "apply", "--auto-approve")
            after = audit(server, names)
            return {"trial": trial, "killed_after_s": round(delay, 2), "killed": killed, "alive": alive,
                    "writes_before_kill": writes,
                    "jobs_before_rerun": manifests - before.missing, "rerun_exit": again.returncode,
                    "converged": after.converged and after.duplicates_created == 0, "last": vars(after)}


def run(trials: int = 20, manifests: int = 20, latency_ms: int = 50) -> dict[str, Any]:
    whole, first = undisturbed(manifests, latency_ms)
    window = (0.0, max(0.1, (whole - first) * 0.95))
    print(f"  an apply left alone takes {whole:.2f} s, its first write at {first:.2f} s: kills land up to "
          f"{window[1]:.2f} s after a run's first write", flush=True)
    results: list[dict[str, Any]] = []
    trial = 0
    while sum(1 for r in results if r["killed"]) < trials and trial < 2 * trials:
        trial += 1
        result = one_trial(trial, manifests, latency_ms, window)
        results.append(result)
        when = "at" if result["killed"] else "before its first write (not counted), at" if result["alive"] else \
            "after it ended (not counted),"
        print(f"  trial {trial:>2}: killed {when} {result['killed_after_s']} s past its first write, after "
              f"{result['writes_before_kill']} writes, with {result['jobs_before_rerun']} jobs made; rerun → "
              f"{'converged' if result['converged'] else 'NOT converged'} {result['last']}", flush=True)
    killed = [r for r in results if r["killed"]]
    return {"trials": len(killed), "asked": trials, "manifests": manifests, "latency_ms": latency_ms,
            "undisturbed_apply_s": round(whole, 2), "first_write_s": round(first, 2),
            "killed_mid_apply": len(killed), "writes_before_kills": [r["writes_before_kill"] for r in killed],
            "converged_after_rerun": sum(1 for r in killed if r["converged"]),
            "duplicates_created": sum(r["last"]["duplicates_created"] for r in results), "runs": results}
