"""Chaos: apply N manifests while the sandbox fails 30% of requests in every way it can (500, 429,
the connection dropped before the write, dropped after it), with latency, under many fault seeds.

Per seed: a fresh server and project; ``apply`` under faults; faults off, audit; if not converged,
a second ``apply`` under other faults and another audit; if still not, the faults stop and one more
``apply`` must converge. What must hold after every apply (``Audit.safe``): no extra active job, no
job wrongly cancelled, no file uploaded twice (left or made at all), no duplicate job created. What is counted: how many
seeds converged (one current job per manifest) after one apply under faults, and after two. It runs
against a sandbox that honours ``Idempotency-Key`` and against one that ignores it (OpenAI documents
none): the guarantees are the same, kept then by looking jobs up by their tags and files up by their
name before each retry.

With ``lag_s``, the job list also lags behind creates by that many seconds (a new job is seen by ID
at once, listed only later), as an eventually consistent list may: a look-up by tags right after a
create whose answer was lost finds nothing, so a create retried blindly would be made twice; ftctl
defers such a create to the next plan instead. The next apply starts once the lag has passed, as
applies minutes apart do (a list lagging by more than the time between two applies cannot be told
from a job that was never made, without keys).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from reliability.harness import Audit, audit, ftctl, make_project
from reliability.sandbox import SandboxProcess


def one_seed(seed: int, manifests: int, rate: float, latency_ms: int, keys: bool = True, lag_s: float = 0,
             ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ftctl-chaos-") as tmp:
        root = Path(tmp) / "project"
        names = make_project(root, manifests)
        with SandboxProcess(Path(tmp) / "sandbox.db", *([] if keys else ["--no-idempotency"])) as server:
            applies: list[Audit] = []
            started = time.monotonic()
            for _ in range(2):
                server.faults(rate, seed + 1000 * len(applies), latency_ms, list_lag_s=lag_s)
                ftctl(root, server, "apply", "--auto-approve", "--parallelism", "4")
                server.faults(0)
                time.sleep(lag_s)  # the next apply starts once the lag has passed
                applies.append(audit(server, names, keys))
                if applies[-1].converged:
                    break
            converged = applies[-1].converged
            if not converged:  # the faults stop: one more apply must finish the job
                ftctl(root, server, "apply", "--auto-approve", "--parallelism", "4")
                applies.append(audit(server, names, keys))
            return {"seed": seed, "applies": len(applies), "converged": converged,
                    "converged_once_faults_stop": applies[-1].converged, "safe": all(a.safe for a in applies),
                    "seconds": round(time.monotonic() - started, 1), "last": vars(applies[-1])}


def run(seeds: int = 20, manifests: int = 20, rate: float = 0.3, latency_ms: int = 20, keys: bool = True,
        lag_s: float = 0) -> dict[str, Any]:
    results = []
    for seed in range(1, seeds + 1):
        result = one_seed(seed, manifests, rate, latency_ms, keys, lag_s)
        results.append(result)
        after = "" if result["converged"] else (
            ", then converged once they stopped" if result["converged_once_faults_stop"] else
            ", then NOT converged once they stopped")
        print(f"  seed {seed:>2}: {'converged' if result['converged'] else 'not converged'} after "
              f"{min(result['applies'], 2)} apply(s) under faults{after}, "
              f"{'safe' if result['safe'] else 'UNSAFE'}, {result['seconds']} s {result['last']}", flush=True)
    return {
        "seeds": seeds, "manifests": manifests, "fault_rate": rate, "latency_ms": latency_ms, "idempotency_keys": keys,
        "list_lag_s": lag_s,
        "converged_in_one": sum(1 for r in results if r["converged"] and r["applies"] == 1),
        "converged_in_two": sum(1 for r in results if r["converged"] and r["applies"] == 2),
        "not_converged_in_two": sum(1 for r in results if not r["converged"]),
        "not_converged_once_faults_stop": sum(1 for r in results if not r["converged_once_faults_stop"]),
        "unsafe": sum(1 for r in results if not r["safe"]),
        "duplicates_created": sum(r["last"]["duplicates_created"] for r in results),
        "duplicate_uploads_left": sum(r["last"]["duplicate_uploads"] for r in results),
        "duplicate_uploads_made": sum(r["last"]["duplicate_uploads_made"] for r in results),
        "runs": results,
    }
