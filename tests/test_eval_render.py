"""Exact text of ftctl eval's reports: text, JSON (SPEC §11) and markdown (table, mermaid chart, worst items)."""

from __future__ import annotations

import json

from reconciler.api.completions import Usage
from reconciler.session.eval_render import as_json, render_json, render_markdown, render_text
from reconciler.session.eval_report import EvalReport, GateResult, Worst
from reconciler.session.evaluating import Skipped

SUPPORT = EvalReport(
    name="support", job_id="ftjob-1", model="ft:gpt-4o-mini:acme::abc",
    baseline="gpt-4o-mini", score=0.75, baseline_score=0.25, items=4, errors=0, baseline_errors=1,
    parts={"close": 0.5, "exact": 0.75}, baseline_parts={"close": 0.4, "exact": 0.25},
    gate=GateResult(passed=True, reason="score 0.75 ≥ 0.70, gain 0.50 ≥ 0.25", min_score=0.7, min_gain=0.25),
    worst=[Worst(line=4, prompt="Capital of Peru?", answer="Cusco | the old one", score=0.0),
           Worst(line=2, prompt="Capital of Italy?", answer="", score=0.0, error="completion failed: HTTP 500: busy")])
TRIAGE = EvalReport(
    name="triage", job_id="ftjob-2", model="ft:gpt-4.1-mini:acme::def", baseline=None, score=0.4,
    baseline_score=None, items=10, errors=2, gate=GateResult(passed=False, reason="score 0.40 < 0.60", min_score=0.6))
RANKING = Skipped("ranking", "its job ftjob-3 is running", gated=True)
OUTCOMES: list[EvalReport | Skipped] = [SUPPORT, TRIAGE, RANKING]

TEXT = """\
ftctl eval for stack "default"

support: ft:gpt-4o-mini:acme::abc (job ftjob-1) vs gpt-4o-mini
  score     0.75  (4 items, 0 errors)
  baseline  0.25  (4 items, 1 error)
  gain      +0.50
  close: 0.50 (baseline 0.40)
  exact: 0.75 (baseline 0.25)
  gate      passed: score 0.75 ≥ 0.70, gain 0.50 ≥ 0.25
  worst items:
    line 4  0.00  Capital of Peru?
      → Cusco | the old one
    line 2  0.00  Capital of Italy?
      → (completion failed: HTTP 500: busy)

triage: ft:gpt-4.1-mini:acme::def (job ftjob-2)
  score     0.40  (10 items, 2 errors)
  gate      FAILED: score 0.40 < 0.60

ranking: not evaluated: its job ftjob-3 is running (its gate is not passed)

2 evaluated, 1 not evaluated; gate not passed: triage, ranking.
"""

MARKDOWN = """\
### ftctl eval — stack `default`

| name | model | baseline | score | Δ | gate |
|---|---|---|---|---|---|
| support | `ft:gpt-4o-mini:acme::abc` | `gpt-4o-mini` 0.25 | 0.75 | +0.50 | ✅ score 0.75 ≥ 0.70, gain 0.50 ≥ 0.25 |
| triage | `ft:gpt-4.1-mini:acme::def` | — | 0.40 | — | ❌ score 0.40 &lt; 0.60 |
| ranking | | | | | ❌ not evaluated: its job ftjob-3 is running |

```mermaid
xychart-beta
    title "Mean score: trained model (first bar) and baseline"
    x-axis ["support", "triage"]
    y-axis "score" 0 --> 1
    bar [0.75, 0.40]
    bar [0.25, 0.00]
```

<details>
<summary>support: the 2 worst items</summary>

| line | score | prompt | answer |
|---|---|---|---|
| 4 | 0.00 | Capital of Peru? | Cusco \\| the old one |
| 2 | 0.00 | Capital of Italy? | completion failed: HTTP 500: busy |

</details>

**2 evaluated, 1 not evaluated; gate not passed: triage, ranking.**
"""


def test_text() -> None:
    assert render_text(OUTCOMES, "default") == TEXT


def test_markdown() -> None:
    assert render_markdown(OUTCOMES, "default") == MARKDOWN


def test_json_per_name() -> None:
    data = json.loads(render_json(OUTCOMES, "default"))
    assert data == as_json(OUTCOMES, "default")
    assert (data["version"], data["stack"], data["passed"]) == (1, "default", False)
    assert data["evaluations"]["support"] == {
        "job_id": "ftjob-1", "model": "ft:gpt-4o-mini:acme::abc",
        "baseline": "gpt-4o-mini", "score": 0.75, "baseline_score": 0.25, "items": 4, "errors": 0,
        "baseline_errors": 1, "parts": {"close": 0.5, "exact": 0.75}, "baseline_parts": {"close": 0.4, "exact": 0.25},
        "gate": {"passed": True, "reason": "score 0.75 ≥ 0.70, gain 0.50 ≥ 0.25", "min_score": 0.7, "min_gain": 0.25},
        "worst": [{"line": 4, "prompt": "Capital of Peru?", "answer": "Cusco | the old one", "score": 0.0,
                   "error": None},
                  {"line": 2, "prompt": "Capital of Italy?", "answer": "", "score": 0.0,
                   "error": "completion failed: HTTP 500: busy"}],
        "unanswered": 0, "failure": None, "limited": False}
    assert data["evaluations"]["triage"]["gate"] == {"passed": False, "reason": "score 0.40 < 0.60", "min_score": 0.6,
                                                     "min_gain": None}
    assert data["not_evaluated"] == {"ranking": {"reason": "its job ftjob-3 is running", "gated": True}}


def test_every_gate_passed() -> None:
    assert render_text([SUPPORT], "default").endswith("\n1 evaluated; every gate passed.\n")
    assert as_json([SUPPORT], "default")["passed"] is True
    assert render_markdown([SUPPORT], "default").endswith("\n**1 evaluated; every gate passed.**\n")


def test_what_was_sent_is_said() -> None:
    sent = Usage(requests=8, prompt_tokens=1234, completion_tokens=56)
    assert render_text([SUPPORT], "default", sent).endswith(
        "\n1 evaluated; every gate passed.\nSent 8 requests: 1,234 prompt tokens, 56 answer tokens (what was in "
        "the cache was not asked for again).\n")
    assert render_markdown([SUPPORT], "default", Usage()).endswith(
        "**1 evaluated; every gate passed.**\n\nSent no request: every answer was in the cache (.ftctl/cache).\n")
    assert as_json([SUPPORT], "default", sent)["sent"] == {"requests": 8, "prompt_tokens": 1234,
                                                           "completion_tokens": 56}
