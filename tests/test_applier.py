"""The applier against the in-memory fake: ordering, re-reads, and creates that are never doubled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.api.client import ApiError
from reconciler.api.models import LiveJob
from reconciler.apply.applier import Applier, idempotency_key
from reconciler.identity import Desired
from reconciler.plan.planner import Options, plan
from tests.builders import make_desired
from tests.fakes import FakeApi


def run(api: FakeApi, desired: list[Desired], **kw: object) -> list[tuple[str, str, str]]:
    p = plan(desired, api.stack_jobs("default"), api.list_files(), "default", Options(**kw))  # type: ignore[arg-type]
    applier = Applier(api, api, "default", sleep=lambda s: None)  # type: ignore[arg-type]
    return [(r.name, r.action, r.outcome) for r in applier.apply(p)]


def names(api: FakeApi, name: str) -> list[str]:
    return [j.id for j in api.list_jobs({"ftctl-name": name})]


@pytest.mark.parametrize("fault", ["drop_after", "500", "drop_before", "429"])
def test_a_create_is_never_doubled_by_a_fault(fault: str) -> None:
    api = FakeApi()
    api.faults = [fault]
    results = run(api, [make_desired("bot")])
    assert results == [("bot", "create", "done")]
    assert len(names(api, "bot")) == 1


def test_create_after_lost_answer_is_recovered_by_tag_lookup() -> None:
    api = FakeApi()
    api.faults = ["drop_after"]
    run(api, [make_desired("bot")])
    creates = [w for w in api.writes if w[0] == "create"]
    assert creates == [("create", "bot")]  # the lookup found it: no second POST at all


def test_a_second_apply_does_nothing() -> None:
    api = FakeApi()
    desired = [make_desired("a"), make_desired("b", state="paused")]
    run(api, desired)
    writes = list(api.writes)
    assert run(api, desired) == []
    assert api.writes == writes


def test_stale_action_is_skipped_after_reread() -> None:
    api = FakeApi()
    job = api.add_job(metadata={"ftctl-stack": "default", "ftctl-name": "bot", "ftctl-spec": "A"})
    p = plan([make_desired("bot", state="cancelled")], api.stack_jobs("default"), [], "default")
    api.jobs[job]["status"] = "cancelled"  # someone else cancelled it after the plan
    results = Applier(api, api, "default", sleep=lambda s: None).apply(p)  # type: ignore[arg-type]
    assert [(r.action, r.outcome) for r in results] == [("cancel", "skipped")]
    assert not [w for w in api.writes if w[0] == "cancel"]


def test_replace_cancels_then_creates() -> None:
    api = FakeApi()
    old = api.add_job(metadata={"ftctl-stack": "default", "ftctl-name": "bot", "ftctl-spec": "OLD"})
    assert run(api, [make_desired("bot")]) == [("bot", "replace", "done")]
    assert api.jobs[old]["status"] == "cancelled"
    assert api.writes[0] == ("cancel", old) and api.writes[1] == ("create", "bot")


def test_pause_of_a_job_not_yet_running_is_deferred_without_wait() -> None:
    api = FakeApi(start_status="queued")
    results = run(api, [make_desired("bot", state="paused")])
    assert results == [("bot", "create", "deferred")]


class RefusesA(FakeApi):
    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob:
        if body["metadata"]["ftctl-name"] == "a":
            raise ApiError(400, "refused")
        return super().create_job(body, idempotency_key)


def test_a_failure_does_not_stop_independent_actions() -> None:
    api = RefusesA()
    results = run(api, [make_desired("a"), make_desired("b")])
    assert sorted((name, outcome) for name, _, outcome in results) == [("a", "failed"), ("b", "done")]
    assert names(api, "b") and not names(api, "a")


def test_uploads_come_first_and_feed_the_create(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_bytes(b"x" * 100)
    api = FakeApi()
    d = make_desired("bot", local_file="ab")
    object.__setattr__(d.files["training_file"], "path", data)
    results = run(api, [d])
    assert [r[1] for r in results] == ["upload", "create"]
    (job,) = api.list_jobs()
    assert job.training_file in api.files


def test_idempotency_key_depends_on_identity_and_generation() -> None:
    base = idempotency_key("s", "n", "v1-a", None)
    assert base == idempotency_key("s", "n", "v1-a", None)
    assert len({base, idempotency_key("s2", "n", "v1-a", None), idempotency_key("s", "n2", "v1-a", None),
                idempotency_key("s", "n", "v1-b", None), idempotency_key("s", "n", "v1-a", "ftjob-1")}) == 5
