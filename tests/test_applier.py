"""The applier against the in-memory fake: ordering, re-reads, and creates that are never doubled."""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from reconciler.api.errors import ApiError
from reconciler.api.models import LiveFile, LiveJob
from reconciler.apply.applier import Applier, idempotency_key
from reconciler.clock import NO_WAIT, Clock
from reconciler.identity import Desired
from reconciler.plan.model import PlanOptions
from reconciler.plan.planner import plan
from tests.builders import make_desired, make_request, no_files
from tests.fakes import FakeApi


def applier(api: FakeApi, root: Path = Path("/nonexistent")) -> Applier:
    return Applier(api, api, root, clock=NO_WAIT)


def run(api: FakeApi, desired: list[Desired], root: Path = Path("/nonexistent"), prune: bool = False,
        replace: frozenset[str] = frozenset()) -> list[tuple[str, str, str]]:
    options = PlanOptions(prune=prune, replace=sorted(replace))
    p = plan(desired, api.stack_jobs("default"), api.list_files, "default", options)
    return [(r.name, r.action, r.outcome) for r in applier(api, root).apply(p)]


def names(api: FakeApi, name: str) -> list[str]:
    return [j.id for j in api.list_jobs({"ftctl-name": name})]


@pytest.mark.parametrize(("fault", "outcome"), [("drop_after", "done"), ("500", "done"), ("drop_before", "deferred"),
                                               ("429", "done")])
def test_a_create_is_never_doubled_by_a_fault(fault: str, outcome: str) -> None:
    api = FakeApi()
    api.faults = [fault]
    results = run(api, [make_desired("bot")])
    assert results == [("bot", "create", outcome)]
    assert len(names(api, "bot")) == (1 if outcome == "done" else 0)
    if outcome == "deferred":  # a lost answer not found by the look-up: the next apply makes it, once
        assert run(api, [make_desired("bot")]) == [("bot", "create", "done")]
        assert len(names(api, "bot")) == 1


def test_a_lost_answer_under_a_lagging_list_is_deferred_not_sent_again() -> None:
    api = FakeApi()
    api.honours_keys = False  # as OpenAI, which documents no Idempotency-Key
    api.faults = ["drop_after"]
    made = api.create_job  # the job just made is seen by ID but not yet listed

    def create_unlisted(body: dict[str, Any], key: str) -> LiveJob:
        try:
            return made(body, key)
        finally:
            api.unlisted.update(api.jobs)

    api.create_job = create_unlisted  # type: ignore[method-assign,assignment]
    results = applier(api).apply(plan([make_desired("bot")], [], no_files, "default"))
    assert [(r.name, r.outcome) for r in results] == [("bot", "deferred")]
    assert "the create's answer was lost" in results[0].detail and "the next plan looks for it" in results[0].detail
    assert [w for w in api.writes if w[0] == "create"] == [("create", "bot")]  # sent once
    api.unlisted.clear()  # the list has caught up: the next apply finds the job and makes nothing
    assert run(api, [make_desired("bot")]) == []
    assert len(api.jobs) == 1


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
    p = plan([make_desired("bot", state="cancelled")], api.stack_jobs("default"), no_files, "default")
    api.jobs[job]["status"] = "cancelled"  # someone else cancelled it after the plan
    results = applier(api).apply(p)
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


def _data(root: Path, content: bytes = b"x" * 100) -> Desired:
    """A desired job whose training file is written under ``root`` at the path make_request gives."""
    data = root / "manifests" / "data" / "train.jsonl"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_bytes(content)
    return make_desired("bot", spec=None, request=make_request(hashlib.sha256(content).hexdigest(),
                                                                size=len(content)))


def test_uploads_come_first_and_feed_the_create(tmp_path: Path) -> None:
    api = FakeApi()
    results = run(api, [_data(tmp_path)], root=tmp_path)
    assert [r[1] for r in results] == ["upload", "create"]
    (job,) = api.list_jobs()
    assert job.training_file in api.files


