"""Renderers of one Plan, compared as exact text.

Live jobs come from the in-memory fake, created from an older manifest's request the way the API
returns them (resolved values), so the field diffs shown here are the planner's real ones.
"""

from __future__ import annotations

import dataclasses
import json
import re

from reconciler.api.models import LiveJob
from reconciler.datasets.check import Estimate
from reconciler.identity import CreateRequest, Desired, MethodSpec, tags
from reconciler.plan.facts import TargetInfo
from reconciler.plan.model import Plan
from reconciler.plan.planner import plan
from reconciler.plan.render import render_json, render_markdown, render_text
from tests.builders import make_desired, make_request, no_files
from tests.fakes import FakeApi

SANDBOX = TargetInfo(provider="sandbox", sandbox_db=".ftctl/sandbox.db")
SOURCE = "def grade(sample, item):\n    return 1.0\n"
NEW_SOURCE = ("def grade(sample, item):\n    # exact answers only\n"
              "    return 1.0 if sample['output_text'] == item['label'] else 0.0\n")


def live(api: FakeApi, d: Desired, status: str = "running") -> LiveJob:
    """A job created from ``d`` by the fake API, as the API returns it."""
    job = api.create_job(d.request.body(tags("default", d.name, d.spec), {}), f"key-{d.name}-{d.spec}")
    api.jobs[job.id]["status"] = status
    return api.get_job(job.id)


def rft(source: str = SOURCE, **fields: object) -> CreateRequest:
    grader = {"type": "multi", "name": "triage", "calculate_output": "0.5 * exact + 0.5 * py", "graders": {
        "exact": {"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
                  "reference": "{{item.label}}", "operation": "eq"},
        "py": {"type": "python", "name": "py", "source": source}}}
    return make_request().model_copy(update={
        "model": "o4-mini", "method": MethodSpec(type="reinforcement", hyperparameters={
            "n_epochs": 2, "reasoning_effort": "medium", "eval_interval": "auto"}, grader=grader), **fields})


def _plan() -> Plan:
    api = FakeApi()
    old = live(api, make_desired("bot", spec=None, n_epochs=3))
    gone = live(api, make_desired("gone", spec=None))
    desired = [make_desired("bot", spec=None, n_epochs=4), make_desired("fresh", state="paused", spec=None, n_epochs=2)]
    return plan(desired, [gone, old], no_files, "default").model_copy(update={"target": SANDBOX})


def _create_plan() -> Plan:
    wandb = [{"type": "wandb", "wandb": {"project": "triage-ft", "entity": "acme", "tags": ["v3", "nightly"]}}]
    request = rft(suffix="triage-v2", seed=7, integrations=wandb, metadata={"team": "support"})
    return plan([make_desired("triage", request=request, spec=None)], [], no_files, "default")


def _grader_change_plan() -> Plan:
    api = FakeApi()
    old = live(api, make_desired("triage", request=rft(), spec=None))
    return plan([make_desired("triage", request=rft(NEW_SOURCE), spec=None)], [old], no_files, "default")


def _failed_plan() -> Plan:
    api = FakeApi()
    d = make_desired("bot", spec=None)
    failed = live(api, d, status="failed")
    api.jobs[failed.id]["error"] = {"code": "invalid_training_file", "param": "training_file",
                                    "message": "The job failed due to an invalid training file | line 3"}
    return plan([d], [api.get_job(failed.id)], no_files, "default")


def test_text() -> None:
    assert render_text(_plan()) == """\
ftctl plan for stack "default" on the embedded sandbox (.ftctl/sandbox.db)

  -/+ replace  bot (ftjob-1) — n_epochs 3 → 4; cancels a running job; no estimate: no local training file to \
estimate from
        ~ method.hyperparameters.n_epochs: 3 → 4
    + create   fresh — no job exists yet; then paused; no estimate: no local training file to estimate from
        model: gpt-4o-mini
        training_file: file-train
        method:
          type: supervised
          hyperparameters: {batch_size: auto, learning_rate_multiplier: auto, n_epochs: 2}
        then pause once it runs (state: paused)

Orphans (no manifest):
  ! gone (ftjob-2, running): no manifest declares this name

Cost: unknown: 2 creates without an estimate (no local training file to estimate from: bot, fresh).
Cancels 1 job still in progress: bot (ftjob-1, running). The training done so far is billed and makes no model.
Plan: 0 to upload, 0 to cancel, 1 to replace, 1 to create, 0 to pause, 0 to resume. 1 live job no manifest declares: \
it keeps running and billing; plan --prune cancels it (listed above).
"""


def test_text_has_colour_only_when_asked() -> None:
    assert "\x1b[" not in render_text(_plan(), color=False)
    assert "\x1b[" in render_text(_plan(), color=True)


