"""The CI examples (``examples/github-actions``, ``examples/gitlab-ci``) are valid YAML of the right
shape, and every ftctl command in them exists with the flags they give: parsed by the real CLI."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from reconciler.cli import cli
from tests.conftest import ROOT

GITHUB = ROOT / "examples" / "github-actions" / "ftctl.yml"
GITLAB = ROOT / "examples" / "gitlab-ci" / ".gitlab-ci.yml"
SCRIPT_KEYS = ("run", "script", "before_script")
COMMAND = re.compile(r"(?:^|[;&|(]\s*)ftctl\s+([^;&|>)\n]*)")


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _scripts(node: Any) -> list[str]:
    """The shell scripts: GitHub's ``run``, GitLab's ``script`` and ``before_script``."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (_strings(v) if k in SCRIPT_KEYS else _scripts(v))]
    if isinstance(node, list):
        return [s for v in node for s in _scripts(v)]
    return []


def commands_in(text: str) -> list[list[str]]:
    """The ``ftctl …`` command lines of a script, as argument lists."""
    return [shlex.split(m.group(1)) for line in text.splitlines() for m in COMMAND.finditer(line.strip())]


def commands(path: Path) -> list[list[str]]:
    """Every ``ftctl …`` command line in the file's scripts, as argument lists."""
    return [c for text in _scripts(yaml.safe_load(path.read_text())) for c in commands_in(text)]


def check(args: list[str]) -> click.Command:
    """Parse ``ftctl ARGS`` as the CLI would, without running it: an unknown command or flag raises."""
    ctx = cli.make_context("ftctl", list(args), resilient_parsing=False)
    with warnings.catch_warnings():  # click 8.2 keeps the subcommand in protected_args (args in click 9)
        warnings.simplefilter("ignore", DeprecationWarning)
        tokens = [*ctx.protected_args, *ctx.args]
    name, command, rest = cli.resolve_command(ctx, tokens)
    assert command is not None, args
    command.make_context(name or "", rest, parent=ctx)
    return command


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=["github", "gitlab"])
def test_every_ftctl_command_exists_with_its_flags(path: Path) -> None:
    found = commands(path)
    assert {c[0] for c in found} >= {"validate", "plan", "apply", "outputs"}
    for args in found:
        check(args)


def test_a_wrong_flag_would_be_caught() -> None:
    with pytest.raises(click.UsageError):
        check(["plan", "--detailed-exit-code"])
    with pytest.raises(click.UsageError):
        check(["deploy"])


def test_the_github_workflow_validates_plans_comments_applies_one_at_a_time_and_checks_drift() -> None:
    flow = yaml.safe_load(GITHUB.read_text())
    triggers = flow[True]  # YAML 1.1 reads the key `on` as true, as GitHub's own parser does not
    assert set(triggers) == {"pull_request", "push", "schedule", "workflow_dispatch"}
    assert triggers["push"]["branches"] == ["main"] and triggers["schedule"][0]["cron"]
    jobs = flow["jobs"]
    for job in jobs.values():
        assert job["runs-on"] and job["steps"]
    assert "ftctl validate -o github" in _strings(jobs["validate"])
    plan_text = "\n".join(_strings(jobs["plan"]))
    assert jobs["plan"]["permissions"]["pull-requests"] == "write"
    assert "plan -o markdown --detailed-exitcode" in plan_text
    assert "updateComment" in plan_text and "createComment" in plan_text  # one comment, updated in place
    assert jobs["apply"]["concurrency"] == {"group": "ftctl-apply", "cancel-in-progress": False}
    assert jobs["apply"]["if"] == "github.event_name == 'push'"
    assert "ftctl plan --detailed-exitcode" in "\n".join(_strings(jobs["drift"]))


def test_the_gitlab_pipeline_has_the_same_four_parts() -> None:
    pipeline = yaml.safe_load(GITLAB.read_text())
    assert pipeline["stages"] == ["validate", "plan", "apply"]
    assert pipeline["apply"]["resource_group"] == "ftctl-apply"
    assert any("schedule" in r["if"] for r in pipeline["drift"]["rules"])
    assert "PUT" in "\n".join(pipeline["plan"]["script"])  # the note is updated, not posted again


PINNED = re.compile(r"^\s*(?:-\s*)?uses:\s*([\w.-]+/[\w.-]+(?:/[\w.-]+)?)@([0-9a-f]{40})\s+#\s*v\d+\.\d+\.\d+\s*$")
API_COMMANDS = ("plan", "apply", "status", "wait", "logs", "outputs", "import", "eval", "metrics", "grade")
"""The ftctl commands that talk to an API, and so need the key."""


def _github() -> dict[str, Any]:
    return dict(yaml.safe_load(GITHUB.read_text()))


def test_every_action_is_pinned_to_a_commit_with_its_version_beside_it() -> None:
    lines = [line for line in GITHUB.read_text().splitlines() if re.match(r"^\s*(-\s*)?uses:", line)]
    assert len(lines) >= 10
    for line in lines:
        assert PINNED.match(line), f"not pinned to a commit, with its version in a comment: {line.strip()}"
    assert not PINNED.match("      - uses: actions/checkout@v4  # v4.4.0")