def test_a_replace_whose_upload_failed_leaves_the_live_job_running(tmp_path: Path) -> None:
    api = FakeApi()
    old = api.add_job(metadata={"ftctl-stack": "default", "ftctl-name": "bot", "ftctl-spec": "OLD"})
    d = _data(tmp_path)
    (tmp_path / "manifests" / "data" / "train.jsonl").write_bytes(b"y" * 100)  # edited after the plan
    results = run(api, [d], root=tmp_path)
    assert [(a, o) for _, a, o in results] == [("upload", "failed"), ("replace", "failed")]
    assert api.jobs[old]["status"] == "running" and api.files == {}
    assert not [w for w in api.writes if w[0] in ("cancel", "create")]


class UploadsAtOnce(FakeApi):
    """Another apply uploads the same bytes at the same moment, against an API that ignores
    ``Idempotency-Key``: its copy ``theirs`` lands just before this one's (``first``) or just after;
    ``same_second`` gives both copies one creation time, as the API counts in whole seconds."""

    def __init__(self, first: bool, same_second: bool = False, theirs: str = "file-theirs") -> None:
        super().__init__()
        self.first, self.same_second, self.theirs = first, same_second, theirs

    def upload(self, path: Path, filename: str, idempotency_key: str, sha256: str,
               progress: Any = None) -> LiveFile:
        if self.first:
            self._theirs(filename, path)
        ours = super().upload(path, filename, idempotency_key, sha256, progress)
        if not self.first:
            self._theirs(filename, path)
        if self.same_second:
            self.files[ours.id]["created_at"] = self.files[self.theirs]["created_at"]
            return LiveFile.model_validate(self.files[ours.id])
        return ours

    def _theirs(self, filename: str, path: Path) -> None:
        self.files[self.theirs] = {"id": self.theirs, "filename": filename, "bytes": path.stat().st_size,
                                   "purpose": "fine-tune", "created_at": next(self.clock)}


def deletes(api: FakeApi) -> list[tuple[str, str]]:
    return [w for w in api.writes if w[0] == "delete_file"]


@pytest.mark.parametrize("first", [True, False])
def test_uploads_of_the_same_bytes_at_once_settle_on_the_oldest(tmp_path: Path, first: bool) -> None:
    """Every run uses the oldest copy, and deletes its own strictly later copy before any job uses
    it; a copy it did not upload is never deleted (its uploader sees ours, the older, and deletes its own)."""
    api = UploadsAtOnce(first)
    upload, create = applier(api, tmp_path).apply(plan([_data(tmp_path)], [], api.list_files, "default"))
    (job,) = api.list_jobs()
    if first:
        assert upload.job_id == job.training_file == "file-theirs" and list(api.files) == ["file-theirs"]
        assert upload.detail.endswith("uploaded at the same time by another apply; this run's copy file-1 deleted")
        assert deletes(api) == [("delete_file", "file-1")]
    else:
        assert upload.job_id == job.training_file == "file-1" and sorted(api.files) == ["file-1", "file-theirs"]
        assert not deletes(api)
    assert create.outcome == "done"


@pytest.mark.parametrize(("theirs", "used"), [("file-0", "file-0"), ("file-9", "file-1")])
def test_copies_of_the_same_second_are_ordered_by_id_and_none_is_deleted(tmp_path: Path, theirs: str,
                                                                         used: str) -> None:
    """Within one second, the listing's order says nothing: every run takes the lowest id, and no
    run deletes its copy, which a run that listed before the other copy existed may be using."""
    api = UploadsAtOnce(first=True, same_second=True, theirs=theirs)
    upload, create = applier(api, tmp_path).apply(plan([_data(tmp_path)], [], api.list_files, "default"))
    (job,) = api.list_jobs()
    assert upload.job_id == job.training_file == used and sorted(api.files) == sorted(["file-1", theirs])
    assert not deletes(api) and create.outcome == "done"
    if used != "file-1":
        assert upload.detail.endswith("this run's copy file-1 left: made in the same second as file-0, another "
                                      "run may use it")


