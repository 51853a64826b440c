"""Property: over random manifest sets and random live states, plan → apply → plan is empty.

Every status a provider knows is drawn (Azure's pending, pausing and resuming included), on a provider
that knows them all and on OpenAI, which does not have Azure's (they are then unknown: never acted
on); manifests may adopt an untagged job by ``job_id``, and ``state`` acts on it by the same rule as
on a tag-matched job. Time passes in the fake (each read of a job moves it one phase on) and apply
runs with ``--wait``, so a job that must be paused can be once it runs; without ``--wait`` such a
pause is deferred (tests/test_applier.py).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.apply.applier import Applier
from reconciler.clock import NO_WAIT
from reconciler.manifests.model import State
from reconciler.plan.model import PlanOptions
from reconciler.plan.planner import plan
from reconciler.providers import COMPATIBLE, OPENAI, Provider
from reconciler.providers.statuses import PHASES, TERMINAL
from tests.builders import make_desired
from tests.fakes import FakeApi

NAMES = ["a", "b", "c", "d"]
STATUSES = sorted(PHASES)
STATES: list[State] = ["active", "paused", "cancelled"]

desired_sets = st.dictionaries(
    st.sampled_from(NAMES),
    st.tuples(st.sampled_from(STATES), st.sampled_from(["A", "B"]), st.booleans()),  # (state, spec, adopts)
    max_size=4)
live_jobs = st.lists(
    st.tuples(st.sampled_from([*NAMES, "orphan"]), st.sampled_from(["A", "B"]), st.sampled_from(STATUSES),
              st.sampled_from(["default", "other"])),
    max_size=8)
faults = st.lists(st.sampled_from(["500", "drop_before", "drop_after", "429"]), max_size=3)


@settings(max_examples=250, deadline=None)
@given(wanted=desired_sets, live=live_jobs, adoptable=st.lists(st.sampled_from(STATUSES), min_size=4, max_size=4),
       injected=faults, prune=st.booleans(), provider=st.sampled_from([COMPATIBLE, OPENAI]))
def test_apply_converges(wanted: dict[str, tuple[State, str, bool]], live: list[tuple[str, str, str, str]],
                         adoptable: list[str], injected: list[str], prune: bool, provider: Provider) -> None:
    api = FakeApi(progress_on_read=True)
    for name, spec, status, stack in live:
        api.add_job(status=status, metadata={"ftctl-stack": stack, "ftctl-name": name, "ftctl-spec": spec})
    untagged = {name: api.add_job(status=status, metadata=None) for name, status in zip(NAMES, adoptable, strict=True)}
    other_before = {j.id: j.status for j in api.list_jobs({"ftctl-stack": "other"})}
    desired = [dataclasses.replace(make_desired(n, state=s, spec=spec), job_id=untagged[n] if adopts else None)
               for n, (s, spec, adopts) in wanted.items()]
    options = PlanOptions(prune=prune)

    def planned() -> list[tuple[str, str, str]]:
        pins = {j.id: j for j in api.list_jobs() if j.id in untagged.values()}
        made = plan(desired, api.stack_jobs("default"), api.list_files, "default", options, pins, provider)
        return [(a.name, a.action, a.reason) for a in made.actions]

    first = plan(desired, api.stack_jobs("default"), api.list_files, "default", options,
                 {j.id: j for j in api.list_jobs() if j.id in untagged.values()}, provider)
    api.faults = list(injected)
    results = Applier(api, api, Path("/nonexistent"), wait=True, clock=NO_WAIT, provider=provider).apply(first)
    assert all(r.outcome != "failed" for r in results), results
    deferred = [r for r in results if r.outcome == "deferred"]
    assert all("answer was lost" in r.detail for r in deferred), deferred  # with --wait, nothing else defers
    for _ in injected:  # a create sent without an answer and not listed: the next apply looks, then makes it
        if not deferred:  # once (each lost answer costs one apply, never a second job)
            break
        again = plan(desired, api.stack_jobs("default"), api.list_files, "default", options,
                     {j.id: j for j in api.list_jobs() if j.id in untagged.values()}, provider)
        results = Applier(api, api, Path("/nonexistent"), wait=True, clock=NO_WAIT, provider=provider).apply(again)
        assert all(r.outcome != "failed" for r in results), results
        deferred = [r for r in results if r.outcome == "deferred"]
        assert all("answer was lost" in r.detail for r in deferred), deferred
    assert not deferred, deferred
    assert planned() == []
    for name, (state, _, adopts) in wanted.items():  # the job is in the state its manifest asks for
        jobs = [api.jobs[untagged[name]]] if adopts else \
            sorted((j for j in api.jobs.values() if (j["metadata"] or {}).get("ftctl-name") == name
                    and j["metadata"]["ftctl-stack"] == "default"), key=lambda j: j["created_at"])[-1:]
        phase = provider.phase(jobs[0]["status"]) if jobs else None
        if state == "paused":  # nothing still running or about to run (resuming: on its way; asked again later)
            assert phase not in ("early", "running"), (name, jobs)
        elif state == "active":
            assert phase != "paused", (name, jobs)
        else:
            assert phase in (None, "succeeded", "failed", "cancelled", "unknown"), (name, jobs)
    for name, (state, _, adopts) in wanted.items():
        if adopts:  # an adopted job is never replaced, and no tagged job is made for it
            assert ("create", name) not in api.writes
            adopted = api.jobs[untagged[name]]["status"]
            if state == "cancelled" and provider.phase(adopted) != "unknown":
                assert adopted in TERMINAL
            continue
        live_ones = [j for j in api.list_jobs({"ftctl-stack": "default", "ftctl-name": name})
                     if provider.phase(j.status) not in ("succeeded", "failed", "cancelled", "unknown")]
        assert len(live_ones) <= 1  # never two live jobs for one name
        if state == "cancelled":
            assert live_ones == []
    assert {j.id: j.status for j in api.list_jobs({"ftctl-stack": "other"})} == other_before

