"""The markdown plan as a reviewer sees it on the pull request, collapsed (issue 27): the cases that
used to mislead, each compared as exact text — the collapsed view (what shows before any section is
opened) and, where it matters, a section's body — with the text and JSON plans saying the same.
"""

from __future__ import annotations

import dataclasses
import json

from reconciler.datasets.check import Estimate
from reconciler.identity import CreateRequest, Desired, MethodSpec
from reconciler.plan.model import Plan, PlanOptions
from reconciler.plan.planner import plan
from reconciler.plan.render import render_json, render_markdown, render_text
from reconciler.plan.render.values import value
from tests.builders import make_desired, make_request, no_files
from tests.fakes import FakeApi
from tests.test_render import SANDBOX, assert_well_formed, live, rft

PROMPT = ("You are grading answers of a customer support assistant. Read the customer's question and the assistant's "
          "answer, then rate the answer from 1 to 5 for accuracy, tone and whether it resolves the issue without "
          "asking the customer to repeat information they already gave. Reply with the number only.")


def collapsed(md: str) -> str:
    """The markdown with every ``<details>`` closed: its summary line stays, its body goes."""
    out, depth = [], 0
    for line in md.splitlines():
        if depth == 0:
            out.append(line.removeprefix("<details>").removesuffix("</summary>") if line.startswith("<details>")
                       else line)
        depth += line.startswith("<details>") - (line == "</details>")
    return "\n".join(out).replace("\n\n\n", "\n\n") + "\n"


def estimate(cost: float | None, epochs: int = 3, hourly: float | None = None) -> Estimate:
    return Estimate(examples=120, tokens=28_000, exact=True, epochs=epochs, trained_tokens=28_000 * epochs,
                    cost=cost, hourly=hourly, currency="USD", prices_as_of="2025-08-01")


def sft(lr: float = 1.8, n_epochs: int | str = 3) -> CreateRequest:
    return make_request().model_copy(update={"model": "gpt-4o-mini-2024-07-18", "method": MethodSpec(
        type="supervised", hyperparameters={"n_epochs": n_epochs, "learning_rate_multiplier": lr})})


def priced(d: Desired, est: Estimate) -> Desired:
    return dataclasses.replace(d, estimate=est)


def _unpriced_under_budget(only_unpriced: bool = False) -> Plan:
    """limits.max_cost_usd 5, one supervised job priced, two reinforcement jobs billed by the hour."""
    hourly = estimate(None, 2, hourly=100.0)
    desired = [priced(make_desired("support-bot", spec=None, request=sft()), estimate(0.0253)),
               priced(make_desired("triage-a", spec=None, request=rft()), hourly),
               priced(make_desired("triage-b", spec=None, request=rft(suffix="b")), hourly)]
    p = plan(desired[1:2] if only_unpriced else desired, [], no_files, "default")
    return p.with_budget(5).model_copy(update={"target": SANDBOX})


def test_unpriced_jobs_under_a_budget_are_a_warning_never_within() -> None:
    md = render_markdown(_unpriced_under_budget())
    assert collapsed(md) == """\
### ftctl plan — stack `default` on the embedded sandbox (.ftctl/sandbox.db)

| upload | cancel | replace | create | pause | resume | failed | active orphans |
|---|---|---|---|---|---|---|---|
| 0 | 0 | 0 | 3 | 0 | 0 | 0 | 0 |

> [!WARNING]
> Cost: ≈$0.0253 for 196,000 trained tokens, plus 2 creates without an estimate (billed by the hour: triage-a, \
triage-b); prices as of 2025-08-01. Budget $5.00 (limits.max_cost_usd): unknown, as the creates without an estimate \
could cost any amount; apply refuses this plan without --allow-unpriced.

<summary>🟢 <b>create</b> support-bot — no job exists yet; ≈$0.0253

<summary>🟢 <b>create</b> triage-a — no job exists yet; no estimate: billed by the hour ($100.00/hour)

<summary>🟢 <b>create</b> triage-b — no job exists yet; no estimate: billed by the hour ($100.00/hour)

**Plan: 0 to upload, 0 to cancel, 0 to replace, 3 to create, 0 to pause, 0 to resume.**
"""
    assert_well_formed(md)
    text = render_text(_unpriced_under_budget())
    assert "    + create   triage-a — no job exists yet; no estimate: billed by the hour ($100.00/hour)\n" in text
    assert "Budget $5.00 (limits.max_cost_usd): unknown, as the creates" in text and "within" not in text
    overview = json.loads(render_json(_unpriced_under_budget()))["overview"]
    assert overview["money"] == {
        "priced": 0.0253, "priced_creates": 1, "trained_tokens": 196_000,
        "prices_as_of": "2025-08-01", "unpriced": {"triage-a": "billed by the hour", "triage-b": "billed by the hour"},
        "limit_usd": 5.0, "verdict": "unknown", "needs": ["--allow-unpriced"]}
    assert overview["alerts"][0]["level"] == "WARNING" and overview["alerts"][0]["text"] in md