@pytest.mark.parametrize("fault", ["500", "drop_after"])
def test_a_failed_delete_of_a_surplus_copy_is_tried_again(tmp_path: Path, fault: str) -> None:
    api = UploadsAtOnce(first=True)
    api.faults = ["ok", fault]  # the upload goes through, its delete fails and is tried again
    results = applier(api, tmp_path).apply(plan([_data(tmp_path)], [], api.list_files, "default"))
    assert results[0].job_id == "file-theirs" and list(api.files) == ["file-theirs"]
    assert results[0].detail.endswith("this run's copy file-1 deleted")


class ListingLostAfterUpload(UploadsAtOnce):
    """The listing right after the upload gets no answer: the step is tried again."""

    def upload(self, path: Path, filename: str, idempotency_key: str, sha256: str,
               progress: Any = None) -> LiveFile:
        self.lose_listing = True
        return super().upload(path, filename, idempotency_key, sha256, progress)

    def list_files(self) -> list[LiveFile]:
        if getattr(self, "lose_listing", False):
            self.lose_listing = False
            raise ApiError(0, "connection dropped")
        return super().list_files()


def test_a_copy_uploaded_in_an_attempt_whose_listing_failed_is_still_accounted_for(tmp_path: Path) -> None:
    api = ListingLostAfterUpload(first=True)
    upload, _ = applier(api, tmp_path).apply(plan([_data(tmp_path)], [], api.list_files, "default"))
    assert upload.job_id == "file-theirs" and list(api.files) == ["file-theirs"]
    assert upload.detail.endswith("this run's copy file-1 deleted")


class DeleteRefused(UploadsAtOnce):
    def delete_file(self, file_id: str) -> None:
        raise ApiError(403, "deleting files is not allowed for this key")


def test_a_refused_delete_of_a_surplus_copy_leaves_it_and_the_upload_succeeds(tmp_path: Path) -> None:
    api = DeleteRefused(first=True)
    upload, create = applier(api, tmp_path).apply(plan([_data(tmp_path)], [], api.list_files, "default"))
    (job,) = api.list_jobs()
    assert (upload.outcome, upload.job_id, job.training_file) == ("done", "file-theirs", "file-theirs")
    assert upload.detail.endswith("this run's copy file-1 left: deleting it failed (HTTP 403: deleting files is "
                                  "not allowed for this key)")
    assert sorted(api.files) == ["file-1", "file-theirs"] and create.outcome == "done"


class PauseFails(FakeApi):
    def act(self, job_id: str, action: str) -> LiveJob:
        if action == "pause":
            raise ApiError(403, "pausing is not allowed")
        return super().act(job_id, action)


def test_a_created_job_whose_pause_fails_is_reported_with_its_id() -> None:
    api = PauseFails()
    p = plan([make_desired("bot", state="paused")], [], no_files, "default")
    (result,) = applier(api).apply(p)
    (job,) = api.list_jobs()
    assert (result.outcome, result.job_id) == ("failed", job.id)
    assert result.detail == f"created {job.id}; pausing it failed: HTTP 403: pausing is not allowed"


def test_idempotency_key_depends_on_identity_and_generation() -> None:
    base = idempotency_key("s", "n", "v1-a", None)
    assert base == idempotency_key("s", "n", "v1-a", None)
    assert len({base, idempotency_key("s2", "n", "v1-a", None), idempotency_key("s", "n2", "v1-a", None),
                idempotency_key("s", "n", "v1-b", None), idempotency_key("s", "n", "v1-a", "ftjob-1")}) == 5


class CrashesOnA(FakeApi):
    def act(self, job_id: str, action: str) -> LiveJob:
        if self.jobs[job_id]["metadata"]["ftctl-name"] == "a":
            raise RuntimeError("a bug in a step")
        return super().act(job_id, action)


def test_an_unexpected_exception_fails_its_step_and_keeps_the_others() -> None:
    api = CrashesOnA()
    for name in ("a", "b"):
        api.add_job(metadata={"ftctl-stack": "default", "ftctl-name": name, "ftctl-spec": "A"})
    p = plan([make_desired("a", state="cancelled"), make_desired("b", state="cancelled")],
             api.stack_jobs("default"), no_files, "default")
    results = {r.name: r for r in applier(api).apply(p)}
    assert results["a"].outcome == "failed" and "internal error: RuntimeError: a bug in a step" in results["a"].detail
    assert results["b"].outcome == "done"
    assert [w[0] for w in api.writes] == ["cancel"]