def test_a_create_shows_the_whole_request_with_grader_tree_and_integrations() -> None:
    assert render_text(_create_plan()) == """\
ftctl plan for stack "default"

    + create   triage — no job exists yet; no estimate: no local training file to estimate from
        model: o4-mini
        training_file: file-train
        method:
          type: reinforcement
          hyperparameters: {n_epochs: 2, reasoning_effort: medium, eval_interval: auto}
          grader:
            type: multi
            name: triage
            calculate_output: 0.5 * exact + 0.5 * py
            graders:
              exact:
                type: string_check
                name: exact
                input: '{{sample.output_text}}'
                reference: '{{item.label}}'
                operation: eq
              py:
                type: python
                name: py
                source: |
                  def grade(sample, item):
                      return 1.0
        suffix: triage-v2
        seed: 7
        integrations:
        - type: wandb
          wandb:
            project: triage-ft
            entity: acme
            tags: [v3, nightly]
        metadata: {team: support}

Cost: unknown: 1 create without an estimate (no local training file to estimate from: triage).
Plan: 0 to upload, 0 to cancel, 0 to replace, 1 to create, 0 to pause, 0 to resume.
"""


GRADER_DIFF = """\
--- before
+++ after
@@ -1,2 +1,3 @@
 def grade(sample, item):
-    return 1.0
+    # exact answers only
+    return 1.0 if sample['output_text'] == item['label'] else 0.0
"""
"""The unified diff of ``_grader_change_plan``'s grader code, as both renderers show it."""


def test_a_grader_source_change_is_a_unified_diff_in_text() -> None:
    diff = "".join(f"            {line}\n" for line in GRADER_DIFF.splitlines())
    assert render_text(_grader_change_plan()) == f"""\
ftctl plan for stack "default"

  -/+ replace  triage (ftjob-1) — grader.graders.py.source changed; cancels a running job; no estimate: no local \
training file to estimate from
        ~ method.grader.graders.py.source:
{diff}
Cost: unknown: 1 create without an estimate (no local training file to estimate from: triage).
Cancels 1 job still in progress: triage (ftjob-1, running). The training done so far is billed and makes no model.
Plan: 0 to upload, 0 to cancel, 1 to replace, 0 to create, 0 to pause, 0 to resume.
"""


def test_a_grader_source_change_is_a_fenced_diff_in_markdown_outside_any_table() -> None:
    md = render_markdown(_grader_change_plan())
    changes = md[md.index("**Changes**"):md.index("<details><summary>The whole request</summary>")]
    assert changes == f"""\
**Changes**

`method.grader.graders.py.source`:

```diff
{GRADER_DIFF}```

"""
    assert_well_formed(md)


def assert_well_formed(md: str) -> None:
    """Every table row has the header's cell count, and no table row is inside a fence or vice versa."""
    fence = None
    columns = None
    for line in md.splitlines():
        opener = re.match(r"^(`{3,})", line)
        if opener and (fence is None or opener.group(1) == fence):
            fence = None if fence else opener.group(1)
            continue
        if fence:
            continue
        if line.startswith("|"):
            cells = len(re.split(r"(?<!\\)\|", line)) - 2
            columns = columns or cells
            assert cells == columns, line
        else:
            columns = None
    assert fence is None, "an unclosed code fence"
    assert md.count("<details>") == md.count("</details>")


def test_markdown_summary_first_and_details_in_collapsibles() -> None:
    md = render_markdown(_plan())
    lines = md.splitlines()
    assert lines[0] == "### ftctl plan — stack `default` on the embedded sandbox (.ftctl/sandbox.db)"
    assert lines[2:5] == ["| upload | cancel | replace | create | pause | resume | failed | active orphans |",
                          "|---|---|---|---|---|---|---|---|", "| 0 | 0 | 1 | 1 | 0 | 0 | 0 | 1 |"]
    assert ("<details><summary>🔁 <b>replace</b> bot (ftjob-1) — n_epochs 3 → 4; cancels a running job; no estimate: "
            "no local training file to estimate from</summary>") in lines
    assert "| `method.hyperparameters.n_epochs` | `3` | `4` |" in lines
    assert md.count("<details>") == 3 and md.count("</details>") == 3  # two actions, the replace's whole request
    assert "- `gone` (ftjob-2, running): no manifest declares this name" in lines
    assert_well_formed(md)


def test_markdown_cells_escape_pipes_and_backticks() -> None:
    api = FakeApi()
    old = live(api, make_desired("bot", spec=None, request=make_request(suffix="a|b")))
    api.jobs[old.id]["suffix"] = "a|b"  # a server that echoes the suffix
    new = make_desired("bot", spec=None, request=make_request(suffix="c`d|e"))
    md = render_markdown(plan([new], [api.get_job(old.id)], no_files, "default"))
    assert "| `suffix` | `a\\|b` | ``c`d\\|e`` |" in md.splitlines()
    assert_well_formed(md)


