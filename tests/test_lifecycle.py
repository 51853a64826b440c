"""The lifecycle table: cases as data (tests/cases/lifecycle.json) around each boundary, with overrides
and for each provider; the shipped table's own shape; and the refusals of validate and plan."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from reconciler import lifecycle

CASES = json.loads((Path(__file__).parent / "cases" / "lifecycle.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["what"] for c in CASES])
def test_lifecycle_case(case: dict[str, Any]) -> None:
    table = lifecycle.merged(lifecycle.builtin(), lifecycle.Table.model_validate(case.get("config", {})))
    today = date.fromisoformat(case["today"])
    found = lifecycle.training(table, case["provider"], case["model"], today)
    assert len(found) == len(case["training"]), [v.text(today) for v in found]
    for verdict, (level, text) in zip(found, case["training"], strict=True):
        assert (verdict.level, verdict.text(today)[:len(text)]) == (level, text)
    if "serving" in case:
        model, level, text = case["serving"]
        served = lifecycle.serving(table, case["provider"], model, today)
        assert (served.level, served.text(today)[:len(text)]) == (level, text) if served else (level is None)


def test_every_entry_of_the_shipped_table_names_its_source_and_when_it_was_checked() -> None:
    table = lifecycle.builtin()
    entries = [d for p in table.providers.values() for d in (p.fine_tuning_ends,) if d] + [
        d for p in table.providers.values() for m in p.models.values() for d in (m.training_ends, m.serving_ends) if d]
    assert len(entries) >= 20
    assert all(d.source.startswith("https://") and d.checked is not None for d in entries)
    assert table.providers["openai"].fine_tuning_ends is not None
    assert table.providers["openai"].fine_tuning_ends.date == date(2027, 1, 6)