def test_a_lost_create_answer_is_retried_as_one_step_without_nested_retries() -> None:
    """Each attempt of a create step is: look the job up, then POST. Reads inside are not retried
    on their own, so a fault costs one attempt of the step, never attempts × attempts."""
    api = FakeApi()
    api.faults = ["500", "500", "500"]
    results = run(api, [make_desired("bot")])
    assert results == [("bot", "create", "done")]
    assert len(names(api, "bot")) == 1

    api = FakeApi()
    api.faults = ["500"] * 4  # as many faults as the policy has attempts: the step fails, nothing doubled
    results = run(api, [make_desired("bot")])
    assert results == [("bot", "create", "failed")]
    assert names(api, "bot") == []


class DropsFields(FakeApi):
    """A gateway that forwards only some fields: metadata and method never reach the service."""

    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob:
        forwarded = {k: v for k, v in body.items() if k not in ("metadata", "method")}
        return super().create_job({**forwarded, "metadata": {}, "method": {"type": "supervised"}},
                                  idempotency_key + str(len(self.jobs)))


def test_a_target_that_drops_fields_gets_no_lasting_job() -> None:
    api = DropsFields()
    desired = [make_desired(n, n_epochs=3) for n in ("a", "b", "c")]
    for _ in range(2):  # two applies: nothing is ever found again, nothing is left running
        results = Applier(api, api, Path("/nonexistent"), parallelism=1, clock=NO_WAIT).apply(
            plan(desired, api.stack_jobs("default"), no_files, "default"))
        assert [r.outcome for r in results] == ["failed", "failed", "failed"]
        assert "the target drops metadata, method.hyperparameters" in results[0].detail
        assert results[1].detail.startswith("not created: the target drops")
    statuses = [j["status"] for j in api.jobs.values()]
    assert statuses == ["cancelled", "cancelled"]  # one per apply, cancelled at once; none running


class Quota(FakeApi):
    def __init__(self, allowed: int) -> None:
        super().__init__()
        self.allowed = allowed

    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob:
        self.writes.append(("try", body["metadata"]["ftctl-name"]))
        active = [j for j in self.jobs.values() if j["status"] not in ("succeeded", "failed", "cancelled")]
        if len(active) >= self.allowed:
            raise ApiError(429, "too many active jobs", "fine_tuning_job_limit_exceeded", kind="quota")
        return super().create_job(body, idempotency_key)


def test_a_quota_refusal_defers_without_a_retry_storm() -> None:
    api = Quota(allowed=2)
    results = run(api, [make_desired(n) for n in "abcde"])
    assert sorted(o for _, _, o in results) == ["deferred"] * 3 + ["done"] * 2
    assert len([w for w in api.writes if w[0] == "try"]) == 5  # one try per create: never retried in a loop
    again = run(api, [make_desired(n) for n in "abcde"])  # the next plan shows them as creates still
    assert sorted(o for _, _, o in again) == ["deferred"] * 3


def test_max_active_jobs_keeps_the_stack_under_the_limit_and_wait_creates_the_rest() -> None:
    api = FakeApi()
    results = Applier(api, api, Path("/nonexistent"), clock=NO_WAIT, max_active=2, parallelism=1).apply(
        plan([make_desired(n) for n in "abcde"], [], no_files, "default"))
    assert [r.outcome for r in results] == ["done", "done", "deferred", "deferred", "deferred"]
    assert "--max-active-jobs is 2" in results[2].detail
    assert len(api.jobs) == 2

    finished = iter(range(100))

    def sleep(_: float) -> None:  # time passes: one running job finishes per wait
        running = [j for j in api.jobs.values() if j["status"] == "running"]
        if running:
            running[0]["status"] = "succeeded"
        next(finished)

    waited = Applier(api, api, Path("/nonexistent"), clock=Clock(sleep=sleep), max_active=2, wait=True,
                     parallelism=1).apply(
        plan([make_desired(n) for n in "abcde"], api.stack_jobs("default"), no_files, "default"))
    assert [r.outcome for r in waited] == ["done", "done", "done"]
    assert len(api.jobs) == 5


