"""``bench/results.json``: each benchmark's last figures under its own key, with the machine and the
time of the run that produced them; ``docs/performance.md`` and the README's table are written
from it (``bench.report``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reliability.harness import machine

RESULTS = Path(__file__).resolve().parent / "results.json"


def load() -> dict[str, Any]:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def store(key: str, figures: dict[str, Any]) -> None:
    """Replace ``key``'s figures, stamped with this machine and time; the other keys are kept."""
    stored = load()
    stored[key] = {**figures, "machine": machine()}
    RESULTS.write_text(json.dumps(stored, indent=2) + "\n")
