"""Field diffs in the hard cases: what the API resolves, drops or no longer lists.

Live jobs come from the in-memory fake, which answers like the API (aliases and ``auto`` resolved,
a seed picked, no ``suffix`` echoed); the planner then explains a changed spec field by field.
"""

from __future__ import annotations

import pytest

from reconciler.identity import CreateRequest, Desired, tags
from reconciler.plan.diff import ABSENT, UNLISTED, UNREPORTED, _same
from reconciler.plan.model import Change, CreateAction, ReplaceAction
from reconciler.plan.planner import plan
from reconciler.plan.render import render_text
from tests.builders import make_desired, make_request, no_files
from tests.fakes import FakeApi


def _changes(api: FakeApi, old: CreateRequest, new: CreateRequest, file_ids: dict[str, str] | None = None,
             **job: object) -> list[Change]:
    before = make_desired("bot", spec=None, request=old)
    created = api.create_job(before.request.body(tags("default", "bot", before.spec), file_ids or {}), "k")
    api.jobs[created.id].update(job)
    after = make_desired("bot", spec=None, request=new)
    (action,) = [a for a in plan([after], api.list_jobs(), api.list_files, "default").actions
                 if isinstance(a, CreateAction | ReplaceAction)]
    return action.changes


def _lines(changes: list[Change]) -> list[tuple[str, object, object, str | None]]:
    return [(c.dotted, c.before, c.after, c.note) for c in changes]


def test_an_integer_becoming_a_float_is_shown_since_it_changes_the_hash() -> None:
    old = make_request(n_epochs=3).model_copy(update={"method": make_request().method.model_copy(
        update={"hyperparameters": {"learning_rate_multiplier": 2}})})
    new = old.model_copy(update={"method": old.method.model_copy(
        update={"hyperparameters": {"learning_rate_multiplier": 2.0}})})
    assert _lines(_changes(FakeApi(), old, new)) == [("method.hyperparameters.learning_rate_multiplier", 2, 2.0,
                                                     None)]


@pytest.mark.parametrize(("x", "y", "same"), [
    ({"a": 1, "b": [1, {"c": "x"}]}, {"b": [1, {"c": "x"}], "a": 1}, True),  # key order does not count
    (2, 2.0, False), (True, 1, False), (False, 0, False),  # hashed apart: "2" / "2.0", "true" / "1"
    ([1, 2], [2, 1], False), ([1], [1, 1], False), ({"a": 1}, {"a": 1, "b": None}, False),
    ({"a": [2]}, {"a": [2.0]}, False), (None, None, True), (ABSENT, ABSENT, True), (ABSENT, None, False),
])
def test_values_are_the_same_exactly_when_the_spec_hash_would_be(x: object, y: object, same: bool) -> None:
    assert _same(x, y) is same
    assert _same(y, x) is same


def test_a_model_alias_unknown_to_the_catalog_is_not_a_change() -> None:
    api = FakeApi()
    old = make_request(n_epochs=3, model="gpt-5-mini")
    new = make_request(n_epochs=4, model="gpt-5-mini")
    changes = _changes(api, old, new, model="gpt-5-mini-2025-08-07")  # the API resolved an alias ftctl lacks
    assert _lines(changes) == [("method.hyperparameters.n_epochs", 3, 4, None)]


def test_a_removed_suffix_the_api_does_not_report_is_listed_as_unknown() -> None:
    changes = _changes(FakeApi(), make_request(suffix="v1"), make_request())
    assert _lines(changes) == [("suffix", None, None, UNREPORTED)]
    text = render_text(plan([make_desired("x")], [], no_files, "default"))  # renders at all
    assert "Plan:" in text


def test_a_training_file_whose_old_upload_is_gone_is_listed_as_unknown() -> None:
    api = FakeApi()
    old = make_request("aa")
    new = make_request("bb")
    changes = _changes(api, old, new, file_ids={"a" * 64: "file-deleted"})  # never listed by the fake
    # No reading matches, so every field that cannot be read off the job is listed: one of them changed.
    assert _lines(changes) == [
        ("suffix", None, None, UNREPORTED),
        ("training_file", None, "manifests/data/train.jsonl (100 B, sha256 bbbbbbbbbbbb)", UNLISTED)]


def test_every_change_the_api_reports_is_exact_and_nothing_else_is_listed() -> None:
    wandb = [{"type": "wandb", "wandb": {"project": "a"}}]
    old = make_request(n_epochs=3, seed=1, integrations=wandb)
    new = make_request(n_epochs="auto", seed=2, integrations=[{"type": "wandb", "wandb": {"project": "b"}}])
    assert _lines(_changes(FakeApi(), old, new)) == [
        ("integrations[0].wandb.project", "a", "b", None),
        ("method.hyperparameters.n_epochs", 3, "auto", None),
        ("seed", 1, 2, None)]


def test_a_spec_line_is_never_alone_and_carries_its_reason() -> None:
    api = FakeApi()
    d = make_desired("bot", spec=None)
    job = api.create_job(d.request.body(tags("default", "bot", "v1-from-an-older-canonical-form"), {}), "k")
    result = plan([d], [job], no_files, "default")
    (action,) = result.actions
    assert isinstance(action, ReplaceAction)
    assert [c.dotted for c in action.changes] == ["suffix"]  # the one field that cannot be read off the job
    assert "~ suffix: (not reported by the API) → (absent)" in render_text(result)


def test_when_every_field_is_reported_and_none_differs_the_spec_line_says_why() -> None:
    d: Desired = make_desired("bot", spec=None, request=make_request(n_epochs=3, seed=5))
    api = FakeApi()
    job = api.create_job(d.request.body(tags("default", "bot", "v1-unmatchable"), {}), "k")
    api.jobs[job.id]["suffix"] = None  # reported: every field is known, and no reading matches
    (action,) = plan([d], [api.get_job(job.id)], no_files, "default").actions
    assert isinstance(action, ReplaceAction)
    assert _lines(action.changes) == [("spec", "v1-unmatchable", d.spec,
                                       "no field the API reports differs; the change is in one it does not report")]


def test_several_values_set_where_the_service_chose_are_one_line_each() -> None:
    old = make_request()  # everything auto
    new = old.model_copy(update={"method": old.method.model_copy(update={"hyperparameters": {
        "batch_size": 3, "learning_rate_multiplier": 2, "n_epochs": "auto"}})})
    assert _lines(_changes(FakeApi(), old, new)) == [
        ("method.hyperparameters.batch_size", "auto", 3, None),
        ("method.hyperparameters.learning_rate_multiplier", "auto", 2, None)]
