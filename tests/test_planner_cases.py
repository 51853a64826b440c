"""Table-driven planner cases: each JSON file under cases/planner/ is (desired, live) → actions.

A case lists ``desired`` manifests (name, state, spec label, optional local file digest and
metadata), ``live`` jobs and ``files`` as the API would return them, ``options`` (prune, replace,
``elsewhere``: the manifests a partial plan leaves out)
and the ``expect``ed actions as ``[name, action, job_id]`` in plan order; optionally ``orphans``
(job IDs), ``failed`` and ``notes`` (names), ``then_pause`` (names), ``previous`` (name → job the
create follows), ``request_file`` (name → training_file in the create request) and ``reason``
(name → fragment); for pipelines, ``checkpoints`` (job ID → its checkpoints), ``blocked`` (name →
fragment of why its create waits), ``model`` (name → the model its create trains) and ``noted`` (name →
the note of its model change), a live job's spec ``resolved:MODEL`` standing for the real hash of its
stage trained on MODEL; ``gate`` on a desired manifest gives it an evaluation with a gate, and
``verdicts`` (job ID → passed, reason) the verdicts found of it. Each case names the ``row`` of the
planner's table (or the rule beside it) that it shows, and the plan's ``summary`` (the counts that are
not 0). Adding a case is adding a file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.api.models import LiveCheckpoint, LiveFile, LiveJob
from reconciler.identity import tags
from reconciler.plan.model import CreateAction, Declared, GateVerdict, Plan, PlanOptions, ReplaceAction
from reconciler.plan.planner import plan
from tests.builders import desired_from_case

CASES = sorted((Path(__file__).parent / "cases" / "planner").glob("*.json"))
TABLE = {  # SPEC §3's table as the planner's docstring gives it: current job | desired | action
    "none | active / paused | create (then pause once it runs)",
    "same spec, in progress | active | none",
    "same spec, in progress | paused | pause (once running)",
    "same spec, paused | active | resume",
    "same spec, not terminal | cancelled | cancel",
    "same spec, succeeded | any | none",
    "same spec, cancelled | active / paused | create",
    "same spec, failed | active / paused | none, reported failed (--replace: create)",
    "other spec, not terminal | active / paused | replace (cancel old, create new)",
    "other spec, not terminal | cancelled | cancel",
    "other spec, terminal | active / paused | create (the old job stays as history)",
    "any / none | cancelled | none",
}
RULES = {  # the rules beside the table (SPEC §3's "Also", the planner's docstring)
    "a job paused or pausing, wanted paused: none",
    "the newest job of a name is current (in the API's order within a second)",
    "older non-terminal jobs of the same name are duplicates: cancel",
    "managed jobs whose name no manifest declares are orphans: listed",
    "orphans with --prune: the non-terminal ones cancelled",
    "jobs of other stacks and unmanaged jobs are never touched",
    "--replace NAME: replace the current job even with the same spec",
    "user metadata that differs: a note, no action",
    "a local file not uploaded yet: one upload, before the creates that use it",
    "a local file uploaded already (same name and size, or the same bytes): no upload",
    "a local file is uploaded only for a create",
    "a status ftctl does not know: listed, never acted on",
    "pausing or resuming (Azure): left to get there",
    "a stage whose upstream is not ready: a blocked create, never executed",
    "a stage whose upstream is ready: created on its result (final, last, or a step's checkpoint)",
    "a stage whose upstream is retrained: its running job cancelled, its create waits",
    "a stage whose upstream was retrained: replaced once the new result is ready",
    "previous_names: a job of an old name is the manifest's own",
    "a manifest with an orphan's spec: renamed?",
    "a stage whose upstream has a gate: evaluated first; its verdict decides",
    "paths that leave manifests out: their jobs are neither planned nor orphans; a stage builds on them",
}
NOTHING = {"upload": 0, "cancel": 0, "replace": 0, "create": 0, "pause": 0, "resume": 0, "evaluate": 0}


def test_every_row_of_the_table_has_a_case() -> None:
    """Each case names the row (or rule) it shows; every row and rule is shown by at least one case."""
    rows = {path.name: json.loads(path.read_text()).get("row") for path in CASES}
    assert [name for name, row in rows.items() if row not in TABLE | RULES] == [], "cases naming no row"
    assert sorted((TABLE | RULES) - set(rows.values())) == [], "rows without a case"


def plan_of_case(case: dict[str, Any], listed: Callable[[], list[LiveFile]] | None = None) -> Plan:
    """The plan of a case's desired manifests and live jobs (the markdown structure test renders them all)."""
    desired = [desired_from_case(d) for d in case["desired"]]
    by_name = {d.name: d for d in desired}
    for job in case["live"]:
        spec = (job.get("metadata") or {}).get("ftctl-spec", "")
        if spec.startswith("resolved:"):
            job["metadata"]["ftctl-spec"] = by_name[job["metadata"]["ftctl-name"]].resolved(spec[9:]).spec
    jobs = [LiveJob.model_validate(j) for j in case["live"]]
    points = case.get("checkpoints", {})
    files = [LiveFile.model_validate(f) for f in case.get("files", [])]
    opts = case.get("options", {})
    elsewhere = [Declared(**e) for e in opts.get("elsewhere", [])]
    options = PlanOptions(prune=opts.get("prune", False), replace=sorted(opts.get("replace", [])),
                          partial=bool(elsewhere), elsewhere=elsewhere)
    verdicts = case.get("verdicts", {})
    return plan(desired, jobs, listed or (lambda: files), "default", options,
                checkpoints=lambda job_id: [LiveCheckpoint.model_validate(c) for c in points.get(job_id, [])],
                gates=lambda name, job: GateVerdict(**verdicts[job.id]) if job.id in verdicts else None)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_planner_case(path: Path) -> None:
    case: dict[str, Any] = json.loads(path.read_text())
    files = [LiveFile.model_validate(f) for f in case.get("files", [])]
    reads: list[int] = []

    def listed() -> list[LiveFile]:
        reads.append(1)
        return files

    result = plan_of_case(case, listed)
    # The file list is read once at most, and exactly when a new job uses a local file.
    uses_files = any(isinstance(a, CreateAction | ReplaceAction) and a.after.local_files() for a in result.actions)
    assert len(reads) == (1 if uses_files else 0)
    assert [[a.name, a.action, a.job_id] for a in result.actions] == case["expect"], case["description"]
    assert [o.job_id for o in result.orphans] == case.get("orphans", [])
    assert [f.name for f in result.failed] == case.get("failed", [])
    assert [n.name for n in result.notes] == case.get("notes", [])
    creates = {a.name: a for a in result.actions if isinstance(a, CreateAction | ReplaceAction)}
    assert sorted(n for n, a in creates.items() if a.then_pause) == sorted(case.get("then_pause", []))
    for name, previous in case.get("previous", {}).items():
        assert creates[name].previous_job_id == previous
    bodies = {}
    for name, action in creates.items():  # the body apply would send; files not yet uploaded as placeholders
        pending = {ref.sha256 or "": f"upload-of-{ref.sha256}" for ref in action.after.local_files()}
        bodies[name] = action.after.body(tags("default", name, action.spec), {**pending, **action.file_ids})
        assert bodies[name]["metadata"]["ftctl-stack"] == "default"  # every create carries the identity tags
        assert bodies[name]["metadata"]["ftctl-name"] == name
    for name, file_id in case.get("request_file", {}).items():
        assert bodies[name]["training_file"] == file_id
    for name, fragment in case.get("reason", {}).items():
        assert any(fragment in a.reason for a in result.actions if a.name == name)
    assert result.summary == {**NOTHING, **case["summary"]}
    blocked = {a.name: a.blocked_by.reason for a in result.actions if isinstance(a, CreateAction) and a.blocked_by}
    assert {n: r for n, r in blocked.items()} == {n: blocked.get(n, "") for n in case.get("blocked", {})}
    for name, fragment in case.get("blocked", {}).items():
        assert fragment in blocked[name], (name, blocked)
    for name, model in case.get("model", {}).items():
        assert creates[name].after.model == model and bodies[name]["model"] == model
    for name, note in case.get("noted", {}).items():
        assert [c.note for c in creates[name].changes if c.path == ("model",)] == [note]
