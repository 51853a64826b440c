"""``ftctl port --to`` as data: each manifest under cases/port/ names its target (``# to:``), the day it
is ported on (``# today:``, default 2026-12-06) and every change it must be told (``# expect: LINE:
FIELD: fragment``), or ``# expect: runs as is``. Adding a case is adding a file."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from reconciler.providers import PROVIDERS
from reconciler.session.port import port
from reconciler.session.settings import build

CASES = Path(__file__).parent / "cases" / "port"
FILES = sorted(CASES.glob("*.yaml"))
KINDS = {"model": "model not offered", "method.type": "method not offered", "type": "grader type",
         "suffix": "suffix rules", "provider_options.azure.training_type": "training tier",
         "method.grader": "a grader the target cannot take", "state": "no pause there",
         "validation_file": "a field the target has no use for", "training_file": "no file ID where names are identity"}


def _header(path: Path, key: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in path.read_text().splitlines()
            if line.startswith(f"# {key}:")]


@pytest.mark.parametrize("case", FILES, ids=[f.stem for f in FILES])
def test_port_case(case: Path) -> None:
    today = (_header(case, "today") or ["2026-12-06"])[0]
    settings = build({"FTCTL_TODAY": today}, CASES, offline=True)
    assert settings.clock.today() == date.fromisoformat(today)
    (found,) = port([case], settings, PROVIDERS[_header(case, "to")[0]])
    expected = _header(case, "expect")
    if expected == ["runs as is"]:
        assert found.as_is, found.changes
        return
    got = [f"{where.rsplit(':', 1)[1]}: {field}: {message}" for where, field, message in found.changes]
    assert len(got) == len(expected), got
    for want, have in zip(sorted(expected), sorted(got), strict=True):
        assert have.startswith(want), (want, have)


def test_every_kind_of_change_has_a_case() -> None:
    fields = {line.split(": ")[1] for case in FILES for line in _header(case, "expect") if line != "runs as is"}
    covered = {kind for field, kind in KINDS.items() if any(f == field or f.endswith("." + field) for f in fields)}
    assert covered == set(KINDS.values())
    dated = [case for case in FILES if any("stopped" in line for line in _header(case, "expect"))]
    assert dated, "no case of a model whose training has ended"


def test_port_of_the_example_project_names_each_change_and_exits_1(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "reconciler", "port", "--to", "azure", "-o", "json"], cwd=root,
                          capture_output=True, text=True, timeout=60, env={"FTCTL_TODAY": "2026-12-06",
                                                                            "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    changes = {m["name"]: sorted(c["field"] for c in m["changes"]) for m in report["manifests"]}
    assert changes["ticket-triage"] == ["method.grader.graders.label_ok.type", "provider_options.azure.training_type"]
    assert all("provider_options.azure.training_type" in fields for fields in changes.values())
    assert not report["runs_as_is"]


def test_port_as_json_of_manifests_that_do_not_load_is_still_json(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "bot.yaml").write_text("name: bot\nmodel: gpt-4o-mini\ntraining_file: nope.jsonl\n"
                                       "method: {type: supervised}\n")
    done = subprocess.run([sys.executable, "-m", "reconciler", "port", "--to", "azure", "-o", "json", "bot.yaml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"FTCTL_TODAY": "2026-12-06", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["runs_as_is"] is False and report["manifests"] == []
    assert [(e["file"], e["line"], e["field"]) for e in report["errors"]] == [("bot.yaml", 3, "training_file")]


def test_port_exits_0_when_every_manifest_runs_as_it_is(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "bot.yaml").write_text("name: bot\nmodel: gpt-4.1-mini\ntraining_file: file-abc\n"
                                       "provider_options: {azure: {training_type: globalstandard}}\n")
    done = subprocess.run([sys.executable, "-m", "reconciler", "port", "--to", "azure", "bot.yaml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env={"FTCTL_TODAY": "2026-12-06", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("✓ bot (bot.yaml:1) runs as it is on Azure OpenAI")
    assert done.stdout.rstrip().endswith("\n\nThe manifest runs as it is on Azure OpenAI.")