def test_checkouts_keep_no_credentials() -> None:
    checkouts = [step for job in _github()["jobs"].values() for step in job["steps"]
                 if step.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) == 4
    assert all(step["with"]["persist-credentials"] is False for step in checkouts)


def test_the_key_is_given_only_to_the_steps_that_call_the_api() -> None:
    flow = _github()
    assert "secrets." not in yaml.safe_dump(flow.get("env", {}))
    for name, job in flow["jobs"].items():
        assert "secrets." not in yaml.safe_dump({k: v for k, v in job.items() if k != "steps"}), name
        for step in job["steps"]:
            holds = "secrets." in yaml.safe_dump(step.get("env", {}))
            calls = any(c and c[0] in API_COMMANDS for c in commands_in(step.get("run", "")))
            assert holds == calls, f"{name}: {step.get('name') or step.get('run') or step.get('uses')}"
            assert "secrets." not in yaml.safe_dump({k: v for k, v in step.items() if k != "env"})


def test_apply_stops_waiting_before_its_job_is_stopped() -> None:
    from reconciler.session.settings import duration

    apply = _github()["jobs"]["apply"]
    (command,) = [c for step in apply["steps"] for c in commands_in(step.get("run", "")) if c[0] == "apply"]
    assert "--wait" in command
    waits = duration(command[command.index("--timeout") + 1])
    assert waits + 10 * 60 <= apply["timeout-minutes"] * 60 <= 360 * 60  # GitHub's hosted runners stop at 6 h
    gitlab = yaml.safe_load(GITLAB.read_text())["apply"]
    (command,) = [c for line in gitlab["script"] for c in commands_in(line) if c[0] == "apply"]
    assert duration(command[command.index("--timeout") + 1]) + 10 * 60 <= duration(gitlab["timeout"].replace(" ", ""))
    assert duration(gitlab["timeout"]) <= 3 * 3600  # GitLab.com's hosted runners stop at 3 h


def test_apply_and_the_drift_check_cannot_cancel_each_other_and_apply_is_never_cancelled() -> None:
    jobs = _github()["jobs"]
    apply, drift = jobs["apply"]["concurrency"], jobs["drift"]["concurrency"]
    assert apply["cancel-in-progress"] is False and drift["cancel-in-progress"] is False
    assert apply["group"] != drift["group"]  # a waiting run of a group is replaced by the next one of it
    assert "concurrency" not in _github()  # no workflow-wide group either
    pipeline = yaml.safe_load(GITLAB.read_text())
    assert pipeline["apply"]["interruptible"] is False
    assert pipeline["apply"]["resource_group"] != pipeline["drift"]["resource_group"]


def test_each_job_has_the_least_permissions() -> None:
    flow = _github()
    assert flow["permissions"] == {}
    read = {"contents": "read"}
    assert {name: job["permissions"] for name, job in flow["jobs"].items()} == {
        "validate": read, "plan": {**read, "pull-requests": "write"}, "apply": read, "drift": read}


def test_the_gitlab_example_says_what_a_protected_key_means_for_merge_requests() -> None:
    text = " ".join(line.lstrip("# ") for line in GITLAB.read_text().splitlines() if line.startswith("#"))
    assert "protected variable only to pipelines that run on protected branches and tags" in text
    assert "Merge-request pipelines are not among them" in text
    assert "NOT protected" in text and "Read Only" in text
    plan = yaml.safe_load(GITLAB.read_text())["plan"]
    assert plan["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event" && $FTCTL_PLAN_API_KEY'}]
    assert any('AZURE_OPENAI_API_KEY="$FTCTL_PLAN_API_KEY" ftctl plan' in line for line in plan["script"])


def _zizmor(workflow: Path, tmp_path: Path) -> list[dict[str, Any]]:
    """zizmor's findings on ``workflow``, offline: no request leaves the machine."""
    exe = Path(sys.executable).parent / "zizmor"
    found = str(exe) if exe.exists() else shutil.which("zizmor")
    assert found, "zizmor is one of the test extras: pip install -e '.[test]'"
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")}
    done = subprocess.run([found, "--offline", "--no-config", "--no-exit-codes", "--no-progress", "--color", "never",
                           "--cache-dir", str(tmp_path / "cache"), "--format", "json", str(workflow)],
                          capture_output=True, text=True, timeout=120, env={**env, "ZIZMOR_OFFLINE": "true"})
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_zizmor_finds_nothing_of_medium_or_high_severity_in_the_github_workflow(tmp_path: Path) -> None:
    serious = [(f["ident"], f["determinations"]["severity"], f["desc"]) for f in _zizmor(GITHUB, tmp_path)
               if f["determinations"]["severity"] in ("Medium", "High")]
    assert serious == []


def test_zizmor_would_catch_an_unpinned_action_that_keeps_its_credentials(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    text = re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v4", GITHUB.read_text())
    bad.write_text(text.replace("persist-credentials: false", "fetch-depth: 1"))
    found = {f["ident"] for f in _zizmor(bad, tmp_path) if f["determinations"]["severity"] in ("Medium", "High")}
    assert {"unpinned-uses", "artipacked"} <= found
