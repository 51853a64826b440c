"""``make bench``: every benchmark, or the ones named. Exit 1 when a goal is not met.

The figures go to ``bench/results.json``; the tables of docs/performance.md and the README are then
written from it (``bench.report``). A run given arguments of its own (``--sizes 100``...) prints its
figures and publishes nothing.

Usage: python -m bench [planner] [plan] [sandbox] [apply] [datasets] [evaluation] [pipeline] [startup]
                      [ARGS for a single one]
"""

from __future__ import annotations

import sys

from bench import apply, datasets, evaluation, pipeline, plan, planner, report, results, sandbox, startup

BENCHMARKS = {"planner": planner.main, "plan": plan.main, "sandbox": sandbox.main, "apply": apply.main,
              "datasets": datasets.main, "evaluation": evaluation.main, "pipeline": pipeline.main,
              "startup": startup.main}


def main() -> int:
    names = [a for a in sys.argv[1:] if a in BENCHMARKS] or list(BENCHMARKS)
    rest = [a for a in sys.argv[1:] if a not in BENCHMARKS]
    if rest and len(names) != 1:
        print(f"arguments ({' '.join(rest)}) go with one benchmark: python -m bench NAME {' '.join(rest)}",
              file=sys.stderr)
        return 2
    results.publish = not rest
    failed = []
    for name in names:
        print(f"== {name}", flush=True)
        if BENCHMARKS[name](rest) != 0:
            failed.append(name)
        print(flush=True)
    if results.publish:
        report.write()
        print("wrote the figures into bench/results.json, docs/performance.md and README.md")
    else:
        print("arguments of its own: figures printed, not written into bench/results.json or the docs")
    if failed:
        print(f"goals not met: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
