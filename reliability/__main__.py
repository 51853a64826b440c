"""``make reliability``: chaos over fault seeds, crashes, concurrent applies; exit 1 when a guarantee
does not hold. The figures are written to ``bench/results.json`` (key ``reliability``), with the
machine they ran on, for docs/reliability.md.

Usage: python -m reliability [chaos] [crash] [concurrency] [--quick]
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from reliability import chaos, concurrency, crash

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results.json"


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "system": f"{platform.system()} {platform.machine()}",
            "cpus": os.cpu_count(), "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def verdicts(results: dict[str, Any]) -> list[str]:
    """Each guarantee that did not hold, in words."""
    broken = []
    if "chaos" in results:
        c = results["chaos"]
        if c["unsafe"] or c["not_converged_once_faults_stop"] or c["duplicates_created"]:
            broken.append(f"chaos: {c['unsafe']} seeds unsafe, {c['not_converged_once_faults_stop']} not converged "
                          f"once the faults stopped, {c['duplicates_created']} duplicate jobs")
    if "crash" in results:
        c = results["crash"]
        if c["converged_after_rerun"] != c["trials"] or c["duplicates_created"]:
            broken.append(f"crash: {c['trials'] - c['converged_after_rerun']} trials not converged after a rerun, "
                          f"{c['duplicates_created']} duplicate jobs")
    if "concurrency" in results:
        for case in results["concurrency"]["cases"]:
            after = case["after_one_more_apply"]
            keyed_duplicates = case["idempotency_keys"] and case["duplicates_created"]
            if after["extra_active"] or after["missing"] or after["wrongly_cancelled"] or \
                    case["duplicates_active_when_runs_ended"] or keyed_duplicates:
                broken.append(f"concurrency: {case['runs']} applies, keys "
                              f"{'honoured' if case['idempotency_keys'] else 'ignored'}: {case}")
    return broken


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    chosen = [a for a in argv if a in ("chaos", "crash", "concurrency")] or ["chaos", "crash", "concurrency"]
    results: dict[str, Any] = {"machine": machine()}
    if "chaos" in chosen:
        print("== chaos: 30% faults of every kind, 20 ms latency", flush=True)
        results["chaos"] = chaos.run(seeds=3 if quick else 20, manifests=6 if quick else 20)
    if "crash" in chosen:
        print("== crash: SIGKILL at a random moment, then apply again", flush=True)
        results["crash"] = crash.run(trials=3 if quick else 20, manifests=6 if quick else 20)
    if "concurrency" in chosen:
        print("== concurrency: applies started together", flush=True)
        results["concurrency"] = concurrency.run(manifests=6 if quick else 20)
    broken = verdicts(results)
    if not quick:
        stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        stored["reliability"] = results
        RESULTS.write_text(json.dumps(stored, indent=2) + "\n")
        print(f"\nwrote {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")
    for line in broken:
        print(f"NOT HELD: {line}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
