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

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from reliability.harness import (
    audit,
    first_write_after,
    ftctl,
    kill_after_first_write,
    kill_trials,
    make_project,
)
from reliability.sandbox import SandboxProcess


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
            first = first_write_after(run, server, began)
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
            delay = rng.uniform(*window)
            alive, made = kill_after_first_write(run, server, delay)
            killed = alive and made > 0  # before any write: nothing to lose, not a kill mid-apply
            before = audit(server, names)
            server.admin("PUT", "faults", {"rate": 0})
            again = ftctl(root, server, "apply", "--auto-approve")
            after = audit(server, names)
            return {"trial": trial, "killed_after_s": round(delay, 2), "killed": killed, "alive": alive,
                    "writes_before_kill": made,
                    "jobs_before_rerun": manifests - before.missing, "rerun_exit": again.returncode,
                    "converged": after.converged and after.duplicates_created == 0, "last": vars(after)}


def run(trials: int = 20, manifests: int = 20, latency_ms: int = 50) -> dict[str, Any]:
    whole, first = undisturbed(manifests, latency_ms)
    window = (0.0, max(0.1, (whole - first) * 0.95))
    print(f"  an apply left alone takes {whole:.2f} s, its first write at {first:.2f} s: kills land up to "
          f"{window[1]:.2f} s after a run's first write", flush=True)
    results = kill_trials(trials, lambda trial: one_trial(trial, manifests, latency_ms, window), lambda r: (
        f"with {r['jobs_before_rerun']} jobs made; rerun → {'converged' if r['converged'] else 'NOT converged'} "
        f"{r['last']}"))
    killed = [r for r in results if r["killed"]]
    return {"trials": len(killed), "asked": trials, "manifests": manifests, "latency_ms": latency_ms,
            "undisturbed_apply_s": round(whole, 2), "first_write_s": round(first, 2),
            "killed_mid_apply": len(killed), "writes_before_kills": [r["writes_before_kill"] for r in killed],
            "converged_after_rerun": sum(1 for r in killed if r["converged"]),
            "duplicates_created": sum(r["last"]["duplicates_created"] for r in results), "runs": results}