def test_a_plan_with_a_failed_job_never_says_match() -> None:
    p = _failed_plan()
    assert render_text(p) == """\
ftctl plan for stack "default"

Failed jobs (not retried):
  ! bot (ftjob-1, failed): The job failed due to an invalid training file | line 3 (retry with --replace bot)

No changes to apply, but 1 job failed (listed above): the live jobs do not match the manifests.
"""
    assert render_markdown(p) == """\
### ftctl plan — stack `default`

| upload | cancel | replace | create | pause | resume | failed | active orphans |
|---|---|---|---|---|---|---|---|
| 0 | 0 | 0 | 0 | 0 | 0 | 1 | 0 |

**Failed jobs**
- `bot` (ftjob-1, failed): The job failed due to an invalid training file | line 3 (retry with --replace bot)

**No changes to apply, but 1 job failed (listed above): the live jobs do not match the manifests.**
"""
    data = json.loads(render_json(p))
    assert data["failed"] == [{"name": "bot", "job_id": "ftjob-1", "status": "failed", "message": (
        "The job failed due to an invalid training file | line 3 (retry with --replace bot)")}]
    assert data["actions"] == []


def test_json_has_the_contract_fields() -> None:
    data = json.loads(render_json(_plan()))
    assert {"format_version", "stack", "target", "actions", "orphans", "failed", "summary", "fingerprint",
            "local_files", "checksum"} <= set(data)
    replace = data["actions"][0]
    assert {"name", "action", "reason", "job_id", "before", "after", "changes"} <= set(replace)
    assert replace["before"]["job_id"] == "ftjob-1" and replace["after"]["method"]["hyperparameters"]["n_epochs"] == 4
    assert replace["changes"] == [{"path": ["method", "hyperparameters", "n_epochs"], "before": 3, "after": 4,
                                   "note": None}]
    assert data["summary"] == {"upload": 0, "cancel": 0, "replace": 1, "create": 1, "pause": 0, "resume": 0,
                               "evaluate": 0}
    assert Plan.from_json(data) == _plan()


def test_a_change_of_the_final_newline_alone_still_shows() -> None:
    api = FakeApi()
    old = live(api, make_desired("triage", request=rft(SOURCE), spec=None))
    p = plan([make_desired("triage", request=rft(SOURCE.rstrip("\n")), spec=None)], [old], no_files, "default")
    assert render_text(p).splitlines()[3:10] == [
        "        ~ method.grader.graders.py.source:",
        "            --- before",
        "            +++ after",
        "            @@ -1,2 +1,2 @@",
        "             def grade(sample, item):",
        "            -    return 1.0",
        "            +    return 1.0"]
    assert render_text(p).splitlines()[10] == "            \\ No newline at end of file"


def test_spaces_that_would_not_show_are_quoted_and_user_tags_of_a_new_job_show() -> None:
    api = FakeApi()
    old = live(api, make_desired("bot", spec=None, request=make_request(suffix="v1", metadata={"team": "a"})),
               status="succeeded")
    new = make_desired("bot", spec=None, request=make_request(suffix="v1 ", metadata={"team": "b"}))
    lines = render_text(plan([new], [old], no_files, "default")).splitlines()
    assert '        ~ metadata: {"team": "a"} → {"team": "b"} (user tags, not part of the spec)' in lines
    assert '        ~ suffix: (not reported by the API) → "v1 "' in lines


def test_finished_orphans_are_counted_and_live_ones_listed() -> None:
    api = FakeApi()
    jobs = [live(api, make_desired(f"old-{i}", spec=None), status="succeeded") for i in range(3)]
    jobs.append(live(api, make_desired("runs", spec=None)))
    text = render_text(plan([make_desired("kept", state="cancelled", spec=None)], jobs, no_files, "default"))
    assert text.splitlines()[2:] == [
        "Orphans (no manifest):",
        "  ! runs (ftjob-4, running): no manifest declares this name",
        "  ! and 3 finished jobs of names no manifest declares (history; ftctl status lists them)",
        "",
        "No changes to apply, but 1 live job no manifest declares: it keeps running and billing; plan --prune cancels "
        "it (listed above)."]


def _budget_plan(limit: float, **allow: bool) -> Plan:
    priced = Estimate(examples=1200, tokens=480_000, exact=True, epochs=50, trained_tokens=24_000_000,
                      cost=600.0, hourly=None, currency="USD", prices_as_of="2025-08-01")
    hourly = priced.model_copy(update={"cost": None, "hourly": 100.0})
    desired = [dataclasses.replace(make_desired("big", spec=None), estimate=priced),
               dataclasses.replace(make_desired("rft", spec=None), estimate=hourly),
               make_desired("byid", spec=None)]
    return plan(desired, [], no_files, "default").with_budget(limit, **allow)


