"""Training prices from a dated table kept as data (``reconciler/data/prices.json``).

Users override it with ``--prices FILE`` or ``FTCTL_PRICES`` (resolved by the CLI's settings): same
shape, their own numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from reconciler import catalog


@dataclass(frozen=True)
class Prices:
    as_of: str
    currency: str
    per_million: dict[str, float]
    per_hour: dict[str, float]
    origin: str

    def training_cost(self, model: str, trained_tokens: int) -> float | None:
        snapshot = _base(model)
        if snapshot in self.per_million:
            return trained_tokens / 1_000_000 * self.per_million[snapshot]
        return None

    def hourly(self, model: str) -> float | None:
        return self.per_hour.get(_base(model))


def _base(model: str) -> str:
    model = catalog.resolve_model(model)
    return catalog.resolve_model(model.split(":")[1]) if model.startswith("ft:") else model


def load_prices(path: Path | None = None) -> Prices:
    if path is not None:
        text, origin = path.read_text(encoding="utf-8"), str(path)
    else:
        text = resources.files("reconciler").joinpath("data/prices.json").read_text(encoding="utf-8")
        origin = "built-in table"
    data: dict[str, Any] = json.loads(text)
    return Prices(str(data.get("as_of", "unknown date")), str(data.get("currency", "USD")),
                  {k: float(v) for k, v in data.get("training_per_million_tokens", {}).items()},
                  {k: float(v) for k, v in data.get("training_per_hour", {}).items()}, origin)
