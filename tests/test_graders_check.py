"""Grader checks on input at the edges: nothing Python can run is refused, nothing crashes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.manifests.graders_check import _formula, _python
from reconciler.manifests.item_reads import item_reads

READS: dict[str, dict[str, Any]] = {
    k: v for k, v in json.loads((Path(__file__).parent / "cases" / "graders" / "item-reads.json").read_text()).items()
    if not k.startswith("_")}


def _python_problems(code: str) -> list[str]:
    return [p.message for p in _python(code, ("method", "grader", "source"))]


@pytest.mark.parametrize("code", [
    "def grade(sample, item):\n    return " + "1+" * 1500 + "1\n",  # deep, but Python runs it
    "def grade(sample, item):\n" + "".join(f"    if item == {i}: return {i}\n" for i in range(1000)),
    "\ufeffdef grade(sample, item):\r\n    return 1.0\r\n",  # saved by a Windows editor
    "grade = lambda sample, item: 1.0\n",
    "def grade(*args):\n    return 1.0\n",
    "def grade(sample, item, scale=2):\n    return 1.0 * scale\n",
])
def test_code_python_runs_is_accepted(code: str) -> None:
    assert _python_problems(code) == []


def test_code_too_deep_to_compile_is_a_problem_not_a_crash() -> None:
    problems = _python_problems("def grade(sample, item):\n    return " + "(" * 300 + "1" + ")" * 300 + "\n")
    assert len(problems) == 1 and problems[0].startswith("the python grader's code does not compile")


@pytest.mark.parametrize(("formula", "fragment"), [
    ("a" + " + 1" * 400, None),  # long, allowed
    ("-" * 1900 + "a", None),  # odd, but a formula
    ("a + " + "-" * 20_000 + "1", "the formula is 20,005 characters long; at most 2,000"),
    ("(" * 600 + "a" + ")" * 600, "not a valid formula"),
    ("a ^ 2 + max(a, 1, 2) * log(a) - abs(-a) / sqrt(a)", None),
    ("a if a else 1", "if … else not allowed in a formula"),
    ("a.b", "attributes (a.b) not allowed in a formula"),
])
def test_formulas_at_the_edges(formula: str, fragment: str | None) -> None:
    problems = [p.message for p in _formula(formula, {"a"}, ("calculate_output",))]
    if fragment is None:
        assert problems == []
    else:
        assert len(problems) == 1 and fragment in problems[0], problems


@pytest.mark.parametrize("case", sorted(READS))
def test_the_item_fields_a_python_grader_reads_with_literal_keys(case: str) -> None:
    """cases/graders/item-reads.json: field → [line of its first read, the read as shown]."""
    got = {field: [read.line, read.text] for field, read in item_reads(READS[case]["code"]).items()}
    assert got == READS[case]["reads"]
