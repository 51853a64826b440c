"""Planning against a reader: the file list is read only when the plan asks about a file, and the
jobs can be read on a thread of their own (``Soon``) while the manifests become requests."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from reconciler.api.models import LiveFile
from reconciler.identity import tags, upload_filename
from reconciler.plan.facts import TargetInfo
from reconciler.plan.model import PlanOptions
from reconciler.providers import OPENAI
from reconciler.session.planning import PlanRequest, Soon, check_options, make_plan
from reconciler.session.settings import UsageProblem
from tests.builders import make_desired
from tests.fakes import FakeApi

TARGET = TargetInfo(provider="openai", api_base="https://api.example/v1")


class CountingApi(FakeApi):
    def __init__(self) -> None:
        super().__init__()
        self.file_lists = 0

    def list_files(self) -> list[LiveFile]:
        self.file_lists += 1
        return super().list_files()


def _current(api: FakeApi, name: str, spec: str, **more: Any) -> None:
    api.add_job(metadata=tags("default", name, spec), model="gpt-4o-mini-2024-07-18", **more)


def test_a_plan_with_nothing_to_create_does_not_read_the_files() -> None:
    api = CountingApi()
    up_to_date = make_desired("bot", spec=None, local_file="a")
    _current(api, "bot", up_to_date.spec)
    result = make_plan(api, [up_to_date], "default", PlanOptions(), TARGET, OPENAI)
    assert result.actions == [] and api.file_lists == 0


def test_a_create_of_a_local_file_reads_them_once_and_finds_the_upload() -> None:
    api = CountingApi()
    new = make_desired("bot", spec=None, local_file="a")
    ref = new.request.local_files()[0]
    api.files["file-up"] = {"id": "file-up", "object": "file", "bytes": ref.bytes, "created_at": 1,
                            "filename": upload_filename(ref.sha256 or "", "train.jsonl"), "purpose": "fine-tune",
                            "status": "processed"}
    result = make_plan(api, [new], "default", PlanOptions(), TARGET, OPENAI)
    assert api.file_lists == 1
    assert [a.action for a in result.actions] == ["create"]  # no upload: the file is there already
    assert result.actions[0].file_ids == {ref.sha256: "file-up"}  # type: ignore[union-attr]


def test_a_create_by_file_id_does_not_read_the_files() -> None:
    api = CountingApi()
    result = make_plan(api, [make_desired("bot", spec=None)], "default", PlanOptions(), TARGET, OPENAI)
    assert [a.action for a in result.actions] == ["create"] and api.file_lists == 0


def test_prune_without_manifests_is_refused() -> None:
    with pytest.raises(UsageProblem, match="--prune with no manifest"):
        check_options(PlanRequest(prune=True), set(), "default", [], Path("/project"))


def test_soon_gives_the_value_or_the_error_of_its_thread() -> None:
    names: list[str] = []

    def work(x: int) -> int:
        names.append(threading.current_thread().name)
        return x * 2

    assert Soon(work, 21).result() == 42
    assert names and names[0] != threading.current_thread().name

    def broken() -> None:
        raise ValueError("from the thread")

    with pytest.raises(ValueError, match="from the thread"):
        Soon(broken).result()


def test_soon_runs_on_a_daemon_thread() -> None:
    """A daemon: an interrupted run exits without waiting for the read to end."""
    release = threading.Event()
    started = threading.Event()

    def waits() -> None:
        started.set()
        release.wait(10)

    soon = Soon(waits)
    assert started.wait(5)
    busy = [t for t in threading.enumerate() if t.name == "ftctl-read" and t.is_alive()]
    assert busy and all(t.daemon for t in busy)
    release.set()
    soon.result()


@pytest.mark.parametrize(("partial", "message"), [(False, "no manifest declares this name"),
                                                  (True, "not among the given paths")])
def test_an_orphan_says_whether_its_manifest_may_only_be_left_out(partial: bool, message: str) -> None:
    api = CountingApi()
    _current(api, "elsewhere", "A")
    result = make_plan(api, [], "default", PlanOptions(partial=partial), TARGET, OPENAI)
    assert [(o.name, o.message) for o in result.orphans] == [("elsewhere", message)]
