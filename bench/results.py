"""``bench/results.json``: each benchmark's last figures under its own key, with the machine and the
time of the run that produced them; ``docs/performance.md`` and the README's table are written
from it (``bench.report``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reliability.harness import machine

RESULTS = Path(__file__).resolve().parent / "results.json"

# False for a run with arguments of its own (other sizes, another latency): its figures are printed,
# not published, so the docs only ever carry runs of the benchmarks as documented.
publish = True


def load() -> dict[str, Any]:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def store(key: str, figures: dict[str, Any]) -> None:
    """Replace ``key``'s figures, stamped with this machine and time; the other keys are kept."""
    if not publish:
        return
    stored = load()
    stored[key] = {**figures, "machine": machine()}
    RESULTS.write_text(json.dumps(stored, indent=2) + "\n")