class WatchedCondition(threading.Condition):
    """A condition that tells when a thread waits on it: proof that the thread is blocked right there."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.entered.set()
        return super().wait(timeout)


class WatchedLock:
    """A lock that counts the acquires that had to wait for it: proof that threads are blocked right there."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counted = threading.Condition()
        self.blocked = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self.lock.acquire(blocking=False):
            return True
        with self.counted:
            self.blocked += 1
            self.counted.notify_all()
        return self.lock.acquire(blocking, timeout)

    def release(self) -> None:
        self.lock.release()

    def locked(self) -> bool:
        return self.lock.locked()

    def until_blocked(self, n: int) -> bool:
        """Whether ``n`` acquires have had to wait (within 5 s)."""
        with self.counted:
            return self.counted.wait_for(lambda: self.blocked >= n, 5)


def test_a_create_waits_for_creates_in_flight_before_it_is_deferred() -> None:
    from reconciler.apply.guards import Slots

    slots = Slots(set, 2, wait=False, deadline=0.0, clock=lambda: 0.0, sleep=lambda s: None,
                  limit_name="limits.max_active_jobs (ftctl.yaml)")
    slots.cond = WatchedCondition()
    assert slots.acquire() is None and slots.acquire() is None  # two creates in flight
    third: list[str | None] = []
    waiter = threading.Thread(target=lambda: third.append(slots.acquire()), daemon=True)
    waiter.start()
    assert slots.cond.entered.wait(5)  # it waits for the two: neither taken nor refused while they may fail
    assert third == [] and waiter.is_alive()
    slots.settle(None)  # the first failed: its slot is free again
    waiter.join(5)
    assert third == [None]
    slots.settle("ftjob-1")
    slots.settle("ftjob-2")  # two jobs active now, none in flight: the next is deferred at once
    assert slots.acquire() == ("2 of the stack's jobs are active and limits.max_active_jobs (ftctl.yaml) is 2: "
                               "a later apply creates it (or apply --wait)")


class FailsFor(FakeApi):
    def __init__(self, names: set[str]) -> None:
        super().__init__()
        self.names = names

    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob:
        if body["metadata"]["ftctl-name"] in self.names:
            time.sleep(0.1)  # the refusal comes late: the other creates are deciding meanwhile
            raise ApiError(400, "Unrecognized request argument supplied: trainingType", "unknown_parameter")
        return super().create_job(body, idempotency_key)


@pytest.mark.parametrize("parallelism", [1, 4])
def test_failed_creates_free_their_slots(parallelism: int) -> None:
    api = FailsFor({"a", "b"})
    results = Applier(api, api, Path("/nonexistent"), clock=NO_WAIT, max_active=2,
                      parallelism=parallelism).apply(plan([make_desired(n) for n in "abcd"], [], no_files, "default"))
    assert {r.name: r.outcome for r in results} == {"a": "failed", "b": "failed", "c": "done", "d": "done"}


def test_a_dropped_job_frees_its_slot_and_stops_the_creates_waiting_for_one() -> None:
    api = DropsFields()
    results = Applier(api, api, Path("/nonexistent"), clock=NO_WAIT, max_active=1, parallelism=3).apply(
        plan([make_desired(n, n_epochs=3) for n in "abc"], [], no_files, "default"))
    assert [r.outcome for r in results] == ["failed"] * 3
    assert sum("not created: the target drops" in r.detail for r in results) == 2
    assert [j["status"] for j in api.jobs.values()] == ["cancelled"]


def _running(api: FakeApi, name: str, spec: str = "old") -> str:
    return api.add_job(status="running", metadata={"ftctl-stack": "default", "ftctl-name": name, "ftctl-spec": spec})


