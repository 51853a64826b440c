"""Property: over random manifest sets and random live states, plan → apply → plan is empty.

Time passes in the fake (each read moves a new job one phase on) and apply runs with ``--wait``,
so a job that must be paused can be once it runs; without ``--wait`` such a pause is deferred
(tests/test_applier.py).
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.apply.applier import Applier
from reconciler.plan.planner import Options, plan
from tests.builders import make_desired
from tests.fakes import FakeApi

NAMES = ["a", "b", "c", "d"]
STATUSES = ["validating_files", "queued", "running", "paused", "succeeded", "failed", "cancelled"]

desired_sets = st.dictionaries(
    st.sampled_from(NAMES),
    st.tuples(st.sampled_from(["active", "paused", "cancelled"]), st.sampled_from(["A", "B"])),
    max_size=4)
live_jobs = st.lists(
    st.tuples(st.sampled_from([*NAMES, "orphan"]), st.sampled_from(["A", "B"]), st.sampled_from(STATUSES),
              st.sampled_from(["default", "other"])),
    max_size=8)
faults = st.lists(st.sampled_from(["500", "drop_before", "drop_after", "429"]), max_size=3)


@settings(max_examples=200, deadline=None)
@given(wanted=desired_sets, live=live_jobs, injected=faults, prune=st.booleans())
def test_apply_converges(wanted: dict[str, tuple[str, str]], live: list[tuple[str, str, str, str]],
                         injected: list[str], prune: bool) -> None:
    api = FakeApi(progress_on_read=True)
    for name, spec, status, stack in live:
        api.add_job(status=status, metadata={"ftctl-stack": stack, "ftctl-name": name, "ftctl-spec": spec})
    other_before = {j.id: j.status for j in api.list_jobs({"ftctl-stack": "other"})}
    desired = [make_desired(n, state=s, spec=spec) for n, (s, spec) in wanted.items()]
    options = Options(prune=prune)
    api.faults = list(injected)
    first = plan(desired, api.stack_jobs("default"), api.list_files(), "default", options)
    results = Applier(api, api, Path("/nonexistent"), wait=True, sleep=lambda s: None).apply(first)
    assert all(r.outcome != "failed" for r in results), results
    again = plan(desired, api.stack_jobs("default"), api.list_files(), "default", options)
    assert again.actions == [], [(a.name, a.action, a.reason) for a in again.actions]
    for name, (state, _) in wanted.items():  # never two live jobs for one name
        live_ones = [j for j in api.list_jobs({"ftctl-stack": "default", "ftctl-name": name}) if not j.terminal]
        assert len(live_ones) <= 1
        if state == "cancelled":
            assert live_ones == []
    assert {j.id: j.status for j in api.list_jobs({"ftctl-stack": "other"})} == other_before
