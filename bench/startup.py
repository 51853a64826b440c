"""Start-up: ``ftctl --version`` and ``--help`` under 100 ms, ``validate`` of one manifest under 300 ms
(median of 9 runs of the installed console script, each of which must succeed). Heavy modules
(structlog, the manifest models, the HTTP client) are imported by the commands that need them,
never at start-up.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench import results

REPO = Path(__file__).resolve().parent.parent
GOALS = {"--version": 100, "--help": 100, "validate one manifest": 300}


def _median_ms(args: list[str], runs: int = 9) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=False)
        if done.returncode:  # a command that fails is not timed
            raise SystemExit(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ftctl = shutil.which("ftctl", path=str(Path(sys.executable).parent)) or "ftctl"
    cases = {"--version": [ftctl, "--version"], "--help": [ftctl, "--help"],
             "validate one manifest": [ftctl, "validate", "manifests/support-bot.yaml"]}
    figures = {name: round(_median_ms(args)) for name, args in cases.items()}
    baseline = round(_median_ms([sys.executable, "-c", "pass"]))
    met = True
    for name, ms in figures.items():
        ok = ms < GOALS[name]
        met &= ok
        print(f"  {name:<22} {ms:>5} ms (goal < {GOALS[name]} ms) {'met' if ok else 'NOT MET'}")
    print(f"  {'python -c pass':<22} {baseline:>5} ms (the interpreter alone)")
    results.store("startup", {"median_ms": figures, "interpreter_ms": baseline, "goals_ms": GOALS, "met": met})
    return 0 if met else 1