def test_the_budget_is_shown_against_the_plan_and_marked_when_over() -> None:
    text = render_text(_budget_plan(50)).split("\n\n")[-1]
    assert text == """\
Cost: ≈$600.00 for 48,000,000 trained tokens, plus 2 creates without an estimate (no local training file to estimate \
from: byid; billed by the hour: rft); prices as of 2025-08-01. Budget $50.00 (limits.max_cost_usd): over; apply \
refuses this plan without --allow-over-budget and --allow-unpriced.
Plan: 0 to upload, 0 to cancel, 0 to replace, 3 to create, 0 to pause, 0 to resume.
"""
    allowed = render_text(_budget_plan(50, allow_over_budget=True, allow_unpriced=True))
    assert "Budget $50.00 (limits.max_cost_usd): over; allowed by this run.\n" in allowed
    unknown = render_text(_budget_plan(1000, allow_unpriced=True))  # priced within, but not everything is priced
    assert ("Budget $1,000.00 (limits.max_cost_usd): unknown, as the creates without an estimate could cost any "
            "amount; allowed by this run.\n") in unknown
    assert "\n> [!CAUTION]\n> Cost: ≈$600.00 for 48,000,000 trained tokens" in render_markdown(_budget_plan(50))
    assert json.loads(render_json(_budget_plan(50)))["budget"] == {
        "limit_usd": 50.0, "spend_usd": 600.0, "over": True, "allow_over_budget": False, "allow_unpriced": False,
        "unpriced": {"byid": "no local training file to estimate from", "rft": "billed by the hour"}}
    assert "budget" not in render_text(plan([make_desired("a")], [], no_files, "default")).lower()


def test_a_plan_is_refused_for_its_cost_unless_the_run_allows_it() -> None:
    from reconciler.session.saved import budget_refusal

    assert budget_refusal(_budget_plan(50, allow_over_budget=True, allow_unpriced=True), None, saved=False) is None
    refused = budget_refusal(_budget_plan(50, allow_unpriced=True), None, saved=False)
    assert refused == ("refused, nothing was changed: its new training (≈$600.00) exceeds limits.max_cost_usd "
                       "($50.00); check the plan, or allow it with --allow-over-budget")
    # a saved plan is also held to today's budget when it is lower, with the choices it recorded
    saved = _budget_plan(1000, allow_unpriced=True)
    assert budget_refusal(saved, None, saved=True) is None
    assert "exceeds limits.max_cost_usd ($100.00)" in (budget_refusal(saved, 100, saved=True) or "")
    assert budget_refusal(plan([make_desired("a")], [], no_files, "default"), None, saved=True) is None
    # an allowance is recorded only where it was needed, and never covers a budget lowered since
    needless = _budget_plan(1000, allow_over_budget=True, allow_unpriced=True)
    assert needless.budget is not None and not needless.budget.allow_over_budget and needless.budget.allow_unpriced
    assert "exceeds limits.max_cost_usd ($10.00)" in (budget_refusal(needless, 10, saved=True) or "")
    over = _budget_plan(50, allow_over_budget=True, allow_unpriced=True)
    assert budget_refusal(over, 50, saved=True) is None and budget_refusal(over, 80, saved=True) is None
    assert "exceeds limits.max_cost_usd ($10.00)" in (budget_refusal(over, 10, saved=True) or "")


def test_a_pipeline_as_text_mermaid_and_dot() -> None:
    from reconciler.plan.model import Stage
    from reconciler.plan.render import graph

    stages = [Stage(name="sft", status="succeeded"), Stage(name="dpo", upstream="sft", status="running"),
              Stage(name="polish", upstream="dpo", checkpoint="last", status="blocked"), Stage(name="solo")]
    assert graph.text(stages) == ["sft: succeeded", "  └─ dpo: running", "    └─ polish: blocked (last of dpo)",
                                  "solo: not created"]
    assert graph.dot(stages) == [
        "digraph pipeline {", "  rankdir=LR;",
        '  "sft" [label="sft\\nsucceeded"];', '  "dpo" [label="dpo\\nrunning"];',
        '  "polish" [label="polish\\nblocked"];', '  "solo" [label="solo\\nnot created"];',
        '  "sft" -> "dpo";', '  "dpo" -> "polish" [label="last"];', "}"]
    assert graph.mermaid(stages)[:7] == [
        "flowchart LR", '  s_sft["sft<br/>succeeded"]', '  s_dpo["dpo<br/>running"]',
        '  s_polish["polish<br/>blocked"]', '  s_solo["solo<br/>not created"]', "  s_sft --> s_dpo",
        "  s_dpo -->|last| s_polish"]