def test_a_plan_whose_only_job_is_unpriced_shows_no_zero_total() -> None:
    md = render_markdown(_unpriced_under_budget(only_unpriced=True))
    assert collapsed(md).split("\n\n")[2:4] == ["""\
> [!WARNING]
> Cost: unknown: 1 create without an estimate (billed by the hour: triage-a). Budget $5.00 (limits.max_cost_usd): \
unknown, as the creates without an estimate could cost any amount; apply refuses this plan without --allow-unpriced.""",
        "<summary>🟢 <b>create</b> triage-a — no job exists yet; no estimate: billed by the hour ($100.00/hour)"]
    assert "$0.0000" not in md


def _replace_running() -> Plan:
    api = FakeApi()
    old = live(api, make_desired("support-bot", spec=None, request=sft(1.8)))
    new = priced(make_desired("support-bot", spec=None, request=sft(2.0)), estimate(0.03))
    return plan([new], [old], no_files, "default")


def test_a_replace_says_what_changed_that_it_cancels_a_running_job_and_its_cost() -> None:
    md = render_markdown(_replace_running())
    assert collapsed(md) == """\
### ftctl plan — stack `default`

| upload | cancel | replace | create | pause | resume | failed | active orphans |
|---|---|---|---|---|---|---|---|
| 0 | 0 | 1 | 0 | 0 | 0 | 0 | 0 |

> [!CAUTION]
> Cancels 1 job still in progress: support-bot (ftjob-1, running). The training done so far is billed and makes \
no model.

Cost: ≈$0.0300 for 84,000 trained tokens; prices as of 2025-08-01.

<summary>🔁 <b>replace</b> support-bot (ftjob-1) — learning_rate_multiplier 1.8 → 2.0; cancels a running job; ≈$0.0300

**Plan: 0 to upload, 0 to cancel, 1 to replace, 0 to create, 0 to pause, 0 to resume.**
"""
    # opened: the change, and the rest of the request folded once more
    body = md[md.index("**Estimate:**"):]
    assert body.startswith("""\
**Estimate:** 120 examples, 28,000 tokens × 3 epochs = 84,000 trained tokens, ≈$0.0300

**Changes**

| field | before | after |
|---|---|---|
| `method.hyperparameters.learning_rate_multiplier` | `1.8` | `2.0` |

<details><summary>The whole request</summary>

```yaml
""")
    assert render_text(_replace_running()).splitlines()[2:4] == [
        "  -/+ replace  support-bot (ftjob-1) — learning_rate_multiplier 1.8 → 2.0; cancels a running job; ≈$0.0300",
        "        ~ method.hyperparameters.learning_rate_multiplier: 1.8 → 2.0"]


def _judge(prompt: str) -> CreateRequest:
    grader = {"type": "score_model", "name": "judge", "model": "o3-mini",
              "input": [{"role": "user", "content": prompt}]}
    return make_request().model_copy(update={"model": "o4-mini", "method": MethodSpec(
        type="reinforcement", hyperparameters={"n_epochs": 2}, grader=grader)})


def test_a_word_changed_in_a_long_prompt_is_a_word_level_diff() -> None:
    api = FakeApi()
    old = live(api, make_desired("triage", spec=None, request=_judge(PROMPT)), status="succeeded")
    new = make_desired("triage", spec=None, request=_judge(PROMPT.replace("from 1 to 5", "from 1 to 10")))
    p = plan([new], [old], no_files, "default")
    md = render_markdown(p)
    assert "<summary>🟢 <b>create</b> triage — grader.input[0].content changed; no estimate: no local training " \
           "file to estimate from</summary>" in md
    assert md[md.index("**Changes**"):md.index("**Request**")] == """\
**Changes**

`method.grader.input[0].content` (word by word):

```diff
-…rate the answer from 1 to 5 for accuracy, tone and whether it…
+…rate the answer from 1 to 10 for accuracy, tone and whether it…
```

"""
    assert render_text(p).splitlines()[3:6] == [
        "        ~ method.grader.input[0].content:",
        "            -…rate the answer from 1 to 5 for accuracy, tone and whether it…",
        "            +…rate the answer from 1 to 10 for accuracy, tone and whether it…"]
    assert_well_formed(md)


def _orphan(prune: bool) -> Plan:
    api = FakeApi()
    keep = make_desired("bot", spec=None)
    return plan([keep], [live(api, keep), live(api, make_desired("gone", spec=None))], no_files, "default",
                PlanOptions(prune=prune))


