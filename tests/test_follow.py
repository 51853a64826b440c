"""Following jobs (``wait``, ``apply --wait``) on the in-memory fake, with a clock that moves only
when the follower sleeps: what is shown and when, settling, time-outs and a flaky API."""

from __future__ import annotations

import pytest

from reconciler.api.errors import ApiError
from reconciler.api.models import LiveEvent, LiveJob
from reconciler.cli.watch import line
from reconciler.clock import Clock as RunClock
from reconciler.session.follow import Progress, follow, progress_of
from tests.fakes import FakeApi


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.on_sleep: list[object] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        if self.on_sleep:
            action = self.on_sleep.pop(0)
            if callable(action):
                action()


def _run(api: FakeApi, jobs: dict[str, str], clock: Clock, timeout: float = 100) -> tuple[list[Progress], object]:
    shown: list[Progress] = []
    outcome = follow(api, jobs, shown.append, timeout, interval=5,
                     clock=RunClock(monotonic=clock, sleep=clock.sleep, wall=clock))
    return shown, outcome


def test_each_change_is_shown_once_until_every_job_is_settled() -> None:
    api, clock = FakeApi(), Clock()
    a = api.add_job(status="queued", estimated_finish=500)
    b = api.add_job(status="running")
    api.add_event(b, "Step 1/10: training loss=2.0", step=1, total_steps=10, train_loss=2.0)

    def a_runs() -> None:
        api.jobs[a]["status"] = "running"
        api.add_event(a, "Step 5/20", step=5, total_steps=20, train_loss=1.25)
        api.add_event(a, "Checkpoint created at step 5")  # newer, but not a metrics event

    def both_end() -> None:
        api.jobs[a].update(status="succeeded", fine_tuned_model="ft:a")
        api.jobs[b].update(status="failed", error={"code": "invalid_training_file", "message": "bad line 3"})

    clock.on_sleep = [None, a_runs, None, both_end]
    shown, outcome = _run(api, {a: "alpha", b: "beta"}, clock)
    assert [(p.name, p.status, p.step) for p in shown] == [
        ("alpha", "queued", None), ("beta", "running", 1), ("alpha", "running", 5),
        ("alpha", "succeeded", 5), ("beta", "failed", 1)]
    assert shown[2].train_loss == 1.25 and shown[2].total_steps == 20 and shown[2].estimated_finish == 500
    assert shown[4].error == "bad line 3"
    assert not outcome.timed_out and not outcome.ok  # type: ignore[attr-defined]
    assert clock.now == 20  # four polls apart, then it stopped


def test_a_paused_job_is_settled_and_a_slow_one_times_out() -> None:
    api, clock = FakeApi(), Clock()
    paused, slow = api.add_job(status="paused"), api.add_job(status="running")
    shown, outcome = _run(api, {paused: "p", slow: "s"}, clock, timeout=12)
    assert outcome.timed_out and not outcome.ok  # type: ignore[attr-defined]
    assert [p.status for p in outcome.jobs] == ["paused", "running"]  # type: ignore[attr-defined]
    assert clock.now == 12  # the last sleep is cut to the deadline
    assert len(shown) == 2


def test_a_flaky_read_is_tried_again_at_the_next_poll_and_a_refusal_is_raised() -> None:
    api, clock = FakeApi(), Clock()
    job = api.add_job(status="running")
    real_get = api.get_job
    calls = {"n": 0}

    def flaky(job_id: str) -> LiveJob:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ApiError(503, "busy")
        return real_get(job_id)

    api.get_job = flaky  # type: ignore[method-assign]
    clock.on_sleep = [lambda: api.jobs[job].update(status="succeeded")]
    shown, outcome = _run(api, {job: "j"}, clock)
    assert outcome.ok and [p.status for p in shown] == ["succeeded"]  # type: ignore[attr-defined]

    def refused(job_id: str) -> LiveJob:
        raise ApiError(404, "no such job")

    api.get_job = refused  # type: ignore[method-assign]
    with pytest.raises(ApiError, match="no such job"):
        _run(api, {job: "j"}, Clock())


def test_progress_keeps_the_last_step_when_the_newest_events_have_none() -> None:
    job = LiveJob(id="ftjob-1", status="running", estimated_finish=1_000)
    first = progress_of("n", job, [LiveEvent(id="e1", type="metrics", data={"step": 7, "total_steps": 9,
                                                                          "train_loss": 0.5})])
    later = progress_of("n", job, [LiveEvent(id="e2", message="Checkpoint created")], first)
    assert (later.step, later.total_steps, later.train_loss) == (7, 9, 0.5)


@pytest.mark.parametrize(("progress", "text"), [
    (Progress("bot", "ftjob-1", "running", 1_200, 3_600, 0.81234, 1_000 + 190), "bot ftjob-1: running, "
     "step 1,200/3,600, train loss 0.8123, ETA 3m"),
    (Progress("bot", "ftjob-1", "queued"), "bot ftjob-1: queued"),
    (Progress("bot", "ftjob-1", "succeeded", 9, 9, 0.1, 900, "ft:gpt:x"), "bot ftjob-1: succeeded, step 9/9, "
     "train loss 0.1000, model ft:gpt:x"),
    (Progress("bot", "ftjob-1", "failed", error="invalid file"), "bot ftjob-1: failed: invalid file"),
])
def test_a_plain_line_per_change(progress: Progress, text: str) -> None:
    assert line(progress, now=1_000) == text
