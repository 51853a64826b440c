"""Renderers of one Plan, compared as exact text."""

from __future__ import annotations

import json

from reconciler.api.models import LiveJob
from reconciler.plan.model import Plan
from reconciler.plan.planner import plan
from reconciler.plan.render import render_json, render_markdown, render_text
from tests.builders import make_desired

TAGS = {"ftctl-stack": "default", "ftctl-spec": "v1-old"}


def _plan() -> Plan:
    live = [
        LiveJob.model_validate({"id": "ftjob-old", "status": "running", "created_at": 1,
                                "model": "gpt-4o-mini-2024-07-18", "training_file": "file-train",
                                "metadata": {**TAGS, "ftctl-name": "bot"},
                                "method": {"type": "supervised", "supervised": {"hyperparameters": {
                                    "n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8}}}}),
        LiveJob.model_validate({"id": "ftjob-gone", "status": "running", "created_at": 2,
                                "metadata": {**TAGS, "ftctl-name": "gone"}}),
    ]
    desired = [make_desired("bot", spec="v1-new", n_epochs=4), make_desired("fresh", state="paused")]
    return plan(desired, live, [], "default", target="the sandbox")


def test_text() -> None:
    assert render_text(_plan()) == """\
ftctl plan for stack "default" on the sandbox

  -/+ replace  bot (ftjob-old)  # the spec changed and a live job cannot be changed
        model=gpt-4o-mini method=supervised n_epochs=4
        ~ method.supervised.hyperparameters.n_epochs: 3 → 4
    + create   fresh  # no job exists yet
        model=gpt-4o-mini method=supervised
        then pause once it runs (state: paused)

Orphans (no manifest):
  ! gone (ftjob-gone, running): no manifest declares this name

Plan: 0 to upload, 0 to cancel, 1 to replace, 1 to create, 0 to pause, 0 to resume.
"""


def test_text_has_colour_only_when_asked() -> None:
    assert "\x1b[" not in render_text(_plan(), color=False)
    assert "\x1b[" in render_text(_plan(), color=True)


def test_markdown_puts_the_summary_first_and_details_in_collapsibles() -> None:
    md = render_markdown(_plan())
    lines = md.splitlines()
    assert lines[0] == "### ftctl plan — stack `default`"
    assert lines[2:5] == ["| upload | cancel | replace | create | pause | resume |", "|---|---|---|---|---|---|",
                          "| 0 | 0 | 1 | 1 | 0 | 0 |"]
    assert "<details><summary><code>-/+</code> <b>replace</b> bot (ftjob-old)</summary>" in lines
    assert "| `method.supervised.hyperparameters.n_epochs` | `3` | `4` |" in lines
    assert md.count("<details>") == 2 and md.count("</details>") == 2
    assert "- `gone` (ftjob-gone, running): no manifest declares this name" in lines


def test_json_has_the_contract_fields() -> None:
    data = json.loads(render_json(_plan()))
    assert {"format_version", "stack", "actions", "orphans", "failed", "summary", "fingerprint"} <= set(data)
    replace = data["actions"][0]
    assert {"name", "action", "reason", "job_id", "before", "after"} <= set(replace)
    assert replace["before"]["job_id"] == "ftjob-old" and replace["after"]["spec"] == "v1-new"
    assert data["summary"] == {"upload": 0, "cancel": 0, "replace": 1, "create": 1, "pause": 0, "resume": 0}
