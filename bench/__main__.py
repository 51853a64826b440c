"""``make bench``: every benchmark, or the ones named. Exit 1 when a goal is not met.

Usage: python -m bench [planner] [datasets] [startup] [apply] [-- ARGS for a single benchmark]
"""

from __future__ import annotations

import sys

from bench import apply, datasets, planner, startup

DEFAULT = ["planner", "datasets", "startup"]
"""What ``make bench`` runs; ``apply`` (issue 12, its goal not met yet) runs when named."""
BENCHMARKS = {"planner": planner.main, "datasets": datasets.main, "startup": startup.main,
              "apply": apply.main}


def main() -> int:
    names = [a for a in sys.argv[1:] if a in BENCHMARKS] or DEFAULT
    rest = [a for a in sys.argv[1:] if a not in BENCHMARKS]
    failed = []
    for name in names:
        print(f"== {name}", flush=True)
        if BENCHMARKS[name](rest if len(names) == 1 else []) != 0:
            failed.append(name)
        print(flush=True)
    if failed:
        print(f"goals not met: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
