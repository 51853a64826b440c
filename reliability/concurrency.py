"""Concurrent applies: 2 and 4 applies of the same manifests started together, against a sandbox
that honours ``Idempotency-Key`` and against one that ignores it (as an API without the header
would). Counted: duplicate jobs created, runs that failed, and the state when the runs end — the
runs must agree which job to keep (the newest, cancelling the others): one current job per manifest,
no duplicate still active, none cancelled that was the only one of its name, no job whose file is
gone, no upload strictly newer than the oldest of its bytes (with keys honoured no second copy of a
file made at all), so that one more apply has nothing to change (the jobs it starts or cancels are
counted too).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from reliability.harness import audit, ftctl, make_project, managed_jobs
from reliability.sandbox import SandboxProcess


def one_case(runs: int, idempotency: bool, manifests: int, latency_ms: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ftctl-concurrent-") as tmp:
        root = Path(tmp) / "project"
        names = make_project(root, manifests)
        with SandboxProcess(Path(tmp) / "sandbox.db", *([] if idempotency else ["--no-idempotency"])) as server:
            server.admin("PUT", "faults", {"rate": 0, "latency_ms": latency_ms})
            env = server.env()
            procs = [subprocess.Popen([sys.executable, "-m", "reconciler", "apply", "--auto-approve"], cwd=root,
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                     for _ in range(runs)]
            codes = [p.wait(timeout=600) for p in procs]
            together = audit(server, names, idempotency)
            kept = _current(server, names)
            server.admin("PUT", "faults", {"rate": 0})
            ftctl(root, server, "apply", "--auto-approve")
            after = audit(server, names, idempotency)
            return {"runs": runs, "idempotency_keys": idempotency, "exit_codes": codes,
                    "failed_runs": sum(1 for c in codes if c != 0),
                    "jobs_missing_a_file_when_runs_ended": together.jobs_missing_a_file,
                    "duplicates_created": together.duplicates_created,
                    "duplicates_active_when_runs_ended": together.extra_active,
                    "when_runs_ended": vars(together), "agreed": together.agreed,
                    "jobs_changed_by_one_more_apply": len(kept ^ _current(server, names)),
                    "after_one_more_apply": vars(after), "converged": after.agreed}  # duplicates: counted above


def _current(server: SandboxProcess, names: list[str]) -> set[str]:
    """The ids of the manifests' jobs that are not cancelled."""
    return {j["id"] for j in managed_jobs(server, names) if j["status"] != "cancelled"}


def run(manifests: int = 20, latency_ms: int = 20) -> dict[str, Any]:
    cases = []
    for idempotency in (True, False):
        for runs in (2, 4):
            case = one_case(runs, idempotency, manifests, latency_ms)
            cases.append(case)
            print(f"  {runs} applies, idempotency keys {'honoured' if idempotency else 'ignored'}: "
                  f"{case['duplicates_created']} duplicates created, {case['duplicates_active_when_runs_ended']} "
                  f"active when the runs ended, {'agreed' if case['agreed'] else 'DID NOT AGREE'} "
                  f"{case['when_runs_ended']}; one more apply changed {case['jobs_changed_by_one_more_apply']} jobs, "
                  f"then "
                  f"{'converged' if case['converged'] else 'NOT converged'} {case['after_one_more_apply']}",
                  flush=True)
    return {"manifests": manifests, "latency_ms": latency_ms, "cases": cases,
            "all_converged": all(c["converged"] for c in cases)}