def test_a_replace_without_a_slot_is_deferred_before_it_cancels_anything() -> None:
    api = FakeApi()
    for name in "abc":
        _running(api, name)
    wanted = [make_desired("a", spec="old"), make_desired("b", spec="old"), make_desired("c", spec="new")]
    results = Applier(api, api, Path("/nonexistent"), clock=NO_WAIT, max_active=2).apply(
        plan(wanted, api.stack_jobs("default"), no_files, "default"))
    assert [(r.action, r.outcome) for r in results] == [("replace", "deferred")]
    assert "3 of the stack's jobs" not in results[0].detail and "2 of the stack's jobs are active" in results[0].detail
    assert [j["status"] for j in api.jobs.values()] == ["running"] * 3  # the live job was not cancelled


@pytest.mark.parametrize("parallelism", [1, 2])
def test_a_replace_and_a_create_together_stay_under_the_limit(parallelism: int) -> None:
    api = FakeApi()
    _running(api, "a")
    wanted = [make_desired("a", spec="new"), make_desired("b", spec="new")]
    results = Applier(api, api, Path("/nonexistent"), clock=NO_WAIT, max_active=2,
                      parallelism=parallelism).apply(plan(wanted, api.stack_jobs("default"), no_files, "default"))
    assert sorted((r.action, r.outcome) for r in results) == [("create", "done"), ("replace", "done")]
    active = [j for j in api.jobs.values() if j["status"] not in ("cancelled", "succeeded", "failed")]
    assert len(active) == 2 and len(api.jobs) == 3


class DailyLimit(FakeApi):
    """Refuses every create until ``opens_at`` on the test's clock: no job has to finish first."""

    def __init__(self, clock: list[float], opens_at: float) -> None:
        super().__init__()
        self.now, self.opens_at = clock, opens_at

    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob:
        self.writes.append(("try", body["metadata"]["ftctl-name"]))
        if self.now[0] < self.opens_at:
            raise ApiError(429, "daily limit", "daily_rate_limit_exceeded", kind="quota")
        return super().create_job(body, idempotency_key)


@pytest.mark.parametrize(("opens_at", "outcome", "tries"), [(150.0, "done", 4), (10_000.0, "deferred", 5)])
def test_wait_tries_a_quota_refusal_again_now_and_then_until_the_timeout(opens_at: float, outcome: str,
                                                                        tries: int) -> None:
    now = [0.0]
    api = DailyLimit(now, opens_at)

    def sleep(seconds: float) -> None:
        now[0] += seconds

    results = Applier(api, api, Path("/nonexistent"), clock=Clock(monotonic=lambda: now[0], sleep=sleep), wait=True,
                      wait_timeout=300).apply(plan([make_desired("a")], [], no_files, "default"))
    assert [r.outcome for r in results] == [outcome]
    assert len([w for w in api.writes if w[0] == "try"]) == tries  # once a minute, not a storm
    if outcome == "deferred":
        assert results[0].detail.endswith(": --wait timed out") and now[0] <= 300 + 2


class Concurrent(FakeApi):
    """Another apply creates the same job just before this one's create lands."""

    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob:
        self.add_job(id="ftjob-theirs", status="validating_files", metadata=dict(body["metadata"]),
                     method=body["method"])
        return super().create_job(body, idempotency_key + "-ours")


def test_concurrent_applies_keep_the_newest_job_as_every_plan_does() -> None:
    api = Concurrent()
    results = applier(api).apply(plan([make_desired("a")], [], no_files, "default"))
    [result] = results
    assert result.outcome == "done" and result.job_id != "ftjob-theirs"
    assert result.detail.endswith("; ftjob-theirs, the same job created by a concurrent apply, cancelled")
    assert api.jobs["ftjob-theirs"]["status"] == "cancelled"
    assert api.jobs[result.job_id or ""]["status"] == "running"  # the fake starts jobs running
    assert run(api, [make_desired("a")]) == []  # the next plan takes the kept job as current: nothing to do


class DropsMethod(FakeApi):
    """A gateway that forwards the tags but not the method: every job trains supervised, with defaults."""

    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob:
        return super().create_job({**body, "method": {"type": "supervised"}}, idempotency_key)


