"""Adopted jobs compared field by field (SPEC §9): resolved values match what the manifest asked."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from reconciler.api.models import LiveFile, LiveJob, suffix_of
from reconciler.identity import UploadIndex, upload_filename
from reconciler.identity.request import MethodSpec
from reconciler.plan.pinned import differences
from reconciler.plan.planner import plan
from tests.builders import make_desired, make_request, no_files

GRADER = {"type": "string_check", "name": "g", "input": "{{sample.output_text}}", "reference": "{{item.a}}",
          "operation": "eq"}
LIVE: dict[str, Any] = {
    "id": "ftjob-theirs", "status": "running", "model": "gpt-4o-mini-2024-07-18", "training_file": "file-train",
    "seed": 7, "fine_tuned_model": None, "metadata": {"team": "x"},
    "method": {"type": "supervised", "supervised": {"hyperparameters": {
        "n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8}}},
}


def _live(**changes: Any) -> LiveJob:
    return LiveJob.model_validate({**LIVE, **changes})


@pytest.mark.parametrize(("request_fields", "live", "expected"), [
    ({}, {}, []),  # alias resolved, auto hyperparameters match what the service chose, no suffix
    ({"seed": 7, "n_epochs": 3}, {}, []),
    ({"n_epochs": 4}, {}, ["method.hyperparameters.n_epochs"]),
    ({"model": "gpt-4.1-mini"}, {}, ["model"]),
    ({"seed": 8}, {}, ["seed"]),
    ({"suffix": "bot"}, {"fine_tuned_model": "ft:gpt-4o-mini-2024-07-18:org:bot:abc"}, []),
    ({"suffix": "bot"}, {"fine_tuned_model": "ft:gpt-4o-mini-2024-07-18:org:other:abc"}, ["suffix"]),
    ({"suffix": "bot"}, {}, []),  # the API does not return a suffix: it cannot differ
    ({}, {"training_file": "file-other"}, ["training_file"]),
    ({}, {"metadata": {"team": "y"}}, ["metadata"]),
    ({}, {"integrations": [{"type": "wandb", "wandb": {"project": "p"}}]}, ["integrations"]),
    ({"integrations": [{"type": "wandb", "wandb": {"project": "p"}}]},
     {"integrations": [{"type": "wandb", "wandb": {"project": "p", "name": None, "entity": None, "tags": None}}]},
     []),  # the API shows unset fields as null
])
def test_differences(request_fields: dict[str, Any], live: dict[str, Any], expected: list[str]) -> None:
    n_epochs = request_fields.pop("n_epochs", "auto")
    desired = make_desired("a", request=make_request(metadata={"team": "x"}, n_epochs=n_epochs, **request_fields))
    assert differences(_live(**live), desired, UploadIndex([])) == expected


def test_a_grader_matches_when_the_live_one_holds_every_field_given() -> None:
    request = make_request(metadata={"team": "x"}).model_copy(update={"method": MethodSpec(
        type="reinforcement", hyperparameters={}, grader=GRADER)})
    desired = make_desired("a", request=request)
    live = {"type": "reinforcement", "reinforcement": {"hyperparameters": {}, "grader": {**GRADER, "extra": 1}}}
    assert differences(_live(method=live), desired, UploadIndex([])) == []
    live["reinforcement"]["grader"] = {**GRADER, "operation": "ne"}  # type: ignore[index]
    assert differences(_live(method=live), desired, UploadIndex([])) == ["method.grader"]


def test_a_local_file_matches_the_upload_of_its_bytes() -> None:
    desired = make_desired("a", request=make_request(local_file="ab", metadata={"team": "x"}))
    ref = desired.request.training_file
    upload = LiveFile(id="file-up", filename=upload_filename(ref.sha256 or "", "train.jsonl"), bytes=ref.bytes or 0,
                      purpose="fine-tune")
    assert differences(_live(training_file="file-up"), desired, UploadIndex([upload])) == []
    assert differences(_live(training_file="file-up"), desired, UploadIndex([])) == ["training_file"]


def test_suffix_of() -> None:
    assert suffix_of("ft:gpt-4o-mini-2024-07-18:org:support-v3:AbC") == "support-v3"
    assert suffix_of("ft:gpt-4o-mini-2024-07-18:org::AbC") is None
    assert suffix_of(None) is None


def test_an_adopted_job_is_acted_on_by_state_never_replaced_and_tagged_duplicates_are_cancelled() -> None:
    base = make_desired("a", spec=None, request=make_request(metadata={"team": "x"}, n_epochs=5))
    pinned = dataclasses.replace(base, job_id="ftjob-theirs", state="paused")
    tagged = LiveJob(id="ftjob-tagged", status="running", created_at=9,
                     metadata={"ftctl-stack": "s", "ftctl-name": "a", "ftctl-spec": base.spec})
    result = plan([pinned], [tagged], no_files, "s", pinned={"ftjob-theirs": _live()})
    assert [(a.action, a.job_id) for a in result.actions] == [("cancel", "ftjob-tagged"), ("pause", "ftjob-theirs")]
    assert [n.message.split(";")[0] for n in result.notes] == [
        "the adopted job differs from the manifest in method.hyperparameters.n_epochs"]
    assert not result.orphans
    assert {j.job_id for j in result.live.jobs} == {"ftjob-tagged", "ftjob-theirs"}


def test_adopted_jobs_are_shown_under_their_manifests_names_whether_listed_with_the_stack_or_not() -> None:
    from reconciler.session.jobs import with_pins
    from tests.fakes import FakeApi

    api = FakeApi()
    tagged = api.add_job(metadata={"ftctl-stack": "default", "ftctl-name": "old"})
    theirs = api.add_job(metadata={"team": "x"})
    jobs = with_pins(api, api.stack_jobs("default"), {"mine": tagged, "legacy": theirs, "lost": "ftjob-gone"})
    assert sorted((j.id, j.name) for j in jobs) == sorted([(tagged, "mine"), (theirs, "legacy")])


def test_an_imported_jobs_name_comes_from_the_one_reading_of_its_suffix() -> None:
    from reconciler.session.adopt import name_for

    azure = _live(id="ftjob-0a1b2c", metadata=None, user_provided_suffix="Geo_Bot",
                  fine_tuned_model="gpt-4o-mini-2024-07-18.ft-0a1b2c")  # Azure: no suffix in the model's name
    assert name_for(azure, set()) == "geo-bot"
    taken = {"support-v3"}
    openai = _live(metadata=None, fine_tuned_model="ft:gpt-4o-mini-2024-07-18:acme:support-v3:AbC123")
    assert name_for(openai, taken) == "support-v3-2"  # read from ft:BASE:ORG:SUFFIX:ID
    assert name_for(_live(id="ftjob-xyz", metadata=None, suffix=None, fine_tuned_model=None), set()) == "job-xyz"


def test_a_status_is_known_only_on_the_provider_that_has_it() -> None:
    from reconciler.plan.facts import status_class
    from reconciler.providers import AZURE, OPENAI
    from reconciler.session.adopt import state_of

    assert (status_class("pending", AZURE), status_class("pending", OPENAI)) == ("in-progress", "pending")
    assert (status_class("queued", OPENAI), status_class("running", OPENAI)) == ("in-progress", "in-progress")
    assert (state_of("pausing", AZURE), state_of("pausing", OPENAI)) == ("paused", "active")
    assert state_of("paused", OPENAI) == "paused"