def test_an_orphan_shows_once_that_it_bills_on_and_the_flag_that_cancels_it() -> None:
    assert collapsed(render_markdown(_orphan(prune=False))) == """\
### ftctl plan — stack `default`

| upload | cancel | replace | create | pause | resume | failed | active orphans |
|---|---|---|---|---|---|---|---|
| 0 | 0 | 0 | 0 | 0 | 0 | 0 | 1 |

**Orphans**: 1 live job no manifest declares: it keeps running and billing; plan --prune cancels it
- `gone` (ftjob-2, running): no manifest declares this name

**No changes to apply, but 1 live job no manifest declares: it keeps running and billing; plan --prune cancels it \
(listed above).**
"""
    pruned = render_markdown(_orphan(prune=True))
    assert collapsed(pruned) == """\
### ftctl plan — stack `default`

| upload | cancel | replace | create | pause | resume | failed | active orphans |
|---|---|---|---|---|---|---|---|
| 0 | 1 | 0 | 0 | 0 | 0 | 0 | 0 |

> [!CAUTION]
> Cancels 1 job still in progress: gone (ftjob-2, running). The training done so far is billed and makes no model.

<p>🛑 <b>cancel</b> gone (ftjob-2, running) — orphan: no manifest declares it (--prune)</p>

**Plan: 0 to upload, 1 to cancel, 0 to replace, 0 to create, 0 to pause, 0 to resume.**
"""
    assert pruned.count("ftjob-2") == 2  # the alert and its one line
    assert render_text(_orphan(prune=True)).count("gone (ftjob-2") == 2


def test_a_retry_names_the_failure_it_retries() -> None:
    api = FakeApi()
    d = make_desired("bot", spec=None)
    failed = live(api, d, status="failed")
    api.jobs[failed.id]["error"] = {"code": "invalid_training_file", "param": "training_file",
                                    "message": "The job failed due to an invalid training file: line 3"}
    p = plan([d], [api.get_job(failed.id)], no_files, "default", PlanOptions(replace=["bot"]))
    headline = ("bot — retries ftjob-1, which failed: The job failed due to an invalid training file: line 3; "
                "no estimate: no local training file to estimate from")
    assert f"<details><summary>🟢 <b>create</b> {headline}</summary>" in render_markdown(p)
    assert f"    + create   {headline}\n" in render_text(p)
    assert json.loads(render_json(p))["overview"]["headlines"] == [{"action": "create", "name": "bot",
                                                                    "text": headline}]


def test_uploads_and_job_steps_are_one_line_each_with_the_status_once() -> None:
    api = FakeApi()
    pausing = make_desired("paused-bot", spec=None, state="paused")
    p = plan([make_desired("up", spec=None, local_file="a"), pausing], [live(api, pausing)], no_files, "default")
    md = render_markdown(p)
    assert "<p>⬆️ <b>upload</b> manifests/data/train.jsonl (100 B) for up</p>" in md.splitlines()
    assert "<p>⏸️ <b>pause</b> paused-bot (ftjob-1, running) — state: paused</p>" in md.splitlines()
    assert md.count("<details>") == 1 and md.count("running") == 1  # only the create has a section
    assert "    ‖ pause    paused-bot (ftjob-1, running) — state: paused" in render_text(p).splitlines()


def test_absent_is_not_the_string_and_auto_epochs_are_an_assumption() -> None:
    assert (value(None), value("(none)"), value("(absent)"), value("v1")) == (
        "(absent)", '"(none)"', '"(absent)"', "v1")
    api = FakeApi()
    old = live(api, make_desired("bot", spec=None, request=make_request()))
    new = make_desired("bot", spec=None, request=make_request(suffix="(absent)"))
    md = render_markdown(plan([new], [old], no_files, "default"))
    assert "| `suffix` | *absent* | `\"(absent)\"` |" in md.splitlines()
    assert 'bot (ftjob-1) — suffix (absent) → "(absent)"; cancels a running job' in md
    auto = priced(make_desired("bot", spec=None, request=sft(n_epochs="auto")), estimate(0.09, epochs=9))
    auto_md = render_markdown(plan([auto], [], no_files, "default"))
    assert "<summary>🟢 <b>create</b> bot — no job exists yet; ≈$0.0900 (assumes 9 epochs: n_epochs is auto)" \
           "</summary>" in auto_md
    assert "**Estimate:** 120 examples, 28,000 tokens × 9 epochs (assumed: n_epochs is auto) = 252,000 trained " \
           "tokens, ≈$0.0900" in auto_md


def test_text_markdown_and_json_say_the_same() -> None:
    """One overview, three outputs: each headline, alert and the money line reads the same in each."""
    for p in (_unpriced_under_budget(), _replace_running(), _orphan(prune=False), _orphan(prune=True),
              _budget_plan_over()):
        text, md, data = render_text(p), render_markdown(p), json.loads(render_json(p))
        overview = data["overview"]
        for h in overview["headlines"]:
            subject, _, rest = h["text"].partition(" — ")
            assert f"{h['action']:<8} {subject} — {rest}\n" in text
            assert f"<b>{h['action']}</b> {h['text']}" in md
        for alert in overview["alerts"]:
            assert f"{alert['text']}\n" in text and f"> [!{alert['level']}]\n> {alert['text']}\n" in md
        cancelled = {a["job_id"] for a in data["actions"] if a["action"] == "cancel"}
        left = [o for o in data["orphans"] if o["status"] == "running" and o["job_id"] not in cancelled]
        assert overview["counts"] == {**data["summary"], "failed": len(data["failed"]), "orphans": len(left)}


def _budget_plan_over() -> Plan:
    from tests.test_render import _budget_plan

    return _budget_plan(50)
