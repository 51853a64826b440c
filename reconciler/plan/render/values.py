"""How values of a plan read, shared by the text and markdown renderers (which consume one ``Plan``).

A create shows its whole request as YAML (the manifest's shape, files by name, size and digest);
a field change is one line, or a unified diff when either side spans several lines.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any

import yaml

from reconciler.datasets.check import Estimate
from reconciler.diagnostics import plural
from reconciler.identity.request import human_bytes
from reconciler.plan.budget import money
from reconciler.plan.model import ORDER, Action, Change, EvalEstimate, Notice, Plan, UploadAction
from reconciler.providers.statuses import TERMINAL

SYMBOLS = {"upload": "↑", "create": "+", "replace": "-/+", "cancel": "-", "pause": "‖", "resume": "»", "evaluate": "?"}
VERBS = {"upload": "to upload", "create": "to create", "replace": "to replace", "cancel": "to cancel",
         "pause": "to pause", "resume": "to resume", "evaluate": "to evaluate"}


ABSENT = "(absent)"
LONG = 60
"""A one-line string longer than this changes as a word-level diff, not as two whole values."""
CONTEXT = 6
"""Words of context either side of a word-level change."""


def value(v: Any) -> str:
    """One value on one line; a string whose spaces would not show, or that reads like a marker
    such as ``(absent)``, is quoted, so an absent value and a string never look alike."""
    if v is None:
        return ABSENT
    if isinstance(v, str) and v and v == v.strip() and v.isprintable() and not re.fullmatch(r"\(.*\)", v):
        return v
    return json.dumps(v, ensure_ascii=False)


def change_value(change: Change, side: str) -> str:
    """One side of a change; its note goes with the side it qualifies (an unknown before, else after)."""
    v = change.before if side == "before" else change.after
    if change.note is not None and change.before is None:
        return f"({change.note})" if side == "before" else value(v)
    if change.note is not None and side == "after":
        return f"{value(v)} ({change.note})"
    return value(v)


def unified(change: Change) -> list[str]:
    """A multi-line change as a unified diff, as ``diff -u`` writes it (a missing final newline is
    marked, so a change of whitespace alone still shows), one list item per line."""

    def text(v: Any) -> list[str]:
        return ("" if v is None else v if isinstance(v, str) else value(v)).splitlines(keepends=True)

    out: list[str] = []
    for line in difflib.unified_diff(text(change.before), text(change.after), "before", "after"):
        out.append(line.removesuffix("\n"))
        if not line.endswith("\n"):
            out.append("\\ No newline at end of file")
    return out


def words(change: Change) -> list[str]:
    """A change inside a long one-line string, word by word: each changed stretch with a few words
    either side, before (``-``) and after (``+``), as lines of a ``diff`` block."""
    before, after = (re.findall(r"\s+|\S+", v if isinstance(v, str) else value(v))
                     for v in (change.before, change.after))
    out: list[str] = []
    for group in difflib.SequenceMatcher(None, before, after, autojunk=False).get_grouped_opcodes(2 * CONTEXT):
        for sign, tokens, lo, hi in (("-", before, group[0][1], group[-1][2]), ("+", after, group[0][3], group[-1][4])):
            text = "".join(tokens[lo:hi]).strip()
            out.append(f"{sign}{'…' if lo > 0 else ''}{text}{'…' if hi < len(tokens) else ''}")
    return out


def block_diff(change: Change) -> list[str] | None:
    """A change shown as a ``diff`` block (multi-line values, long one-line strings), or None when
    ``before → after`` reads well on one line."""
    if change.multiline:
        return unified(change)
    if any(isinstance(v, str) and len(v) > LONG for v in (change.before, change.after)):
        return words(change)
    return None


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _flat(data: Any) -> bool:
    items = data.values() if isinstance(data, dict) else data
    return all(not isinstance(v, dict | list) and not (isinstance(v, str) and "\n" in v) for v in items)


def _collection(dumper: yaml.SafeDumper, data: Any) -> yaml.Node:
    """Flow style (``{a: 1, b: 2}``) for a short collection of scalars, block style otherwise."""
    flow = _flat(data) and len(json.dumps(data, ensure_ascii=False)) <= 80
    if isinstance(data, dict):
        return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(dict, _collection)
_Dumper.add_representer(list, _collection)


def request_yaml(tree: dict[str, Any]) -> list[str]:
    """A request's display tree as YAML lines: flow style for short flat collections, ``|`` for code."""
    text = yaml.dump(tree, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
    return text.rstrip("\n").split("\n")


def eval_estimate_line(est: EvalEstimate) -> str:
    """An evaluation's requests, tokens and price, before anything is sent."""
    prompt = f"{est.prompt_tokens:,} prompt tokens" if est.exact else f"≈{est.prompt_tokens:,} prompt tokens"
    answers = f"≤{est.completion_tokens:,} answer tokens"
    if est.answer_tokens_assumed is not None:
        answers = f"≈{est.completion_tokens:,} answer tokens (assumed {est.answer_tokens_assumed} per answer)"
    line = (f"{plural(est.items, 'item')} × {plural(est.models, 'model')}: {plural(est.requests, 'request')}, "
            f"{prompt}, {answers}")
    if est.cost is not None:
        return line + f", ≈{money(est.cost, est.currency)}"
    return line + f", no price known for {', '.join(est.unpriced)}"


def estimate_line(est: Estimate, epochs_assumed: bool = False) -> str:
    tokens = f"{est.tokens:,} tokens" if est.exact else f"≈{est.tokens:,} tokens (estimated)"
    epochs = plural(est.epochs, "epoch") + (" (assumed: n_epochs is auto)" if epochs_assumed else "")
    line = (f"{plural(est.examples, 'example')}, {tokens} × {epochs} = "
            f"{est.trained_tokens:,} trained tokens")
    if est.cost is not None:
        line += f", ≈{money(est.cost, est.currency)}"
    elif est.hourly is not None:
        line += f", billed by the hour at {money(est.hourly, est.currency)}/hour"
    else:
        line += ", no price known for this model"
    return line


def subject(a: Action) -> str:
    if isinstance(a, UploadAction):
        f = a.file
        counts = ""
        if f.examples is not None and f.tokens is not None:
            counts = f", {plural(f.examples, 'example')}, ≈{f.tokens:,} tokens"
        return f"{f.path} ({human_bytes(f.bytes)}{counts}) for {', '.join(a.used_by or [a.name])}"
    return f"{a.name} ({a.job_id})" if a.job_id else a.name


def live_orphans(plan: Plan) -> tuple[list[Notice], int]:
    """Orphans worth a line each (not finished), and how many finished ones there are besides."""
    running = [n for n in plan.orphans if n.status not in TERMINAL]
    return running, len(plan.orphans) - len(running)


def kept_orphans(plan: Plan) -> list[Notice]:
    """Orphans this plan leaves running: listed once (those --prune cancels are its cancel actions)."""
    cancelled = {a.job_id for a in plan.actions if a.action == "cancel"}
    return [n for n in live_orphans(plan)[0] if n.job_id not in cancelled]


def orphans_line(plan: Plan, count: int) -> str:
    """What orphans left running mean, and the flag that cancels them."""
    prune = "plan --prune on the whole project" if plan.options.partial else "plan --prune"
    they, them = ("it keeps", "it") if count == 1 else ("they keep", "them")
    return f"{plural(count, 'live job')} no manifest declares: {they} running and billing; {prune} cancels {them}"


def finished_orphans_line(count: int, after_others: bool) -> str:
    return (f"{'and ' if after_others else ''}{plural(count, 'finished job')} of names no manifest declares "
            "(history; ftctl status lists them)")


def shown_kinds(plan: Plan) -> tuple[str, ...]:
    """The kinds of action a summary counts: all but evaluations, which only a pipeline with gates has."""
    return tuple(k for k in ORDER if k != "evaluate" or plan.summary[k])


def summary_line(plan: Plan) -> str:
    failed = len(plan.failed)
    if not plan.has_changes:
        if failed:
            return (f"No changes to apply, but {plural(failed, 'job')} failed (listed above): "
                    "the live jobs do not match the manifests.")
        kept = kept_orphans(plan)
        if kept:
            return f"No changes to apply, but {orphans_line(plan, len(kept))} (listed above)."
        if plan.notes:
            return "No changes to apply; see the notes above."
        return "No changes. The live jobs match the manifests."
    counts = plan.summary
    line = "Plan: " + ", ".join(f"{counts[k]} {VERBS[k]}" for k in shown_kinds(plan)) + "."
    if plan.blocked:
        waits = len(plan.blocked)
        line += (f" {plural(waits, 'create')} of the {counts['create']} {'waits' if waits == 1 else 'wait'} for the "
                 "stage it builds on (apply makes it once that is ready; apply --wait carries the pipeline through).")
    if failed:
        line += f" {plural(failed, 'failed job')} not retried (listed above)."
    kept = kept_orphans(plan)
    if kept:
        line += f" {orphans_line(plan, len(kept))} (listed above)."
    return line