def test_each_method_type_is_probed_alone_before_its_creates_run_side_by_side() -> None:
    from reconciler.identity import MethodSpec

    api = DropsMethod()
    applier = Applier(api, api, Path("/nonexistent"), parallelism=4, clock=NO_WAIT)
    supervised = applier.apply(plan([make_desired(f"sft{i}", spec=None) for i in range(3)], [], no_files, "default"))
    # all-auto supervised comes back as asked: its probe passes and the other two follow side by side
    assert {r.name: r.outcome for r in supervised} == {"sft0": "done", "sft1": "done", "sft2": "done"}
    dpo = make_request().model_copy(update={"method": MethodSpec(type="dpo", hyperparameters={"beta": 0.2})})
    preference = applier.apply(plan([make_desired(f"dpo{i}", spec=None, request=dpo) for i in range(3)], [],
                                    no_files, "default"))
    # supervised passing taught nothing about DPO: its first create went alone, came back without its
    # method, and no other was sent
    assert {r.name: r.outcome for r in preference} == {"dpo0": "failed", "dpo1": "failed", "dpo2": "failed"}
    dpo_jobs = [j for j in api.jobs.values() if j["metadata"]["ftctl-name"].startswith("dpo")]
    assert [j["status"] for j in dpo_jobs] == ["cancelled"]  # one DPO job spent, not three
    assert sum(1 for r in preference if r.detail.startswith("not created: the target drops")) == 2


def test_a_create_waiting_for_a_quota_lets_a_replace_take_the_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.apply.guards import Probe

    probe, order, lock = Probe(), [], WatchedLock()
    monkeypatch.setattr(probe, "lock", lock)

    def replace() -> None:
        with probe.first("supervised"):
            order.append("replace")

    with probe.first("supervised"):
        with probe.released():  # waiting for a quota teaches nothing: another create may probe meanwhile
            other = threading.Thread(target=replace, daemon=True)
            other.start()
            other.join(2)
        order.append("back")
    assert order == ["replace", "back"] and not probe.lock.locked()
    blocked = threading.Thread(target=replace, daemon=True)
    with probe.first("supervised"):  # not released: the other waits for the probe
        blocked.start()
        assert lock.until_blocked(1) and order == ["replace", "back"]
    blocked.join(5)
    assert order == ["replace", "back", "replace"]


def test_creates_that_waited_for_the_probe_go_side_by_side_once_it_passed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Creates queued behind the first of their kind must not then take the probe one after another
    (that made --parallelism 16 barely faster than 4)."""
    from reconciler.apply.guards import Probe

    probe, lock = Probe(), WatchedLock()
    monkeypatch.setattr(probe, "lock", lock)
    inside, most = [0], [0]
    guard = threading.Lock()
    release = threading.Event()

    def create() -> None:
        with probe.first("supervised"):
            with guard:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            release.wait(2)
            with guard:
                inside[0] -= 1

    with probe.first("supervised"):
        waiting = [threading.Thread(target=create, daemon=True) for _ in range(4)]
        for t in waiting:
            t.start()
        assert lock.until_blocked(4)  # all four queued behind the probe, not let through by the pass below
        probe.passed("supervised")
    deadline = time.monotonic() + 2
    while most[0] < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for t in waiting:
        t.join(2)
    assert most[0] == 4 and not probe.lock.locked()


class ActiveJobLimitAsRateLimit(FakeApi):
    """A service whose active-job limit answers a plain 429 ``rate_limit_exceeded``, whatever the wait."""

    def create_job(self, body: dict[str, Any], idempotency_key: str) -> LiveJob:
        self.writes.append(("try", body["metadata"]["ftctl-name"]))
        raise ApiError(429, "You have reached the maximum number of active fine-tuning jobs", "rate_limit_exceeded",
                       retry_after=0, kind="rate_limit")


def test_a_create_refused_with_429_past_the_retry_policy_is_deferred_not_failed() -> None:
    api = ActiveJobLimitAsRateLimit()
    results = applier(api).apply(plan([make_desired("a")], [], no_files, "default"))
    assert [(r.outcome, r.detail) for r in results] == [(
        "deferred", "refused with 429 after every retry (HTTP 429: You have reached the maximum number of active "
                    "fine-tuning jobs): a later apply creates it (or apply --wait)")]
    assert len([w for w in api.writes if w[0] == "try"]) == 4  # the retry policy's attempts, then no more
