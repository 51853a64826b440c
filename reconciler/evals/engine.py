"""The grader engine's entry point, placeholder until the engine lands: only string_check is scored
here (its templates ``{{sample.output_text}}``, ``{{sample.output_json.*}}`` and ``{{item.*}}``
filled in); any other grader gives a score of 0 with the error "not supported yet". The real engine
(every grader type, as OpenAI's graders guide defines them) replaces this module with the same
``grade`` signature; nothing else of it may be relied on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from reconciler.evals.model import Models, Sample, Score
from reconciler.manifests.graders import AnyGrader, StringCheckGrader

TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def grade(grader: AnyGrader, item: dict[str, Any], sample: Sample, models: Models, *, manifest_dir: Path) -> Score:
    """The score of ``sample`` for ``item`` by ``grader``; never raises (a failure is the score's error)."""
    if not isinstance(grader, StringCheckGrader):
        return Score(0.0, error="not supported yet")
    left, right = fill(grader.input, item, sample), fill(grader.reference, item, sample)
    match grader.operation:
        case "eq":
            passed = left == right
        case "ne":
            passed = left != right
        case "like":
            passed = right in left
        case _:
            passed = right.lower() in left.lower()
    return Score(1.0 if passed else 0.0)


def fill(template: str, item: dict[str, Any], sample: Sample) -> str:
    """``template`` with each ``{{…}}`` replaced by what it names (a missing value: empty)."""
    roots: dict[str, Any] = {"item": item, "sample": {"output_text": sample.output_text,
                                                      "output_json": sample.output_json}}

    def value(match: re.Match[str]) -> str:
        found: Any = roots
        for part in match.group(1).split("."):
            if isinstance(found, dict) and part in found:
                found = found[part]
            elif isinstance(found, list) and part.isdigit() and int(part) < len(found):
                found = found[int(part)]
            else:
                return ""
        return found if isinstance(found, str) else json.dumps(found)

    return TEMPLATE.sub(value, template)
