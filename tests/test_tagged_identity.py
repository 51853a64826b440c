"""Identity on a target that keeps no metadata (OPEA's finetuning service): the tags ride on each job's
training file name — named, read back, planned one upload per job, checked after each create — and
the OPEA dialect's translation of ftctl's requests. Targets that keep metadata plan as before."""

from __future__ import annotations

import pytest

from reconciler.api.errors import ApiError
from reconciler.api.models import LiveJob
from reconciler.api.opea import create_body, live_job
from reconciler.datasets.formats import check_lines
from reconciler.identity import parse_upload_name, tags
from reconciler.plan.model import CreateAction, UploadAction
from reconciler.plan.planner import plan
from reconciler.plan.roundtrip import dropped_fields
from reconciler.providers import COMPATIBLE, OPEA
from reconciler.providers.tagged_files import MAX_NAME, tagged_name, tags_of
from tests.builders import make_desired, no_files

SHA = "ab" * 32
SPEC = "v1-" + "0123456789abcdef" * 2


def test_a_tagged_name_reads_back_and_is_still_an_upload_name() -> None:
    name = tagged_name(SHA, "support-prod", "bot", SPEC)
    assert name == f"ftctl-{SHA}-support-prod.bot.{SPEC}.jsonl"
    assert tags_of(name) == (SHA, "support-prod", "bot", SPEC)
    assert parse_upload_name(name) == (SHA, f"support-prod.bot.{SPEC}.jsonl")  # its bytes known by their digest
    longest = tagged_name(SHA, "s" * 63, "n" * 63, SPEC)
    assert len(longest) == 240 <= MAX_NAME


@pytest.mark.parametrize("filename", [
    None, "mine.jsonl", f"ftctl-{SHA}-train.jsonl", f"ftctl-{SHA}-default.bot.jsonl",
    f"ftctl-{SHA}-default.bot.{SPEC}.json", f"ftctl-{SHA}-Default.bot.{SPEC}.jsonl",
    f"ftctl-{SHA}-default.bot.v1-xyz.jsonl", f"ftctl-{SHA[:-1]}-default.bot.{SPEC}.jsonl",
])
def test_any_other_file_name_carries_no_tags(filename: str | None) -> None:
    assert tags_of(filename) is None


def test_tags_that_would_not_read_back_are_refused() -> None:
    with pytest.raises(ValueError):
        tagged_name(SHA, "a.b", "bot", SPEC)


def test_on_a_target_without_metadata_each_create_gets_an_upload_of_its_own() -> None:
    a, b = make_desired("a", spec=None, local_file="c"), make_desired("b", spec=None, local_file="c")  # same bytes
    shared = plan([a, b], [], no_files, "default", provider=COMPATIBLE)
    assert [type(x).__name__ for x in shared.actions] == ["UploadAction", "CreateAction", "CreateAction"]
    assert shared.actions[0].file.upload_name is None  # type: ignore[union-attr]

    made = plan([a, b], [], no_files, "default", provider=OPEA)
    uploads = [x for x in made.actions if isinstance(x, UploadAction)]
    assert [(u.name, u.file.filename) for u in uploads] == [
        ("a", tagged_name(a.request.training_file.sha256 or "", "default", "a", a.spec)),
        ("b", tagged_name(b.request.training_file.sha256 or "", "default", "b", b.spec))]
    assert all(isinstance(x, CreateAction) and not x.file_ids for x in made.actions[2:])
    assert "keeps no metadata" in uploads[0].reason
    assert "upload_name" in uploads[0].model_dump(mode="json")["file"]
    assert "upload_name" not in shared.model_dump(mode="json")["actions"][0]["file"]  # written as before


def test_a_job_found_by_its_file_name_is_current_and_nothing_is_planned() -> None:
    d = make_desired("bot", spec=None, local_file="c")
    named = tagged_name(d.request.training_file.sha256 or "", "default", "bot", d.spec)
    job = live_job({"id": "ft-job-1", "created_at": 10, "model": "m", "training_file": named, "status": "running",
                    "hyperparameters": {"n_epochs": 1, "batch_size": 2, "learning_rate_multiplier": 5e-5}})
    assert job.tags == tags("default", "bot", d.spec) and job.request.method_type is None
    assert plan([d], [job], no_files, "default", provider=OPEA).actions == []
    theirs = live_job({"id": "ft-job-2", "created_at": 11, "model": "m", "training_file": "mine.jsonl",
                       "status": "running"})
    assert theirs.metadata is None and theirs.stack is None  # not ftctl's: never touched
    pruned = plan([], [job, theirs], no_files, "default", provider=OPEA)
    assert [n.job_id for n in pruned.orphans] == ["ft-job-1"]


def test_where_the_method_is_not_shown_the_round_trip_checks_the_tags_alone() -> None:
    wanted = tags("default", "bot", SPEC)
    shown = LiveJob(id="j", status="running", metadata=dict(wanted))
    assert dropped_fields(shown, wanted, "dpo", {"beta": 0.2}, echoes_method=False) == []
    assert dropped_fields(shown, wanted, "dpo", {"beta": 0.2}) == ["method"]
    assert dropped_fields(LiveJob(id="j", status="running"), wanted, "dpo", {}, echoes_method=False) == ["metadata"]


def test_an_opea_create_is_sent_in_its_own_words() -> None:
    body = {"model": "Qwen/Qwen2.5-3B", "training_file": "ftctl-x.jsonl", "seed": 7, "metadata": {"k": "v"},
            "method": {"type": "dpo", "dpo": {"hyperparameters": {"n_epochs": 2, "batch_size": "auto", "beta": 0.2}}}}
    assert create_body(body) == {"model": "Qwen/Qwen2.5-3B", "training_file": "ftctl-x.jsonl", "seed": "7",
                                 "General": {"task": "dpo"}, "Training": {"epochs": 2, "dpo_beta": 0.2}}
    plain = {"model": "m", "training_file": "f", "method": {"type": "supervised", "supervised": {}}}
    assert create_body(plain) == {"model": "m", "training_file": "f"}  # no hyperparameters: they crash it
    with pytest.raises(ApiError, match="takes no learning_rate_multiplier"):
        create_body({**plain, "method": {"type": "supervised", "supervised": {"hyperparameters": {
            "learning_rate_multiplier": 2}}}})
    with pytest.raises(ApiError, match="has no reinforcement fine-tuning"):
        create_body({**plain, "method": {"type": "reinforcement", "reinforcement": {}}})


@pytest.mark.parametrize(("fmt", "line", "problem"), [
    ("alpaca", b'{"instruction": "Hi?", "input": "", "output": "Hello."}', None),
    ("alpaca", b'{"instruction": "Hi?", "output": "Hello."}', 'needs a string "input"'),
    ("alpaca", b'{"instruction": " ", "input": "", "output": "Hello."}', '"instruction" is empty'),
    ("alpaca", b'{"messages": [{"role": "user", "content": "Hi?"}]}', 'needs a string "instruction"'),
    ("opea-preference", b'{"system": "", "question": "Q?", "chosen": "A.", "rejected": "B."}', None),
    ("opea-preference", b'{"question": "Q?", "chosen": "A.", "rejected": "B."}', 'needs a string "system"'),
])
def test_opeas_data_formats_are_checked_as_its_ray_job_reads_them(fmt: str, line: bytes, problem: str | None) -> None:
    report = check_lines([line] * 10, fmt)
    if problem is None:
        assert report.ok and report.examples == 10
    else:
        assert not report.ok and problem in str(report.errors[0].text())
